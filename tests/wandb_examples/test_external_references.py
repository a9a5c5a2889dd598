"""W&B's "Track external files" guide, ported as behaviour with ``file://`` and
``http://`` references (``s3://`` needs a service: see tests/test_references_s3.py):
entries that point at bytes kept elsewhere, downloads that fetch and check them."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire as wandb
from wandb_examples.helpers import paths, snapshot, tree, write

MNIST = {"train/0.png": b"zero", "train/1.png": b"one", "test/2.png": b"two"}


@pytest.fixture
def mount(tmp_path: Path) -> Path:
    """A dataset on a shared filesystem (a folder outside the working folder)."""
    root = tmp_path / "mount" / "datasets" / "mnist"
    for rel, data in MNIST.items():
        write(root / rel, data)
    return root


def test_reference_a_folder_on_a_filesystem(mount: Path, tmp_path: Path) -> None:
    # docs.wandb.ai/models/artifacts/track-external-files ("Track artifacts in filesystems")
    with wandb.init(project="refs") as run:
        artifact = wandb.Artifact("mnist", type="dataset")
        artifact.add_reference(mount.as_uri())
        run.log_artifact(artifact)
    got = wandb.Api().artifact("refs/mnist:latest")
    assert paths(got) == sorted(MNIST)
    entry = got.get_entry("train/0.png")
    assert entry.ref_target() == (mount / "train/0.png").as_uri()
    assert tree(got.download(str(tmp_path / "copy"))) == MNIST


def test_reference_under_a_name_and_a_single_file(mount: Path) -> None:
    # docs.wandb.ai/models/artifacts/track-external-files (add_reference(uri, name=...))
    with wandb.init(project="refs") as run:
        artifact = wandb.Artifact("mnist", type="dataset")
        artifact.add_reference(mount.as_uri(), name="mnist")
        artifact.add_reference((mount / "test/2.png").as_uri(), name="holdout.png")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("refs/mnist:v0")
    assert paths(got) == ["holdout.png"] + [f"mnist/{p}" for p in sorted(MNIST)]
    assert got.get_entry("holdout.png").size == len(b"two")


def test_a_changed_reference_is_not_delivered(mount: Path, tmp_path: Path) -> None:
    # docs.wandb.ai/models/artifacts/track-external-files (a reference's checksum is checked on download)
    with wandb.init(project="refs") as run:
        artifact = wandb.Artifact("mnist", type="dataset")
        artifact.add_reference(mount.as_uri())
        run.log_artifact(artifact)
    (mount / "train/0.png").write_bytes(b"changed meanwhile")
    with pytest.raises(ValueError, match=r"0\.png"):
        wandb.Api().artifact("refs/mnist:v0").download(str(tmp_path / "out"))
    assert not (tmp_path / "out" / "train" / "0.png").exists()


def test_a_reference_to_nothing_is_refused(tmp_path: Path) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (add_reference of a path that is not a file or folder)
    artifact = wandb.Artifact("mnist", type="dataset")
    with pytest.raises(ValueError, match="nowhere"):
        artifact.add_reference((tmp_path / "nowhere").as_uri())
    assert paths(artifact) == []


def test_max_objects_bounds_a_folder_reference(mount: Path) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (add_reference(max_objects=): exceeding it is an error)
    artifact = wandb.Artifact("mnist", type="dataset")
    with pytest.raises(ValueError, match="max_objects"):
        artifact.add_reference(mount.as_uri(), max_objects=2)
    assert paths(artifact) == []
    assert snapshot() == {}


def test_reference_a_file_served_over_http(http_root: tuple[Path, str], tmp_path: Path) -> None:
    # docs.wandb.ai/models/artifacts/track-external-files ("Other references": http(s) URLs)
    served, base = http_root
    write(served / "labels.csv", "id,label\n1,cat\n")
    with wandb.init(project="refs") as run:
        artifact = wandb.Artifact("labels", type="dataset")
        artifact.add_reference(f"{base}/labels.csv")
        run.log_artifact(artifact)
    got = wandb.Api().artifact("refs/labels:v0")
    assert got.get_entry("labels.csv").ref_target() == f"{base}/labels.csv"
    assert tree(got.download(str(tmp_path / "labels"))) == {"labels.csv": b"id,label\n1,cat\n"}


def test_reference_an_entry_of_another_artifact(log_dataset, tmp_path: Path) -> None:
    # docs.wandb.ai/models/ref/python/experiments/artifact (entry.ref_url(), then derived.add_reference(ref_url))
    log_dataset("source", {"file.txt": b"shared bytes"}, project="refs")
    source = wandb.Api().artifact("refs/source:v0")
    ref_url = source.get_entry("file.txt").ref_url()
    assert ref_url.startswith("wandb-artifact://")
    with wandb.init(project="refs") as run:
        derived = wandb.Artifact("derived", type="dataset")
        derived.add_reference(ref_url)
        run.log_artifact(derived)
    got = wandb.Api().artifact("refs/derived:v0")
    assert tree(got.download(str(tmp_path / "derived"))) == {"file.txt": b"shared bytes"}
