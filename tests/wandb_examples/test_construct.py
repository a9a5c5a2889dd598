"""W&B's "Create an artifact" guide, ported as behaviour: ``Artifact``, ``add_file``,
``add_dir``, ``new_file``, ``add_reference``, ``add``, then ``log_artifact`` / ``save``."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire as wandb
from wandb_examples.helpers import paths, snapshot, tree, write


def test_an_artifact_made_in_a_run_is_read_back_with_its_fields() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact (the three steps)
    write("hello_world.txt", "hello world")
    with wandb.init(project="construct") as run:
        artifact = wandb.Artifact(
            name="greetings",
            type="dataset",
            description="the first greeting",
            metadata={"language": "en", "lines": 1},
        )
        artifact.add_file(local_path="hello_world.txt", name="optional-name")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("construct/greetings:latest")
    assert (got.name, got.type, got.version) == ("greetings:v0", "dataset", "v0")
    assert got.description == "the first greeting"
    assert got.metadata == {"language": "en", "lines": 1}
    assert paths(got) == ["optional-name"]
    assert tree(got.download()) == {"optional-name": b"hello world"}


def test_add_file_and_add_dir_place_files_as_the_guides_table_says() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("Add a single file", "Add multiple files")
    write("path/file.txt", "one")
    write("path/sub/deep.txt", "two")
    with wandb.init(project="construct") as run:
        artifact = wandb.Artifact("layout", type="dataset")
        artifact.add_file("path/file.txt")
        artifact.add_file("path/file.txt", name="new/path/file.txt")
        artifact.add_dir("path", name="destination")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("construct/layout:v0")
    assert paths(got) == ["destination/file.txt", "destination/sub/deep.txt", "file.txt", "new/path/file.txt"]

    with wandb.init(project="construct") as run:
        flat = wandb.Artifact("flat", type="dataset")
        flat.add_dir("path")  # the folder's content at the artifact's root
        run.log_artifact(flat)
    assert paths(wandb.Api().artifact("construct/flat:v0")) == ["file.txt", "sub/deep.txt"]


def test_new_file_writes_into_the_artifact() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("Add a new file": Artifact.new_file)
    with wandb.init(project="construct") as run:
        artifact = wandb.Artifact("written", type="dataset")
        with artifact.new_file("hello.txt", mode="w") as f:
            f.write("hello!")
        with artifact.new_file("nested/data.bin", mode="wb") as f:
            f.write(b"\x00\x01")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("construct/written:latest")
    assert tree(got.download()) == {"hello.txt": b"hello!", "nested/data.bin": b"\x00\x01"}


def test_a_uri_reference_is_logged_without_its_bytes_and_downloads_them() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("Add a URI reference")
    source = write("mount/labels.csv", "id,label\n1,cat\n").resolve()
    with wandb.init(project="construct") as run:
        artifact = wandb.Artifact("referenced", type="dataset")
        artifact.add_reference(source.as_uri())
        run.log_artifact(artifact)
    got = wandb.Api().artifact("construct/referenced:v0")
    assert paths(got) == ["labels.csv"]
    assert got.get_entry("labels.csv").ref == source.as_uri()
    assert tree(got.download()) == {"labels.csv": b"id,label\n1,cat\n"}


def test_a_table_is_added_as_an_object() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("Add a W&B object": Artifact.add)
    table = wandb.Table(columns=["id", "label"], data=[[0, "cat"], [1, "dog"]])
    with wandb.init(project="construct") as run:
        artifact = wandb.Artifact("with-table", type="dataset")
        artifact.add(table, "predictions")
        run.log_artifact(artifact)
    back = wandb.Api().artifact("construct/with-table:v0").get("predictions")
    assert back.columns == ["id", "label"]
    assert back.data == [[0, "cat"], [1, "dog"]]


def test_save_outside_a_run_logs_the_artifact() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.save: "a run is created if none is active")
    write("model.h5", b"weights")
    artifact = wandb.Artifact("saved-alone", type="model")
    artifact.add_file("model.h5")
    artifact.save()
    got = wandb.Api().artifact("saved-alone:latest")
    assert got.version == "v0" and "latest" in got.aliases
    assert tree(got.download()) == {"model.h5": b"weights"}


def test_log_artifact_of_a_path_names_it_after_the_run_and_the_file() -> None:
    # docs.wandb.ai/models/ref/python/experiments/run (Run.log_artifact: "a path to a file or directory")
    write("outputs/model.pt", b"pt")
    with wandb.init(project="construct") as run:
        logged = run.log_artifact("outputs/model.pt", type="model")
        run_id = run.id
    assert logged.name == f"run-{run_id}-model.pt:v0"
    assert wandb.Api().artifact(f"construct/run-{run_id}-model.pt:latest").type == "model"


def test_logging_the_same_files_again_makes_no_new_version() -> None:
    # docs.wandb.ai/models/artifacts/create-a-new-artifact-version ("if the contents do not change ... no new version")
    write("data.csv", "a,b\n")
    for _ in range(2):
        with wandb.init(project="construct") as run:
            artifact = wandb.Artifact("stable", type="dataset")
            artifact.add_file("data.csv")
            run.log_artifact(artifact)
    versions = wandb.Api().artifacts("dataset", "construct/stable")
    assert [v.version for v in versions] == ["v0"]


def test_an_artifact_name_w_and_b_refuses_is_refused_before_anything_is_written() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (name: letters, numbers, underscores, hyphens, dots)
    with pytest.raises(ValueError, match="bad/name"):
        wandb.Artifact("bad/name", type="dataset")
    assert not Path("artifacts").exists()


def test_add_file_of_a_missing_path_is_a_clear_error_and_logs_nothing() -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (add_file raises ValueError for a path that is not a file)
    with wandb.init(project="construct"):
        artifact = wandb.Artifact("incomplete", type="dataset")
        with pytest.raises(ValueError, match=r"missing\.txt"):
            artifact.add_file("missing.txt")
        assert paths(artifact) == []
    assert snapshot() == {}


def test_one_name_holds_one_type() -> None:
    # docs.wandb.ai/models/artifacts/construct-an-artifact ("Artifacts can't share the same name, even if ... types")
    write("cats.txt", "meow")
    with wandb.init(project="construct") as run:
        artifact = wandb.Artifact("cats", type="dataset")
        artifact.add_file("cats.txt")
        run.log_artifact(artifact)
    before = snapshot()
    write("model.bin", b"m")
    with wandb.init(project="construct") as run:
        other = wandb.Artifact("cats", type="model")
        other.add_file("model.bin")
        with pytest.raises(ValueError, match="cats"):
            run.log_artifact(other)
    assert snapshot() == before
