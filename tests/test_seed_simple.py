"""The seed's simple-mode snippets, run unchanged with ``import quire as wandb``."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire as wandb

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3


def test_simple_mode_inside_a_run(tmp_path: Path) -> None:
    Path("image1.png").write_bytes(b"\x89PNG fake image one")

    with wandb.init() as run:
        artifact = wandb.Artifact("artifact_name", "artifact_type")
        # Add files and assets with .add, .add_file, .add_dir and .add_reference
        artifact.add_file("image1.png")
        run.log_artifact(artifact)

    got = wandb.Api().artifact("artifact_name:latest")
    assert got.version == "v0"
    assert got.type == "artifact_type"
    assert sorted(got.manifest.entries) == ["image1.png"]
    root = Path(got.download(tmp_path / "out"))
    assert (root / "image1.png").read_bytes() == b"\x89PNG fake image one"
    assert got.logged_by().id == run.id
    assert got.logged_by().state == "finished"


def test_simple_mode_without_a_run(tmp_path: Path) -> None:
    Path("image1.png").write_bytes(b"\x89PNG fake image one")

    artifact = wandb.Artifact("artifact_name", "artifact_type")
    artifact.add_file("image1.png")
    artifact.save()

    assert artifact.version == "v0"
    assert "latest" in artifact.aliases
    assert wandb.Api().artifact("uncategorized/artifact_name:v0").digest == artifact.digest
    assert artifact.logged_by() is not None
