"""Helpers shared by the API tests (importable: pytest puts ``tests/`` on the path)."""

from __future__ import annotations

import os
from pathlib import Path

import blake3

import quire
from quire.store.blobs import SMALL


#: a version's files as the download tests log them: small ones in a folder tree, and one
#: above the pack threshold (a blob of its own)
LARGE = SMALL + 4321
DOWNLOAD_FILES = {"a.txt": b"alpha", "sub/b.txt": b"beta", "sub/deep/c.bin": b"\x00" * 300, "big.bin": b"L" * LARGE}


def log_download_files(tmp_path: Path) -> quire.Artifact:
    """:data:`DOWNLOAD_FILES` logged as p/data:v0 (from ``tmp_path/src``)."""
    log_files("data", DOWNLOAD_FILES, tmp_path / "src")
    return quire.Api().artifact("p/data:v0")


def digest(data: bytes) -> str:
    """BLAKE3 hex of ``data``, computed without Quire's own helpers."""
    return blake3.blake3(data).hexdigest()


def files_of(root: str | os.PathLike[str]) -> dict[str, bytes]:
    """Relative posix path → bytes of every file below ``root``."""
    base = Path(root)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path → bytes) below ``root``; returns ``root``."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def log_files(
    name: str, files: dict[str, bytes], src: Path, project: str = "p", type: str = "dataset",
    store: Path | None = None, **kwargs: object,
) -> quire.Artifact:
    """Log ``files`` (written below the fresh folder ``src``) as a version of ``name``, in a run of its own."""
    write_tree(src, files)
    with quire.init(project=project, store=store) as run:
        art = quire.Artifact(name, type)
        art.add_dir(src)
        return run.log_artifact(art, **kwargs)  # type: ignore[arg-type]


def stored_bytes(store_url: str) -> int:
    """Bytes the store's blob store holds (any kind of store; staging files excluded)."""
    from quire.store import open_store

    return sum(info.size for info in open_store(store_url).blobs.objects.list())
