"""Fixtures of the W&B example ports: a logged dataset and a local HTTP server.

Every module here does ``import quire as wandb`` and runs W&B's documented calls as
they are written; the autouse ``_isolated`` fixture (tests/conftest.py) gives each test
a fresh store, a clean environment and ``tmp_path/work`` as the working folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import quire as wandb
from wandb_examples.helpers import write


@pytest.fixture
def log_dataset() -> Callable[..., Any]:
    """``log_dataset(name, files, project="examples", aliases=None)``: log ``files``
    (path → bytes, written below ``./src-<name>``) as a ``dataset`` version in a run of
    its own; returns the run id."""

    def log(
        name: str,
        files: dict[str, bytes | str],
        project: str = "examples",
        type: str = "dataset",
        aliases: list[str] | None = None,
    ) -> str:
        root = Path(f"src-{name}")
        for rel, data in files.items():
            write(root / rel, data)
        with wandb.init(project=project, job_type="upload") as run:
            artifact = wandb.Artifact(name, type=type)
            artifact.add_dir(str(root))
            run.log_artifact(artifact, aliases=aliases)
            return run.id

    return log
