"""Checking a version's blobs in the store, and restoring damaged ones from local files.

:func:`check_blobs` reads every blob of a version (verified, as every read is), so a
corrupt one is set aside by the reading itself (see :mod:`quire.store.blobs`).
:func:`repair` then looks for the bytes of each damaged blob in a folder the user names:
first at the entry's own path below it, then in any file below it of the right size and
digest, stores what it finds, and checks again. Nothing is committed: the version
already points at those digests, it only lacked their bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArtifactNotFoundError, CorruptBlobError, DamagedIndexError, StoreError
from ..hashing import hash_bytes, hash_file
from ..store.blobs import SMALL, BlobStore
from . import pages
from .ingest import walk_files
from .manifest import Entry, check_manifest_path, load_manifest

MISSING, CORRUPT = "missing", "corrupt"
_NOT_FOUND = (ArtifactNotFoundError, DamagedIndexError)  # a blob the store does not have
_UNREADABLE = (CorruptBlobError, *_NOT_FOUND)


@dataclass
class RepairReport:
    """What :func:`repair` found and did.

    Attributes:
        damaged: digest → ``"missing"`` or ``"corrupt"``, as the first check found them.
        restored: entry path → the local file its bytes were stored from.
        unrestored: the paths whose bytes are still not in the store, sorted.
        pages: whether the manifest's pages could not be read, and were made again from
            the folder's files.
    """

    damaged: dict[str, str] = field(default_factory=dict)
    restored: dict[str, str] = field(default_factory=dict)
    unrestored: list[str] = field(default_factory=list)
    pages: bool = False

    @property
    def ok(self) -> bool:
        """Whether the store now holds every blob of the version intact."""
        return not self.unrestored

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "damaged": self.damaged,
            "restored": self.restored,
            "unrestored": self.unrestored,
            "pages_restored": self.pages,
            "ok": self.ok,
        }


def check_blobs(blobs: BlobStore, sizes: dict[str, int]) -> dict[str, str]:
    """digest → ``"missing"`` or ``"corrupt"`` for each blob of ``sizes`` (digest → size)
    that cannot be read intact; reading a corrupt one sets it aside."""
    damaged: dict[str, str] = {}
    for digest in sorted(d for d, size in sizes.items() if size >= SMALL):
        problem = _check_large(blobs, digest)
        if problem:
            damaged[digest] = problem
    todo = sorted(d for d, size in sizes.items() if size < SMALL)
    while todo:  # in few range reads; after a corrupt one, on with the blobs not yet read
        done: set[str] = set()
        try:
            for digest, _ in blobs.read_many(todo):
                done.add(digest)
        except CorruptBlobError as exc:
            damaged[exc.digest] = CORRUPT
            done.add(exc.digest)
        except _NOT_FOUND:  # which one is not said: the rest one by one
            for digest in todo:
                if digest not in done:
                    problem = _check_small(blobs, digest)
                    if problem:
                        damaged[digest] = problem
            return damaged
        todo = [d for d in todo if d not in done]
    return damaged


def _check_small(blobs: BlobStore, digest: str) -> str | None:
    try:
        blobs.read(digest)
    except CorruptBlobError:
        return CORRUPT
    except _NOT_FOUND:
        return MISSING
    return None


def _check_large(blobs: BlobStore, digest: str) -> str | None:
    tmp = blobs.objects.temp_path()
    try:
        blobs.read_to_file(digest, tmp)
    except CorruptBlobError:
        return CORRUPT
    except _NOT_FOUND:
        return MISSING
    finally:
        tmp.unlink(missing_ok=True)
    return None


def repair(blobs: BlobStore, manifest: str, source: Path) -> RepairReport:
    """Check the manifest stored under ``manifest`` (its pages) and every stored blob it
    names; store the damaged ones again from the files below ``source`` (by matching
    path first, then by digest); check once more.

    A manifest whose pages cannot be read is made again from the files below ``source``
    when they are exactly the version's (its pages are a function of its entries).
    """
    try:
        entries = list(load_manifest(blobs, manifest))  # reads (and so verifies) every page
        pages_damaged = False
    except _UNREADABLE:
        _check_folder(source)
        entries = _rebuild(blobs, manifest, source)
        pages_damaged = True
    entries = [e for e in entries if e.stored]
    sizes = {e.digest: e.size or 0 for e in entries}
    report = RepairReport(damaged=check_blobs(blobs, sizes), pages=pages_damaged)
    if not report.damaged:
        return report
    _check_folder(source)
    wanted = [e for e in entries if e.digest in report.damaged]
    found = _by_path(wanted, source)
    left = {e.digest: e.size or 0 for e in wanted if e.digest not in found}
    if left:
        found.update(_by_digest(left, source))
    with blobs.writer() as writer:
        for digest, path in found.items():
            writer.add_file(path, expected=digest)
    still = check_blobs(blobs, {d: sizes[d] for d in report.damaged})
    for entry in wanted:
        if entry.digest in still:
            report.unrestored.append(entry.path)
        elif entry.digest in found:
            report.restored[entry.path] = str(found[entry.digest])
    report.unrestored.sort()
    return report


def _check_folder(source: Path) -> None:
    if not source.is_dir():
        raise StoreError(f"{source} is not a folder; give --from a folder holding the version's files")


def _rebuild(blobs: BlobStore, manifest: str, source: Path) -> list[Entry]:
    """Store the pages of ``manifest`` again, made from the files below ``source``; the
    entries. Nothing is stored unless those files make exactly that manifest."""
    rows: list[pages.Row] = []
    for rel, item in walk_files(source):
        digest, size = hash_file(item.path)
        rows.append([rel, digest, size, None, None])
    rows.sort(key=lambda row: row[0])  # a folder's files come before its subfolders' files
    made: dict[str, bytes] = {}

    def keep(body: bytes) -> str:
        digest = hash_bytes(body)
        made[digest] = body
        return digest

    if pages.build(rows, keep) != manifest:
        raise StoreError(
            f"the manifest of this version cannot be read from the store, and the files below {source} "
            "are not exactly the version's, so it cannot be made again from them; give a folder "
            "holding exactly its files (a download of it), or log them again as a new version"
        )
    with blobs.writer() as writer:
        for body in made.values():
            writer.add_bytes(body)
    return [Entry.from_row(row) for row in rows]


def _by_path(entries: Iterable[Entry], source: Path) -> dict[str, Path]:
    """digest → ``source/<entry path>`` for the entries whose file there has their bytes."""
    found: dict[str, Path] = {}
    for entry in entries:
        if entry.digest in found:
            continue
        path = source / check_manifest_path(entry.path, source)
        try:
            if path.is_file() and path.stat().st_size == entry.size and hash_file(path)[0] == entry.digest:
                found[entry.digest] = path
        except OSError:
            continue  # unreadable: the search by digest may still find the bytes elsewhere
    return found


def _by_digest(sizes: dict[str, int], source: Path) -> dict[str, Path]:
    """digest → a file below ``source`` holding those bytes; only files of a wanted size
    are read."""
    by_size = set(sizes.values())
    found: dict[str, Path] = {}
    for _, item in walk_files(source):
        try:
            if item.stat().st_size not in by_size:
                continue
            digest, _ = hash_file(item.path)
        except OSError:
            continue
        if digest in sizes and digest not in found:
            found[digest] = Path(item.path)
            if len(found) == len(sizes):
                break
    return found
