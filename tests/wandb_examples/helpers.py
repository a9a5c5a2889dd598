"""Helpers of the W&B example ports: write files, read a folder back, and a view of what
a store holds through the public API (to show that bad input leaves it unchanged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import quire as wandb


def write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` (relative to the working folder), making its folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def tree(root: str | Path) -> dict[str, bytes]:
    """Relative posix path → bytes of every file below ``root``."""
    base = Path(root)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def paths(artifact: Any) -> list[str]:
    """The paths an artifact holds, sorted, read through W&B's ``manifest.entries``."""
    return sorted(artifact.manifest.entries)


def snapshot() -> dict[str, Any]:
    """What the store shows through the public API: every version of every collection
    with its aliases, tags, description, metadata and paths (to compare before/after)."""
    api = wandb.Api()
    shown: dict[str, Any] = {}
    for project in api.projects():
        name = getattr(project, "name", project)
        for collection in api.artifact_collections(name):
            for version in collection.versions():
                shown[f"{name}/{version.name}"] = (
                    sorted(version.aliases),
                    sorted(version.tags),
                    version.description,
                    dict(version.metadata),
                    paths(version),
                )
    return shown
