"""Behaviour that wandb's own SDK tests pin for ``Artifact`` (wandb's
``tests/unit_tests/test_artifacts/test_wandb_artifacts.py``), ported as what a user of
``import quire as wandb`` sees: reserved types, names and paths refused, a draft's
logged-only fields and methods, the manifest's length, a ``Path`` download root."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import quire as wandb
from wandb_examples.helpers import snapshot, write


@pytest.mark.parametrize("reserved", ["job", "wandb-history", "wandb-foo"])
def test_types_w_and_b_reserves_are_refused(reserved: str) -> None:
    # wandb tests/unit_tests/test_artifacts/test_wandb_artifacts.py (invalid artifact type: "reserved for internal use")
    with pytest.raises(ValueError, match="reserved"):
        wandb.Artifact("foo", type=reserved)


@pytest.mark.parametrize("name", ["x" * 129, "team/name", "with space"])
def test_names_w_and_b_refuses_are_refused(name: str) -> None:
    # wandb tests/unit_tests/test_artifacts/test_wandb_artifacts.py (invalid artifact name: too long, or with "/")
    with pytest.raises(ValueError):
        wandb.Artifact(name, type="any")


@pytest.mark.parametrize("field", ["version", "created_at", "updated_at", "source_version", "ttl"])
def test_a_drafts_logged_only_fields_name_themselves(field: str) -> None:
    # wandb tests/unit_tests/test_artifacts/test_wandb_artifacts.py (unlogged artifact property errors name the field)
    draft = wandb.Artifact("foo", type="any")
    with pytest.raises(wandb.errors.ArtifactNotLoggedError, match=f"(?i){re.escape(field)}"):
        getattr(draft, field)


@pytest.mark.parametrize(
    "method", ["new_draft", "download", "checkout", "verify", "file", "delete", "used_by", "logged_by"]
)
def test_a_drafts_logged_only_methods_name_themselves(method: str) -> None:
    # wandb tests/unit_tests/test_artifacts/test_wandb_artifacts.py (unlogged artifact method errors name the method)
    draft = wandb.Artifact("foo", type="any")
    with pytest.raises(wandb.errors.ArtifactNotLoggedError, match=f"(?i){re.escape(method)}"):
        getattr(draft, method)()
    assert snapshot() == {}


def test_the_manifest_counts_files_and_references() -> None:
    # wandb tests/unit_tests/test_artifacts/test_wandb_artifacts.py (manifest length, nested new_file)
    artifact = wandb.Artifact("test-artifact", "test-type")
    assert len(artifact.manifest) == 0
    with artifact.new_file("nested/test.txt", "w") as f:
        f.write("test")
    assert len(artifact.manifest) == 1
    assert artifact.manifest.entries["nested/test.txt"].size == 4
    other = write("other.txt", "also a test")
    artifact.add_reference(other.resolve().as_uri(), "test2.txt")
    assert len(artifact.manifest) == 2


@pytest.mark.parametrize("bad_path", ["../test.txt", "/test.txt", r"C:\test.txt"])
def test_paths_outside_the_artifact_are_refused(bad_path: str) -> None:
    # wandb tests/unit_tests/test_artifacts/test_wandb_artifacts.py (add_file and new_file reject invalid paths)
    local = write("test.txt", "hello")
    artifact = wandb.Artifact("test-artifact", "test-type")
    with pytest.raises(ValueError, match="path"):
        artifact.add_file(str(local), name=bad_path)
    with pytest.raises(ValueError, match="path"):
        with artifact.new_file(bad_path, "w") as f:
            f.write("test")
    assert len(artifact.manifest) == 0


def test_download_to_a_pathlib_root(log_dataset) -> None:
    # wandb tests/unit_tests/test_artifacts/test_wandb_artifacts.py (download with a pathlib root)
    log_dataset("data", {"a.txt": b"a"})
    custom = Path("some/relative/path")
    root = wandb.Api().artifact("examples/data:v0").download(custom)
    assert isinstance(root, str)  # the root as given (W&B makes only its default root absolute)
    assert Path(root).parts[-len(custom.parts) :] == custom.parts
    assert (Path(root) / "a.txt").read_bytes() == b"a"
