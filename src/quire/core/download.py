"""Download a version's files into a folder, read a few of them from the cache in place,
and check a folder against a manifest."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError, ValidationError
from ..files import discard, replace, temp_name
from ..hashing import hash_file
from ..store.blobs import BlobStore
from . import progress
from .cache import Cache
from .manifest import Entry, Manifest, check_manifest_path, safe_target
from .references import fetch_reference
from .targets import make_folders


def download(
    blobs: BlobStore,
    cache: Cache,
    entries: Sequence[Entry],
    root: Path,
    allow_missing_references: bool = False,
) -> Path:
    """Place ``entries`` (of one manifest: all of it, a prefix's, or one) below ``root``."""
    with paused_gc():
        return _download(blobs, cache, entries, root, allow_missing_references)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection in the block: a large version's entries are tens of
    thousands of objects without cycles, and Python's collector, triggered by their
    count, spent a quarter of a 20,000-file download scanning them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _download(
    blobs: BlobStore,
    cache: Cache,
    entries: Sequence[Entry],
    root: Path,
    allow_missing_references: bool,
) -> Path:
    base = os.fspath(root)
    targets = [(e, f"{base}/{check_manifest_path(e.path, root)}") for e in entries]  # refuse before writing
    # real folders, no symlink followed; rpartition: a third of dirname's cost, 20,000 times
    make_folders(base, {t.rpartition("/")[0] for _, t in targets})
    cache.place(blobs, [(e.digest, e.size or 0, t) for e, t in targets if e.stored])
    for entry, target in targets:
        if not entry.stored:
            _fetch(entry, Path(target), allow_missing_references)
            progress.advance(entry.size or 0)
    return root


def cached_files(blobs: BlobStore, cache: Cache, entries: Sequence[Entry]) -> list[Path]:
    """The cached file of each entry, fetching what the cache lacks; no folder is made.

    For readers that open a few files of a version in place (a table, the parts of a
    partitioned table): the cached files are read-only and shared, so never edit them.
    """
    references = [e.path for e in entries if not e.stored]
    if references:
        raise ValidationError(f"{references[0]!r} is a reference, not stored bytes; download() the version to read it")
    paths = cache.fill(blobs, {e.digest: e.size or 0 for e in entries})
    return [paths[e.digest] for e in entries]


def named_files(cache: Cache, view: str, entries: Sequence[Entry], files: list[Path]) -> list[Path]:
    """Symlinks to cached ``files`` named by their entries' paths, in the cache's folder
    ``views/<view>``: readers that go by file name (Ray Data wants ``.parquet``) can then
    open the cached bytes in place. A view is a few links, made again if a link is stale.
    """
    root = cache.root / "views" / view
    links = []
    for entry, file in zip(entries, files, strict=True):
        link = safe_target(root, entry.path)
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            current: str | None = os.readlink(link)
        except OSError:  # absent (removed meanwhile, perhaps), or not a link
            current = None
        if current != str(file):
            tmp = temp_name(link)
            os.symlink(file, tmp)
            try:
                replace(tmp, link, durable=False)  # atomic: a concurrent reader sees the old link or the new
            except BaseException:
                discard(tmp)
                raise
        links.append(link)
    return links


def _fetch(entry: Entry, target: Path, allow_missing: bool) -> None:
    try:
        fetch_reference(entry, target)
    except StoreError:
        if not allow_missing:
            raise


def files_below(root: Path) -> list[str]:
    """The posix paths, relative to ``root``, of every file below it."""
    return [Path(dirpath, name).relative_to(root).as_posix() for dirpath, _, names in os.walk(root) for name in names]


def verify(manifest: Manifest, root: Path) -> None:
    """Raise ``ValidationError`` unless ``root`` holds exactly the manifest's files."""
    problems, paths = [], set()
    for entry in manifest:
        paths.add(entry.path)
        target = safe_target(root, entry.path)
        if not target.is_file():
            problems.append(f"missing: {entry.path}")
        elif entry.size is not None and "etag" not in entry.extra and hash_file(target)[0] != entry.digest:
            problems.append(f"changed: {entry.path}")
    problems += [f"extra: {rel}" for rel in files_below(root) if rel not in paths]
    if problems:
        shown = "; ".join(problems[:20])
        raise ValidationError(f"{root} does not match the version ({len(problems)} problems): {shown}")
