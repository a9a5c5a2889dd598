"""W&B's "Delete an artifact" guide, ported as behaviour: one version, a version with
aliases, the versions a run logged, the versions without aliases, a whole collection."""

from __future__ import annotations

import pytest

import quire as wandb
from wandb_examples.helpers import snapshot, write


def _versions(n: int, name: str = "sweep-data", aliases: list[str] | None = None) -> list[str]:
    """``n`` versions of ``name`` in project ``deletes``, one run each; returns the run ids."""
    ids = []
    for i in range(n):
        write(f"part-{i}.csv", f"row {i}\n")
        with wandb.init(project="deletes") as run:
            artifact = wandb.Artifact(name, type="dataset")
            artifact.add_file(f"part-{i}.csv", name="data.csv")
            run.log_artifact(artifact, aliases=aliases if i == n - 1 else None)
            ids.append(run.id)
    return ids


def test_delete_one_version() -> None:
    # docs.wandb.ai/models/artifacts/delete-artifacts ("Delete a single artifact version")
    _versions(2)
    api = wandb.Api()
    artifact = api.artifact("my-entity/deletes/sweep-data:v0")
    artifact.delete()
    assert not api.artifact_exists("deletes/sweep-data:v0")
    assert api.artifact("deletes/sweep-data:latest").version == "v1"


def test_a_version_with_aliases_needs_delete_aliases() -> None:
    # docs.wandb.ai/models/artifacts/delete-artifacts ("Delete an artifact with multiple aliases")
    _versions(2, aliases=["production"])
    before = snapshot()
    artifact = wandb.Api().artifact("deletes/sweep-data:production")
    with pytest.raises(Exception, match="alias"):
        artifact.delete()
    assert snapshot() == before
    artifact.delete(delete_aliases=True)
    api = wandb.Api()
    assert not api.artifact_exists("deletes/sweep-data:v1")
    assert not api.artifact_exists("deletes/sweep-data:production")
    assert api.artifact_exists("deletes/sweep-data:v0")


def test_delete_every_version_a_run_logged() -> None:
    # docs.wandb.ai/models/artifacts/delete-artifacts ("Delete multiple artifact versions": run.logged_artifacts())
    ids = _versions(3)
    api = wandb.Api()
    run = api.run(f"my-entity/deletes/{ids[0]}")
    for artifact in run.logged_artifacts():
        artifact.delete()
    assert sorted(a.version for a in api.artifacts("dataset", "deletes/sweep-data")) == ["v1", "v2"]


def test_delete_the_versions_without_an_alias() -> None:
    # docs.wandb.ai/models/artifacts/delete-artifacts ("Delete all versions of an artifact that do not have an alias")
    _versions(4, aliases=["keep"])
    api = wandb.Api()
    for version in api.artifact_versions("dataset", "deletes/sweep-data"):
        if len(version.aliases) == 0:
            version.delete()
    (left,) = api.artifacts("dataset", "deletes/sweep-data")
    assert left.version == "v3" and sorted(left.aliases) == ["keep", "latest"]


def test_delete_a_collection() -> None:
    # docs.wandb.ai/models/artifacts/delete-artifacts ("Delete an artifact collection")
    _versions(2)
    _versions(1, name="other-data")
    api = wandb.Api()
    collection = api.artifact_collection("dataset", "my-entity/deletes/sweep-data")
    collection.delete()
    assert not api.artifact_collection_exists("deletes/sweep-data", "dataset")
    assert not api.artifact_exists("deletes/sweep-data:v0")
    assert api.artifact_exists("deletes/other-data:v0")


def test_deleting_twice_is_a_clear_error() -> None:
    # docs.wandb.ai/models/artifacts/delete-artifacts (a deleted version is gone)
    _versions(2)
    artifact = wandb.Api().artifact("deletes/sweep-data:v0")
    artifact.delete()
    before = snapshot()
    with pytest.raises(KeyError, match="sweep-data"):
        artifact.delete()
    assert snapshot() == before
