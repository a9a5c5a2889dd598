"""W&B's "Create a new artifact version" guide, ported as behaviour: ``new_draft()`` of
a logged version (inside and outside a run) and ``Artifact(..., incremental=True)``."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire as wandb
from wandb_examples.helpers import paths, snapshot, tree, write

START = {"images/0.png": b"a", "images/1.png": b"b", "dir_to_remove/old.txt": b"old", "keep.txt": b"keep"}


@pytest.fixture
def my_artifact(log_dataset) -> None:
    log_dataset("my_artifact", START, project="incremental")


def test_new_draft_in_a_run_adds_and_removes(my_artifact: None) -> None:
    # docs.wandb.ai/models/artifacts/create-a-new-artifact-version ("Incremental change: inside a run")
    write("file_to_add.txt", "new")
    with wandb.init(project="incremental", job_type="modify dataset") as run:
        saved_artifact = run.use_artifact("my_artifact:latest")
        draft_artifact = saved_artifact.new_draft()
        draft_artifact.add_file("file_to_add.txt")
        draft_artifact.remove("dir_to_remove/")
        run.log_artifact(draft_artifact)
    got = wandb.Api().artifact("incremental/my_artifact:latest")
    assert got.version == "v1"
    assert paths(got) == ["file_to_add.txt", "images/0.png", "images/1.png", "keep.txt"]
    assert paths(wandb.Api().artifact("incremental/my_artifact:v0")) == sorted(START)


def test_new_draft_outside_a_run(my_artifact: None) -> None:
    # docs.wandb.ai/models/artifacts/create-a-new-artifact-version ("Incremental change: outside of a run")
    write("file_to_add.txt", "new")
    client = wandb.Api()
    saved_artifact = client.artifact("my-entity/incremental/my_artifact:latest")
    draft_artifact = saved_artifact.new_draft()
    draft_artifact.add_file("file_to_add.txt")
    draft_artifact.remove("keep.txt")
    draft_artifact.save()
    got = wandb.Api().artifact("incremental/my_artifact:v1")
    assert "file_to_add.txt" in paths(got) and "keep.txt" not in paths(got)
    assert tree(got.download())["file_to_add.txt"] == b"new"


def test_an_incremental_artifact_adds_to_the_latest_version(my_artifact: None) -> None:
    # docs.wandb.ai/models/artifacts/create-a-new-artifact-version ("incremental=True": only the new files)
    write("image123.png", b"new image")
    with wandb.init(project="incremental") as run:
        artifact = wandb.Artifact("my_artifact", type="dataset", incremental=True)
        artifact.add_file("image123.png", name="images/123.png")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("incremental/my_artifact:latest")
    assert got.version == "v1"
    assert paths(got) == sorted([*START, "images/123.png"])


def test_remove_takes_a_path_object(my_artifact: None) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.remove(item: StrPath | ArtifactManifestEntry))
    with wandb.init(project="incremental") as run:
        draft = run.use_artifact("my_artifact:v0").new_draft()
        draft.remove(Path("images") / "0.png")
        run.log_artifact(draft)
    assert "images/0.png" not in paths(wandb.Api().artifact("incremental/my_artifact:v1"))


def test_removing_a_path_the_draft_does_not_hold(my_artifact: None) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (remove: FileNotFoundError if the item is not found)
    draft = wandb.Api().artifact("incremental/my_artifact:v0").new_draft()
    before = snapshot()
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        draft.remove("nope.txt")
    assert snapshot() == before
    assert paths(draft) == sorted(START)


def test_a_logged_version_cannot_change_its_files(my_artifact: None) -> None:
    # docs.wandb.ai/models/artifacts/create-a-new-artifact-version ("use new_draft() to change a logged artifact")
    write("extra.txt", "x")
    saved = wandb.Api().artifact("incremental/my_artifact:v0")
    before = snapshot()
    with pytest.raises(AttributeError, match="new_draft"):
        saved.add_file("extra.txt")
    assert snapshot() == before
