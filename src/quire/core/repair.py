"""Checking a version's blobs in the store, and restoring damaged ones from local files.

:func:`check_blobs` reads every blob of a version (verified, as every read is), so a
corrupt one is set aside by the reading itself (see :mod:`quire.store.blobs`).
:func:`repair` then looks for the bytes of each damaged blob in a folder the user names:
first at the entry's own path below it, then in any file below it of the right size and
digest, stores what it finds, and checks again. Nothing is committed: the version
already points at those digests, it only lacked their bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArtifactNotFoundError, CorruptBlobError, DamagedIndexError, ObjectNotFoundError, StoreError
from ..hashing import CHUNK, hash_bytes, hash_file, new_hasher, read_chunks
from ..store.blobs import SMALL, BlobStore, blob_key
from ..store.packs import PackSlot, coalesce
from . import pages, progress
from .download import paused_gc
from .ingest import walk_files
from .manifest import Entry, check_manifest_path, load_manifest

MISSING, CORRUPT = "missing", "corrupt"
_NOT_FOUND = (ArtifactNotFoundError, DamagedIndexError)  # a blob the store does not have
_UNREADABLE = (CorruptBlobError, *_NOT_FOUND)
RANGE = 8 << 20  #: the most bytes of a pack one read of :func:`check_blobs` asks for


@dataclass
class CheckReport:
    """What :func:`check` found.

    Attributes:
        damaged: entry path → ``"missing"`` or ``"corrupt"``, for each stored file whose
            bytes the store does not hold intact.
        files: the stored files checked (references have no bytes in the store).
        size: the bytes of their blobs, each blob once.
    """

    damaged: dict[str, str]
    files: int
    size: int

    @property
    def ok(self) -> bool:
        """Whether the store holds every blob of the version intact."""
        return not self.damaged

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {"damaged": self.damaged, "checked_files": self.files, "checked_bytes": self.size, "ok": self.ok}


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


def check(blobs: BlobStore, manifest: str) -> CheckReport:
    """Check the version whose manifest is stored under ``manifest``: its pages, then
    every stored blob it names, read from the store and hashed (see :func:`check_blobs`).

    Raises:
        CorruptBlobError, ArtifactNotFoundError: a page of the manifest cannot be read
            (``repair`` makes the pages again from a folder of the version's files).
    """
    every = list(load_manifest(blobs, manifest))  # every page, verified
    entries = [e for e in every if e.stored]
    sizes = {e.digest: e.size or 0 for e in entries}
    damaged = check_blobs(blobs, sizes)
    # References and second paths of a blob have nothing more to read: counted, so that
    # a bar over the version's size ends at its end.
    progress.advance(sum(e.size or 0 for e in every) - sum(sizes.values()))
    return CheckReport(
        {e.path: damaged[e.digest] for e in entries if e.digest in damaged}, len(entries), sum(sizes.values())
    )


def check_blobs(blobs: BlobStore, sizes: dict[str, int]) -> dict[str, str]:
    """digest → ``"missing"`` or ``"corrupt"`` for each blob of ``sizes`` (digest → size)
    that cannot be read intact; reading a corrupt one sets it aside, as every read does.

    Read at the speed of the store, not one request per small blob: each pack is read
    once, front to back, in ranges of at most :data:`RANGE` bytes (coalesced around the
    slots wanted), and packs and large blobs are read in parallel threads, as many as the
    object store has ``concurrency`` for. A large blob is streamed and hashed in chunks.
    Nothing is written to disk, except what setting a corrupt blob aside writes. Reports
    each blob's bytes as checked (:mod:`quire.core.progress`).
    """
    small = sorted(d for d, size in sizes.items() if size < SMALL)
    by_pack: dict[str, list[tuple[PackSlot, str]]] = {}
    jobs: list[Callable[[], dict[str, str]]] = []
    for digest, slot in blobs.slots(small).items():
        if slot is None:  # in no pack: missing, or set aside; the read says which
            jobs.append(functools.partial(_check_each, blobs, [digest]))
        else:
            by_pack.setdefault(slot.pack, []).append((slot, digest))
    # Large blobs first: the longest jobs start early, the packs fill in around them.
    jobs[:0] = [functools.partial(_check_large, blobs, d) for d in sorted(sizes) if sizes[d] >= SMALL]
    jobs += [functools.partial(_check_pack, blobs, pack, wanted) for pack, wanted in sorted(by_pack.items())]
    damaged: dict[str, str] = {}
    threads = max(1, min(blobs.objects.capabilities.concurrency, len(jobs)))
    with paused_gc(), ThreadPoolExecutor(threads) as pool:
        for found in pool.map(lambda job: job(), jobs):
            damaged.update(found)
    return damaged


def _check_pack(blobs: BlobStore, pack: str, wanted: list[tuple[PackSlot, str]]) -> dict[str, str]:
    """Check the blobs ``wanted`` of one pack, reading it in offset order."""
    damaged: dict[str, str] = {}
    wanted.sort(key=lambda item: item[0].offset)
    # Ranges of at most RANGE bytes: a pack is 32 MiB, and so many threads' whole packs
    # in memory at once is too much.
    for start, end, group in coalesce(wanted, limit=RANGE):
        try:
            chunk = memoryview(blobs.objects.get_range(pack, start, end - start))
        except ObjectNotFoundError:  # rewritten by a gc since its index was read: the reads find the new pack
            damaged.update(_check_each(blobs, [d for _, d in group]))
            continue
        bad = [
            digest
            for slot, digest in group
            if hash_bytes(chunk[slot.offset - start : slot.offset - start + slot.length]) != digest
        ]
        progress.advance(sum(slot.length for slot, digest in group if digest not in bad))
        # Read again by the store's own read, which marks a corrupt slot (and finds the
        # blob in another pack if one holds it too).
        damaged.update(_check_each(blobs, bad))
    return damaged


def _check_each(blobs: BlobStore, digests: list[str]) -> dict[str, str]:
    """Check small blobs one by one, with the store's read."""
    damaged: dict[str, str] = {}
    for digest in digests:
        try:
            data = blobs.read(digest)
        except CorruptBlobError:
            damaged[digest] = CORRUPT
            continue
        except _NOT_FOUND:
            damaged[digest] = MISSING
            continue
        progress.advance(len(data))
    return damaged


def _check_large(blobs: BlobStore, digest: str) -> dict[str, str]:
    """Check one large blob, streamed and hashed in chunks; a corrupt one is set aside."""
    problem = _hash_large(blobs, digest, report=True)
    if problem == CORRUPT:
        # As a read does: set aside, unless the bytes hash right once they are moved (a
        # bad read, or a writer stored them again meanwhile). Either way, hashed again.
        blobs.quarantine(digest)
        problem = _hash_large(blobs, digest, report=False)
        if problem == MISSING:  # set aside, now or by another reader: it was corrupt
            problem = CORRUPT
    return {digest: problem} if problem else {}


def _hash_large(blobs: BlobStore, digest: str, report: bool) -> str | None:
    """Whether the large blob is stored and hashes to ``digest`` (None), ``"missing"`` or ``"corrupt"``."""
    objects, key = blobs.objects, blob_key(digest)
    hasher = new_hasher()
    try:
        local = objects.local_path(key)
        if local is not None:
            chunks: Iterable[bytes | memoryview] = read_chunks(local)
        else:
            stored = objects.size(key)
            if stored is None:
                return MISSING
            chunks = (objects.get_range(key, at, min(CHUNK, stored - at)) for at in range(0, stored, CHUNK))
        for chunk in chunks:
            hasher.update(chunk)
            if report:
                progress.advance(len(chunk))
    except (ObjectNotFoundError, FileNotFoundError):
        return MISSING
    return None if hasher.hexdigest() == digest else CORRUPT


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
