"""W&B's "Download and use artifacts" guide, ported as behaviour: ``use_artifact``,
``download`` (whole, one entry, a path prefix), ``get_entry``, ``get_path``, ``file``,
``files``, and using an artifact that is constructed in the same run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import quire as wandb
from wandb_examples.helpers import paths, tree, write

BIKES = {
    "images/bikes/1.png": b"bike-1",
    "images/bikes/2.png": b"bike-2",
    "images/cars/1.png": b"car-1",
    "imx.txt": b"not an image folder",
    "labels.csv": b"id,label\n",
}


@pytest.fixture
def bikes(log_dataset) -> str:
    """``bike-dataset:v0`` in project ``examples``; returns the id of the run that logged it."""
    return log_dataset("bike-dataset", BIKES)


def test_use_artifact_then_download_in_a_run(bikes: str) -> None:
    # docs.wandb.ai/models/artifacts/download-and-use-an-artifact ("Download and use an artifact stored on W&B")
    with wandb.init(project="examples", job_type="train") as run:
        artifact = run.use_artifact("bike-dataset:latest")
        artifact_dir = artifact.download()
        consumer = run.id
    assert Path(artifact_dir).is_absolute()
    assert Path(artifact_dir) == Path.cwd() / "artifacts" / "bike-dataset:v0"
    assert tree(artifact_dir) == BIKES
    assert [r.id for r in wandb.Api().artifact("examples/bike-dataset:v0").used_by()] == [consumer]


def test_api_artifact_outside_a_run_with_entity_and_project(bikes: str, tmp_path: Path) -> None:
    # docs.wandb.ai/models/artifacts/download-and-use-an-artifact ("outside of a run": wandb.Api().artifact)
    api = wandb.Api()
    artifact = api.artifact("my-entity/examples/bike-dataset:latest")
    root = artifact.download(root=str(tmp_path / "bikes"))
    assert tree(root) == BIKES
    assert wandb.Api().artifact("examples/bike-dataset:v0").used_by() == []  # no run: no lineage


def test_download_one_file_with_get_entry_or_get_path(bikes: str) -> None:
    # docs.wandb.ai/models/artifacts/download-and-use-an-artifact ("Partially download an artifact")
    with wandb.init(project="examples") as run:
        artifact = run.use_artifact("bike-dataset:latest")
        one = artifact.get_entry("images/bikes/1.png").download()
        two = artifact.get_path("labels.csv").download()
    default_root = Path.cwd() / "artifacts" / "bike-dataset:v0"
    assert Path(one) == default_root / "images/bikes/1.png"
    assert Path(two) == default_root / "labels.csv"
    assert tree(default_root) == {"images/bikes/1.png": b"bike-1", "labels.csv": b"id,label\n"}


def test_download_a_path_prefix(bikes: str) -> None:
    # docs.wandb.ai/models/artifacts/download-and-use-an-artifact ("download ... a specific directory": path_prefix)
    artifact = wandb.Api().artifact("examples/bike-dataset:latest")
    root = artifact.download(path_prefix="images/bikes/")
    assert tree(root) == {"images/bikes/1.png": b"bike-1", "images/bikes/2.png": b"bike-2"}


def test_a_path_prefix_is_a_string_prefix_as_in_w_and_b(bikes: str, tmp_path: Path) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (download(path_prefix=): "files whose path starts with")
    root = wandb.Api().artifact("examples/bike-dataset:v0").download(str(tmp_path / "im"), path_prefix="im")
    assert sorted(tree(root)) == ["images/bikes/1.png", "images/bikes/2.png", "images/cars/1.png", "imx.txt"]


def test_file_of_a_one_file_artifact(log_dataset) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.file: "a single file artifact")
    log_dataset("weights", {"model.h5": b"w"})
    path = wandb.Api().artifact("examples/weights:latest").file()
    # W&B returns the default root as it builds it, relative ("./artifacts/<name>:<vN>/<path>",
    # wandb's Artifact.file and ArtifactManifestEntry.download): the same file as below cwd
    assert path == os.path.join(".", "artifacts", "weights:v0", "model.h5")
    assert Path(path).resolve() == Path.cwd().resolve() / "artifacts" / "weights:v0" / "model.h5"
    assert Path(path).read_bytes() == b"w"


def test_files_lists_entries_with_names_and_sizes(bikes: str) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.files: "iterate over all files")
    artifact = wandb.Api().artifact("examples/bike-dataset:v0")
    listed = {f.name: f.size for f in artifact.files()}
    assert listed == {path: len(data) for path, data in BIKES.items()}
    page = list(artifact.files(per_page=2))
    assert sorted(f.name for f in page) == sorted(BIKES)  # per_page pages, it does not truncate
    (only,) = artifact.files(names=["labels.csv"])
    assert (only.name, only.size) == ("labels.csv", len(BIKES["labels.csv"]))


def test_use_an_artifact_from_another_project(bikes: str) -> None:
    # docs.wandb.ai/models/artifacts/download-and-use-an-artifact ("Use an artifact from a different project")
    with wandb.init(project="another-project") as run:
        artifact = run.use_artifact("my-entity/examples/bike-dataset:v0")
        assert artifact.project == "examples"
        assert tree(artifact.download()) == BIKES
        consumer = run.id
    assert [r.id for r in wandb.Api().artifact("examples/bike-dataset:v0").used_by()] == [consumer]


def test_construct_and_use_an_artifact_at_once() -> None:
    # docs.wandb.ai/models/artifacts/download-and-use-an-artifact ("Construct and use an artifact simultaneously")
    write("model.h5", b"reference weights")
    with wandb.init(project="examples") as run:
        artifact = wandb.Artifact("reference-model", type="model")
        artifact.add_file("model.h5")
        used = run.use_artifact(artifact)
        consumer = run.id
    assert used.version == "v0"
    got = wandb.Api().artifact("examples/reference-model:latest")
    assert [r.id for r in got.used_by()] == [consumer]
    assert paths(got) == ["model.h5"]


def test_an_entry_that_is_not_there(bikes: str) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (get_entry raises KeyError; get returns None)
    artifact = wandb.Api().artifact("examples/bike-dataset:v0")
    with pytest.raises(KeyError, match=r"nope\.png"):
        artifact.get_entry("images/nope.png")
    assert artifact.get("no-such-object") is None
    assert not (Path.cwd() / "artifacts").exists()


def test_checkout_makes_the_folder_hold_exactly_the_artifact(bikes: str) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.checkout: default root without the version)
    artifact = wandb.Api().artifact("examples/bike-dataset:v0")
    stray = write(Path("artifacts") / "bike-dataset" / "stray.txt", "not in the artifact")
    root = artifact.checkout()
    assert Path(root) == Path.cwd() / "artifacts" / "bike-dataset"
    assert tree(root) == BIKES
    assert not stray.exists()


def test_verify_a_downloaded_folder(bikes: str) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (Artifact.verify: ValueError on a changed or extra file)
    artifact = wandb.Api().artifact("examples/bike-dataset:v0")
    root = Path(artifact.download())
    artifact.verify()
    (root / "labels.csv").unlink()  # saved anew, as an editor does (a download may be a read-only link)
    write(root / "labels.csv", "edited\n")
    with pytest.raises(ValueError, match=r"labels\.csv"):
        artifact.verify(str(root))
    artifact.download()
    write(root / "extra.txt", "extra")
    with pytest.raises(ValueError, match=r"extra\.txt"):
        artifact.verify(str(root))


def test_use_artifact_at_module_level(bikes: str) -> None:
    # docs.wandb.ai/models/ref/python/functions/use_artifact (wandb.use_artifact in the current run)
    with wandb.init(project="examples") as run:
        artifact = wandb.use_artifact("bike-dataset:v0")
        assert tree(artifact.download()) == BIKES
        consumer = run.id
    assert [r.id for r in wandb.Api().artifact("examples/bike-dataset:v0").used_by()] == [consumer]
