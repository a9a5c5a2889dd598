"""W&B's "Manage artifact data retention" (TTL) guide, ported as behaviour: ``ttl`` as a
``timedelta`` when logging and afterwards, ``None``, ``ArtifactTTL.INHERIT`` and a
collection's default, and ``Api().gc()`` / ``quire gc`` deleting expired versions, never
one a registry link points at."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

import quire as wandb
from quire.cli import app
from wandb_examples.helpers import snapshot, write


def _log(name: str, content: str, ttl: object = "unset") -> wandb.Artifact:
    write(f"{name}.txt", content)
    with wandb.init(project="ttl") as run:
        artifact = wandb.Artifact(name, type="dataset")
        artifact.add_file(f"{name}.txt")
        if ttl != "unset":
            artifact.ttl = ttl
        run.log_artifact(artifact)
    return artifact


def _wait_until_expired(address: str) -> None:
    """Poll until the version's TTL has run out (a TTL is counted from its creation)."""
    artifact = wandb.Api().artifact(address)
    created = datetime.fromisoformat(artifact.created_at.replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    while datetime.now(UTC) <= created + artifact.ttl:
        time.sleep(0.05)


def test_set_a_ttl_when_logging() -> None:
    # docs.wandb.ai/models/artifacts/ttl ("Set a TTL policy when you create an artifact")
    _log("pii-data", "rows", ttl=timedelta(days=30))
    assert wandb.Api().artifact("ttl/pii-data:latest").ttl == timedelta(days=30)


def test_edit_and_deactivate_a_ttl_after_logging() -> None:
    # docs.wandb.ai/models/artifacts/ttl ("Edit a TTL policy", "Deactivate a TTL policy")
    _log("pii-data", "rows")
    with wandb.init(project="ttl") as run:
        artifact = run.use_artifact("pii-data:latest")
        artifact.ttl = timedelta(days=365 * 2)
        artifact.save()
    assert wandb.Api().artifact("ttl/pii-data:v0").ttl == timedelta(days=730)
    artifact = wandb.Api().artifact("ttl/pii-data:v0")
    artifact.ttl = None
    artifact.save()
    assert wandb.Api().artifact("ttl/pii-data:v0").ttl is None


def test_inherit_takes_the_collection_default() -> None:
    # docs.wandb.ai/models/artifacts/ttl ("Inherit a TTL policy": ArtifactTTL.INHERIT)
    _log("pii-data", "first")
    collection = wandb.Api().artifact_collection("dataset", "ttl/pii-data")
    collection.ttl = timedelta(days=7)  # Quire's stand-in for W&B's team default
    collection.save()
    _log("pii-data", "second", ttl=wandb.ArtifactTTL.INHERIT)
    assert wandb.Api().artifact("ttl/pii-data:v1").ttl == timedelta(days=7)


def test_a_drafts_inherited_ttl_is_unknown_until_logged() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (ttl: ArtifactNotLoggedError before the artifact is logged)
    draft = wandb.Artifact("pii-data", type="dataset")
    with pytest.raises(wandb.errors.ArtifactNotLoggedError, match=r"(?i)ttl"):
        draft.ttl
    draft.ttl = timedelta(hours=1)
    assert draft.ttl == timedelta(hours=1)


def test_a_ttl_that_is_not_positive_is_refused() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (ttl: "a positive datetime.timedelta")
    _log("pii-data", "rows")
    before = snapshot()
    artifact = wandb.Api().artifact("ttl/pii-data:v0")
    with pytest.raises(ValueError, match="positive"):
        artifact.ttl = timedelta(seconds=-5)
        artifact.save()
    assert snapshot() == before
    assert wandb.Api().artifact("ttl/pii-data:v0").ttl is None


def test_api_gc_deletes_expired_versions_and_their_aliases() -> None:
    # docs.wandb.ai/models/artifacts/ttl ("Artifacts are deleted shortly after a TTL policy's duration passes")
    _log("pii-data", "short-lived", ttl=timedelta(seconds=1))
    write("kept.txt", "kept")
    with wandb.init(project="ttl") as run:
        other = wandb.Artifact("other-data", type="dataset")
        other.add_file("kept.txt")
        run.log_artifact(other, aliases=["stable"])
    _wait_until_expired("ttl/pii-data:v0")
    wandb.Api().gc()
    api = wandb.Api()
    assert not api.artifact_exists("ttl/pii-data:v0")
    assert not api.artifact_exists("ttl/pii-data:latest")
    assert api.artifact_exists("ttl/other-data:stable")


def test_quire_gc_deletes_expired_versions() -> None:
    # docs.wandb.ai/models/artifacts/ttl (expiry deletes the version; Quire's `quire gc` does it)
    _log("pii-data", "first", ttl=timedelta(seconds=1))
    _log("pii-data", "second")
    _wait_until_expired("ttl/pii-data:v0")
    result = CliRunner().invoke(app, ["gc"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    api = wandb.Api()
    assert [a.version for a in api.artifacts("dataset", "ttl/pii-data")] == ["v1"]


def test_gc_never_deletes_a_version_a_registry_link_points_at() -> None:
    # docs.wandb.ai/models/artifacts/ttl ("linked artifacts do not accidentally expire")
    artifact = _log("pii-data", "linked", ttl=timedelta(seconds=1))
    artifact.link("wandb-registry-dataset/approved")
    _wait_until_expired("ttl/pii-data:v0")
    wandb.Api().gc()
    assert wandb.Api().artifact_exists("ttl/pii-data:v0")
    assert wandb.Api().artifact("wandb-registry-dataset/approved:latest").source_version == "v0"


def test_a_ttl_on_a_link_is_refused() -> None:
    # docs.wandb.ai/models/artifacts/ttl ("W&B deactivates ... a TTL policy for artifacts linked to the Registry")
    artifact = _log("pii-data", "linked")
    linked = artifact.link("wandb-registry-dataset/approved")
    before = snapshot()
    with pytest.raises(ValueError, match="link"):
        linked.ttl = timedelta(days=1)
        linked.save()
    assert snapshot() == before
