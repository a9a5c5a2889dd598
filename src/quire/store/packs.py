"""Packs: many small blobs in one immutable object, with a sorted index beside it.

A pack ``packs/<id>.pack`` is its blobs end to end; its index ``packs/<id>.idx`` is
:data:`IDX_MAGIC` followed by one row per blob (raw digest, offset, length), sorted by
digest. An empty object ``packs/<id>.pack.<digest>.bad`` marks a slot found corrupt.
This module is the format (and the local file a future pack is gathered in); what is
stored where, and when, is :mod:`quire.store.blobs`.
"""

from __future__ import annotations

import io
import re
import struct
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import StoreError
from ..hashing import CHUNK
from .objects import ObjectInfo, ObjectStore, start_writeback

IDX_MAGIC = b"QPK1"
IDX_ROW = struct.Struct(">32sQQ")  # raw digest, offset, length
BAD_MARK = ".bad"  #: ``packs/<id>.pack.<digest>.bad`` marks a slot of a pack found corrupt
#: a combined index over many packs (see :mod:`quire.store.midx`); its name is its digest
MIDX_NAME = re.compile(r"packs/([0-9a-f]{64})\.midx")


class DamagedCombinedIndexError(StoreError):
    """A combined index that cannot be trusted (never used for a lookup)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class PackSlot(NamedTuple):
    """Where a small blob lives (a tuple: a store's index holds one per small blob, and
    builds them fast when it loads)."""

    pack: str
    offset: int
    length: int


@dataclass(frozen=True)
class ListedPack:
    """A pack as a listing of ``packs/`` sees it: the pack, its index, and the digests
    of its slots marked corrupt (what it holds is in the index, read one pack at a time)."""

    info: ObjectInfo
    index: ObjectInfo
    marked: frozenset[str]


@dataclass(frozen=True)
class StoredPack(ListedPack):
    """A listed pack with what it holds (its index read, less the slots marked corrupt)."""

    slots: dict[str, PackSlot]


def index_bytes(slots: Iterable[tuple[str, tuple[int, int]]]) -> bytes:
    """The index of a pack holding ``slots`` (digest → (offset, length)), rows sorted by digest."""
    return IDX_MAGIC + b"".join(IDX_ROW.pack(bytes.fromhex(d), o, n) for d, (o, n) in sorted(slots))


def mark_key(pack: str, digest: str) -> str:
    """The key of the mark that says the slot of ``digest`` in ``pack`` is corrupt."""
    return f"{pack}.{digest}{BAD_MARK}"


def pack_of(idx_key: str) -> str:
    """The pack an index key belongs to (``packs/<id>.idx`` → ``packs/<id>.pack``)."""
    return idx_key[: -len(".idx")] + ".pack"


def parse_mark(key: str) -> tuple[str, str]:
    """``(digest, pack key)`` of a bad-slot mark ``<pack key>.<digest>.bad``."""
    pack, _, digest = key[: -len(BAD_MARK)].rpartition(".")
    return digest, pack


def index_body(key: str, raw: bytes) -> bytes:
    """The rows of the index ``key`` (``raw`` after its magic); ``StoreError`` unless it
    has an index's shape. The one check of every reader of the format (a dict of slots
    here, numpy arrays for gc's sweep and the combined index's writer)."""
    if not raw.startswith(IDX_MAGIC):
        raise damaged_index(key, "it does not start like a Quire pack index")
    body = raw[len(IDX_MAGIC) :]
    if len(body) % IDX_ROW.size:
        raise damaged_index(key, "it is cut short in the middle of a row")
    return body


def check_covers(key: str, end: int, pack_size: int) -> None:
    """``StoreError`` unless the rows of the index ``key``, ``end`` bytes in all, cover
    its ``pack_size``-byte pack (see :func:`read_index`)."""
    if end != pack_size:
        raise damaged_index(key, f"its rows cover {end} bytes of a {pack_size}-byte pack")


def damaged_index(key: str, why: str) -> StoreError:
    """The error for the damaged index ``key``, saying ``why``."""
    return StoreError(f"the pack index {key} is damaged ({why}); the blobs of its pack cannot be read")


def read_index(key: str, raw: bytes, pack_size: int | None) -> dict[str, PackSlot]:
    """The slots the index ``key`` lists; ``StoreError`` when it is damaged.

    A pack is its blobs end to end (see :class:`Spool`), so the lengths of
    an intact index's rows add up to the pack's ``pack_size`` bytes: that is how an index
    cut short at a row boundary is told from an intact one. (A sum, not a sort of the
    rows by offset: every process pays for this per index. A garbled offset reads bytes
    that fail their digest, and that slot is then set aside like any corrupt blob.)
    """
    rows = list(IDX_ROW.iter_unpack(index_body(key, raw)))
    if pack_size is not None:
        check_covers(key, sum(row[2] for row in rows), pack_size)
    pack = pack_of(key)
    return {digest.hex(): PackSlot(pack, offset, length) for digest, offset, length in rows}


def coalesce(
    wanted: list[tuple[PackSlot, str]], gap: int = 1 << 20, limit: int | None = None
) -> Iterator[tuple[int, int, list[tuple[PackSlot, str]]]]:
    """Group offset-sorted slots into ranges, merging neighbours less than ``gap`` apart,
    each range at most ``limit`` bytes (a slot is never split)."""
    group: list[tuple[PackSlot, str]] = []
    start = end = 0
    for slot, digest in wanted:
        if group and (slot.offset - end > gap or (limit is not None and slot.offset + slot.length - start > limit)):
            yield start, end, group
            group = []
        if not group:
            start = slot.offset
        group.append((slot, digest))
        end = max(end, slot.offset + slot.length) if len(group) > 1 else slot.offset + slot.length
    if group:
        yield start, end, group


class Spool:
    """The small blobs of one future pack, appended to a local file as they come: a
    writer holds no pack in memory (nor copies one), and an upload reads the file."""

    def __init__(self, objects: ObjectStore) -> None:
        self.path = objects.temp_path()
        self.slots: dict[str, tuple[int, int]] = {}  # digest → (offset, length)
        self.size = 0
        try:
            self._file = open(self.path, "xb", buffering=0)  # noqa: SIM115 - open until the pack is stored
        except OSError as exc:
            raise StoreError(f"cannot write a pack to {objects.url}: {exc.strerror or exc}") from exc
        self._url = objects.url
        self._durable = objects.capabilities.durable_local_writes  # it will be fsynced: start early
        # A writer dropped without flush (an exception) leaves no file behind.
        self._cleanup = weakref.finalize(self, _remove, self._file, self.path)

    def add(self, digest: str, data: bytes | bytearray | memoryview) -> None:
        try:
            append_chunk(self._file, data, self.size, self._durable)
        except OSError as exc:
            raise StoreError(f"cannot write a pack to {self._url}: {exc.strerror or exc}") from exc
        self.slots[digest] = (self.size, len(data))
        self.size += len(data)

    def close(self) -> None:
        """Done adding; the file is the pack's bytes (``put_file`` consumes it)."""
        self._file.close()

    def discard(self) -> None:
        """Remove the file unless it was consumed."""
        self._cleanup()


def append_chunk(file: io.RawIOBase, data: bytes | bytearray | memoryview, offset: int, durable: bool) -> None:
    """Write all of ``data`` at ``offset``, the end of ``file``. A file that will be
    fsynced (``durable``) has each :data:`CHUNK` it completes sent to disk at once, so
    the fsync waits for little (see :func:`~quire.store.objects.start_writeback`)."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        assert written is not None, "a regular file never blocks"
        view = view[written:]
    end = offset + len(data)
    if durable and end // CHUNK > offset // CHUNK:
        start = offset // CHUNK * CHUNK
        start_writeback(file.fileno(), start, end // CHUNK * CHUNK - start)


def _remove(file: io.RawIOBase, path: Path) -> None:
    file.close()
    path.unlink(missing_ok=True)
