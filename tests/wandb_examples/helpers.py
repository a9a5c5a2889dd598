"""Helpers of the W&B example ports: write files, read a folder back, and a view of what
a store holds (to show that bad input leaves it unchanged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quire.store import open_store


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
    """Everything the catalog holds about collections and versions (through the
    ``Catalog`` protocol's plain records, not the sdk under test): compare it before and
    after a call that must change nothing."""
    catalog = open_store().catalog
    shown: dict[str, Any] = {}
    for project in catalog.projects():
        project = getattr(project, "name", project)
        for c in catalog.collections(project):
            shown[f"{project}/{c.name}"] = (c.type, c.description, sorted(c.tags), c.ttl, c.id)
            for v in catalog.versions(project, c.name):
                shown[f"{project}/{c.name}:{v.version}"] = (
                    v.id,
                    v.digest,
                    v.root,
                    sorted(v.aliases),
                    sorted(v.tags),
                    v.description,
                    v.metadata,
                    v.ttl,
                    v.expires_at,
                    v.source_id,
                )
    return shown
