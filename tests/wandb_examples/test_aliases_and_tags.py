"""W&B's "Create an artifact alias" and "Create and manage artifact tags" guides,
ported as behaviour: aliases and tags when logging, added and removed afterwards, and
W&B's rules for their characters."""

from __future__ import annotations

import pytest

import quire as wandb
from wandb_examples.helpers import snapshot, write


def _log(name: str, content: str, **kwargs: object) -> None:
    write(f"{name}.txt", content)
    with wandb.init(project="aliases") as run:
        artifact = wandb.Artifact(name, type="model")
        artifact.add_file(f"{name}.txt")
        run.log_artifact(artifact, **kwargs)


def test_log_with_custom_aliases_and_fetch_by_alias() -> None:
    # docs.wandb.ai/models/artifacts/create-a-custom-alias ("aliases=[...] when you log")
    _log("classifier", "v0", aliases=["my-alias", "production"])
    got = wandb.Api().artifact("aliases/classifier:my-alias")
    assert got.version == "v0"
    assert sorted(got.aliases) == ["latest", "my-alias", "production"]


def test_latest_follows_the_newest_version_and_an_alias_names_one_version() -> None:
    # docs.wandb.ai/models/artifacts/create-a-custom-alias ("an alias ... points to one version")
    _log("classifier", "first", aliases=["best"])
    _log("classifier", "second", aliases=["best"])
    api = wandb.Api()
    assert api.artifact("aliases/classifier:latest").version == "v1"
    assert api.artifact("aliases/classifier:best").version == "v1"
    assert api.artifact("aliases/classifier:v0").aliases == []


def test_add_and_remove_an_alias_after_logging() -> None:
    # docs.wandb.ai/models/artifacts/create-a-custom-alias ("Add an alias to an existing artifact")
    _log("classifier", "first")
    _log("classifier", "second")
    artifact = wandb.Api().artifact("aliases/classifier:v0")
    artifact.aliases.append("stable")
    artifact.save()
    assert wandb.Api().artifact("aliases/classifier:stable").version == "v0"

    artifact = wandb.Api().artifact("aliases/classifier:stable")
    artifact.aliases.remove("stable")
    artifact.save()
    with pytest.raises(KeyError):
        wandb.Api().artifact("aliases/classifier:stable")


def test_an_alias_may_hold_spaces() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (aliases: "/" and ":" are refused, nothing else)
    _log("classifier", "v0", aliases=["release candidate"])
    assert wandb.Api().artifact("aliases/classifier:release candidate").version == "v0"


def test_an_alias_with_a_slash_is_refused_and_nothing_changes() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (aliases must not contain "/" or ":")
    _log("classifier", "v0")
    before = snapshot()
    artifact = wandb.Api().artifact("aliases/classifier:v0")
    artifact.aliases.append("team/prod")
    with pytest.raises(ValueError, match="/"):
        artifact.save()
    assert snapshot() == before


def test_tags_when_logging_and_afterwards() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.tags: set, append, remove, then save)
    _log("classifier", "v0", tags=["baseline"])
    artifact = wandb.Api().artifact("aliases/classifier:latest")
    assert artifact.tags == ["baseline"]
    artifact.tags.append("reviewed by team")  # words separated by spaces are one tag
    artifact.save()
    artifact = wandb.Api().artifact("aliases/classifier:latest")
    assert sorted(artifact.tags) == ["baseline", "reviewed by team"]
    artifact.tags.remove("baseline")
    artifact.save()
    assert wandb.Api().artifact("aliases/classifier:v0").tags == ["reviewed by team"]


def test_find_versions_by_tag() -> None:
    # docs.wandb.ai/models/ref/python/public-api/api (Api.artifacts(type_name, name, tags=))
    _log("classifier", "first", tags=["baseline"])
    _log("classifier", "second", tags=["candidate"])
    _log("classifier", "third", tags=["candidate"])
    found = wandb.Api().artifacts(type_name="model", name="aliases/classifier", tags=["candidate"])
    assert sorted(a.version for a in found) == ["v1", "v2"]


def test_a_tag_w_and_b_refuses_is_refused_and_nothing_changes() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (tags: letters, digits, hyphens, underscores, spaces)
    _log("classifier", "v0")
    before = snapshot()
    artifact = wandb.Api().artifact("aliases/classifier:v0")
    artifact.tags.append("bad:tag")
    with pytest.raises(ValueError, match="tag"):
        artifact.save()
    assert snapshot() == before
