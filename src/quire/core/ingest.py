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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ValidationError
from ..hashing import hash_file
from ..store.blobs import SMALL, BlobWriter
from . import progress
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
    digest: str | None = None,
) -> Entry:
    """One file as an entry at ``logical``; stored now when ``writer`` is given.

    ``st`` and ``digest`` are the file's stat and its stat-cache hit, when the caller
    looked them up already (in bulk).
    """
    if st is None:
        st = os.stat(path)
        digest = stat.get(st)
    local = os.fspath(path)
    if writer is None:  # immutable: hash only
        if digest is None:
            digest, _ = hash_file(local)
            stat.put(st, digest)
        progress.advance(st.st_size)
        return Entry(logical, digest, st.st_size, local_path=local)
    if digest is not None and writer.holds(digest, st.st_size):
        progress.advance(st.st_size)
        return Entry(logical, digest, st.st_size, local_path=local)
    # Reported as stored: half as read and hashed, half once durable (not at 100% while
    # a large file is still being fsynced or uploaded).
    digest, size = writer.add_file(local, size=st.st_size, report=progress.advance)
    if size == st.st_size:  # it did not change while we read it
        stat.put(st, digest)
    return Entry(logical, digest, size, local_path=local)


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


def ingest_dir(root: Path, prefix: str | None, writer: BlobWriter | None, stat: StatCache) -> list[Entry]:
    """Every file below ``root`` as entries under ``prefix`` (sorted by path).

    Large files are read in parallel threads: hashing, copying and fsync release the
    GIL, so their I/O overlaps. Small files go one by one into the writer's pack.
    """
    found = [(rel, item.path, item.stat()) for rel, item in walk_files(root)]
    known = stat.get_many([st for _, _, st in found])

    def one(i: int) -> Entry:
        rel, path, st = found[i]
        return ingest_file(path, check_path(f"{prefix}/{rel}" if prefix else rel), writer, stat, st, known[i])

    large = [i for i, (_, _, st) in enumerate(found) if st.st_size >= SMALL]
    entries: list[Entry | None] = [None] * len(found)
    # A remote store wants more files in flight (its latency, not a disk, is the limit).
    threads = writer.blobs.objects.capabilities.concurrency if writer else 4
    with ThreadPoolExecutor(max_workers=min(threads, len(large)) or 1) as pool:
        for i, entry in zip(large, pool.map(one, large), strict=True):
            entries[i] = entry
        for i, slot in enumerate(entries):
            if slot is None:
                entries[i] = one(i)
    stat.save()
    return entries  # type: ignore[return-value]
