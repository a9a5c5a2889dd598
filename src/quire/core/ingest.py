"""Ingest: local files → manifest entries, each file read at most once.

``policy="mutable"`` writes the bytes into the blob store in the same pass as hashing
them, so later edits of the file cannot change what is logged and no second full copy is
left behind. ``policy="immutable"`` only hashes; the bytes are uploaded at commit (and
checked against the digest then). Either way the stat cache lets an unchanged file be
re-added with one ``stat``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import ValidationError
from ..store.blobs import BlobWriter, hash_file
from .manifest import Entry
from .names import check_path
from .statcache import StatCache

POLICIES = ("mutable", "immutable")


def check_policy(policy: str) -> str:
    """Return ``policy`` if it is one Quire knows."""
    if policy not in POLICIES:
        raise ValidationError(f"invalid policy {policy!r}: use 'mutable' or 'immutable'")
    return policy


def ingest_file(
    path: str | os.PathLike[str],
    logical: str,
    writer: BlobWriter | None,
    stat: StatCache,
    st: os.stat_result | None = None,
) -> Entry:
    """One file as an entry at ``logical``; stored now when ``writer`` is given."""
    st = st or os.stat(path)
    digest = stat.get(st)
    if writer is None:  # immutable: hash only
        if digest is None:
            digest, _ = hash_file(path)
            stat.put(st, digest)
        return Entry(logical, digest, st.st_size, local_path=os.fspath(path))
    if digest is not None and writer.holds(digest, st.st_size):
        return Entry(logical, digest, st.st_size, local_path=os.fspath(path))
    digest, size = writer.add_file(path)
    if size == st.st_size:  # it did not change while we read it
        stat.put(st, digest)
    return Entry(logical, digest, size, local_path=os.fspath(path))


def walk_files(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """``(relative posix path, dir entry)`` of every file below ``root``, sorted.

    Symlinks to files are followed; symlinks to folders are not (no cycles).
    """
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            items = sorted(it, key=lambda e: e.name)
        for item in reversed(items):
            rel = f"{prefix}{item.name}"
            if item.is_dir(follow_symlinks=False):
                stack.append((rel + "/", item.path))
        for item in items:
            if item.is_file():
                yield f"{prefix}{item.name}", item


def ingest_dir(
    root: Path, prefix: str | None, writer: BlobWriter | None, stat: StatCache
) -> list[Entry]:
    """Every file below ``root`` as entries under ``prefix`` (sorted by path)."""
    entries = []
    for rel, item in walk_files(root):
        logical = check_path(f"{prefix}/{rel}" if prefix else rel)
        entries.append(ingest_file(item.path, logical, writer, stat, item.stat()))
    stat.save()
    return entries
