"""Content-addressed blobs on any :class:`~quire.store.objects.ObjectStore`.

A blob is named by the BLAKE3 hex digest of its bytes. Large blobs are objects of their
own (``objects/ab/cdef…``); small ones (below :data:`SMALL`) are appended to immutable
**packs** (``packs/<id>.pack``) with a sorted index beside each (``packs/<id>.idx``),
because one object per 4 KiB file is what makes ingest slow on disks and object stores
alike. A pack is durable, then its index; a blob is visible only once its index is, and
the catalog commits a version only after its writer has flushed, so a committed version
never points at missing bytes. Every read is verified against the digest.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import blake3

from ..errors import ArtifactNotFoundError, CorruptBlobError, StoreError, ValidationError
from .objects import LocalObjects, ObjectInfo, ObjectStore, start_writeback

SMALL = 1 << 20  #: blobs below this many bytes go into packs
PACK_TARGET = 32 << 20  #: a pack is closed once it holds this many bytes
CHUNK = 8 << 20
_IDX_MAGIC = b"QPK1"
_IDX_ROW = struct.Struct(">32sQQ")  # raw digest, offset, length


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The digest of ``data``."""
    return blake3.blake3(data).hexdigest()


def new_hasher() -> blake3.blake3:
    """A streaming hasher; large chunks are hashed on every core."""
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


def hash_file(path: Path | str) -> tuple[str, int]:
    """The digest and size of the file at ``path``, read once."""
    h, size = new_hasher(), 0
    for chunk in read_chunks(path):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def read_chunks(path: Path | str) -> Iterator[memoryview]:
    """The bytes of a file in chunks of up to :data:`CHUNK`, read into one buffer that
    each chunk reuses (valid until the next is read): a fresh 8 MiB object per chunk
    made the kernel fault in and zero 30,000 new pages per GiB read, not 2,000."""
    with open(path, "rb", buffering=0) as f:
        # No bigger than the file: a buffer is zeroed when made, and small files are many.
        buf = bytearray(min(CHUNK, os.fstat(f.fileno()).st_size + 1))
        view = memoryview(buf)
        while n := f.readinto(buf):
            yield view[:n]


def blob_key(digest: str) -> str:
    """The object key of a large blob."""
    return f"objects/{digest[:2]}/{digest[2:]}"


@dataclass(frozen=True)
class StoredPack:
    """A pack as gc sees it: the pack, its index, and what it holds."""

    info: ObjectInfo
    index: ObjectInfo
    slots: dict[str, PackSlot]


@dataclass(frozen=True)
class Inventory:
    """Everything a blob store holds at one moment (see :meth:`BlobStore.inventory`)."""

    large: dict[str, ObjectInfo]  #: digest → the object of a large blob
    packs: dict[str, StoredPack]  #: pack key → pack
    strays: list[ObjectInfo]  #: packs without an index, indexes without a pack


class PackSlot(NamedTuple):
    """Where a small blob lives (a tuple: a store's index holds one per small blob, and
    builds them fast when it loads)."""

    pack: str
    offset: int
    length: int


class BlobStore:
    """Content-addressed bytes with packs, over one object store."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self.url = objects.url
        self._index: dict[str, PackSlot] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()
        #: the gc epoch under which the pack index was last known good (see quire.core.gc)
        self.gc_epoch: int | None = None

    # -- the pack index ---------------------------------------------------------------

    def refresh(self, prune: bool = False) -> None:
        """Load the index of every pack written since the last look (by any process).

        With ``prune``, also forget the packs that are gone: gc deletes and rewrites packs,
        and an index that still lists them points at bytes that are not there.
        """
        with self._lock:
            present = {info.key for info in self.objects.list("packs/")}
            if prune:
                gone = {k for k in self._loaded if k not in present or _pack_of(k) not in present}
                if gone:
                    packs = {_pack_of(k) for k in gone}
                    self._index = {d: s for d, s in self._index.items() if s.pack not in packs}
                    self._loaded -= gone
            new = [k for k in sorted(present) if k.endswith(".idx") and k not in self._loaded and _pack_of(k) in present]
            for key, raw in zip(new, _get_all(self.objects, new), strict=True):
                if raw is not None:  # None: deleted by a gc since the listing
                    self._index.update(_read_index(key, raw))
                    self._loaded.add(key)

    def reload(self) -> None:
        """Bring the pack index up to date after a gc (see :meth:`refresh`)."""
        self.refresh(prune=True)

    def _add_to_index(self, idx_key: str, slots: Mapping[str, PackSlot]) -> None:
        with self._lock:
            self._index.update(slots)
            self._loaded.add(idx_key)

    def _slot(self, digest: str) -> PackSlot | None:
        slot = self._index.get(digest)
        if slot is None:
            self.refresh()
            slot = self._index.get(digest)
        return slot

    # -- presence ---------------------------------------------------------------------

    def missing(self, sizes: Mapping[str, int]) -> set[str]:
        """The digests among ``sizes`` (digest → size) that the store does not hold."""
        if not self._loaded or any(d not in self._index for d, s in sizes.items() if s < SMALL):
            self.refresh()
        return {
            d
            for d, size in sizes.items()
            if d not in self._index and (size < SMALL or not self.objects.exists(blob_key(d)))
        }

    def has(self, digest: str, size: int) -> bool:
        """Whether the blob is stored."""
        return not self.missing({digest: size})

    # -- reading ----------------------------------------------------------------------

    def read(self, digest: str) -> bytes:
        """The verified bytes of one blob."""
        slot = self._slot(digest)
        try:
            data, where = self._fetch(digest, slot)
        except ArtifactNotFoundError:
            if slot is None:
                raise
            # gc rewrote the pack after we read its index (it deletes the old index
            # before the old pack, so reading the indexes again finds the new home).
            self.reload()
            data, where = self._fetch(digest, self._slot(digest))
        if hash_bytes(data) != digest:
            raise CorruptBlobError(digest, f"{self.url}/{where}")
        return data

    def _fetch(self, digest: str, slot: PackSlot | None) -> tuple[bytes, str]:
        if slot is not None:
            return self.objects.get_range(slot.pack, slot.offset, slot.length), slot.pack
        try:
            return self.objects.get(blob_key(digest)), blob_key(digest)
        except ArtifactNotFoundError:
            raise ArtifactNotFoundError(f"blob {digest} is missing from {self.url}") from None

    def read_many(self, digests: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Verified ``(digest, bytes)`` of many blobs, reading each pack in few ranges."""
        by_pack: dict[str, list[tuple[PackSlot, str]]] = {}
        for digest in dict.fromkeys(digests):
            slot = self._slot(digest)
            if slot is None:
                yield digest, self.read(digest)
            else:
                by_pack.setdefault(slot.pack, []).append((slot, digest))
        for pack, wanted in by_pack.items():
            wanted.sort(key=lambda item: item[0].offset)
            for start, end, group in _coalesce(wanted):
                try:
                    chunk = self.objects.get_range(pack, start, end - start)
                except ArtifactNotFoundError:  # rewritten by gc: one by one, from the new pack
                    for _, digest in group:
                        yield digest, self.read(digest)
                    continue
                for slot, digest in group:
                    data = chunk[slot.offset - start : slot.offset - start + slot.length]
                    if hash_bytes(data) != digest:
                        raise CorruptBlobError(digest, f"{self.url}/{pack}")
                    yield digest, data

    def read_to_file(self, digest: str, dest: Path) -> None:
        """Write the verified blob to the new file ``dest`` (removed again if corrupt)."""
        slot = self._slot(digest)
        if slot is not None:
            dest.write_bytes(self.read(digest))
            return
        try:
            self.objects.get_file(blob_key(digest), dest)
        except ArtifactNotFoundError:
            raise ArtifactNotFoundError(f"blob {digest} is missing from {self.url}") from None
        if hash_file(dest)[0] != digest:
            dest.unlink(missing_ok=True)
            raise CorruptBlobError(digest, f"{self.url}/{blob_key(digest)}")

    def local_path(self, digest: str) -> Path | None:
        """The stored file of a large blob when the backend is on this machine."""
        return self.objects.local_path(blob_key(digest))

    # -- writing ----------------------------------------------------------------------

    def writer(self) -> BlobWriter:
        """A batch writer; its ``flush()`` makes everything it took durable."""
        return BlobWriter(self)

    def put_bytes(self, data: bytes) -> str:
        """Store one blob durably now and return its digest."""
        with self.writer() as w:
            return w.add_bytes(data)

    def _write_pack(self, spool: _Spool) -> int:
        """Store ``spool`` as a new pack, then its index, both durable; returns the bytes
        written."""
        pack_id = uuid.uuid4().hex
        pack_key, idx_key = f"packs/{pack_id}.pack", f"packs/{pack_id}.idx"
        rows = sorted(spool.slots.items())
        index = _IDX_MAGIC + b"".join(_IDX_ROW.pack(bytes.fromhex(d), o, n) for d, (o, n) in rows)
        try:
            spool.close()
            self.objects.put_file(pack_key, spool.path)
            self.objects.put(idx_key, index)
        except StoreError:
            raise  # already says which store and what to do
        except OSError as exc:
            raise StoreError(f"cannot write a pack to {self.url}: {exc.strerror or exc}") from exc
        self._add_to_index(idx_key, {d: PackSlot(pack_key, o, n) for d, (o, n) in rows})
        return spool.size + len(index)

    # -- for gc -------------------------------------------------------------------------

    def inventory(self) -> Inventory:
        """Everything stored now: large blobs, packs with their indexes, and strays."""
        large = {info.key[len("objects/"):].replace("/", ""): info for info in self.objects.list("objects/")}
        packs: dict[str, ObjectInfo] = {}
        indexes: dict[str, ObjectInfo] = {}
        strays: list[ObjectInfo] = []
        for info in self.objects.list("packs/"):
            if info.key.endswith(".pack"):
                packs[info.key] = info
            elif info.key.endswith(".idx"):
                indexes[_pack_of(info.key)] = info
            else:
                strays.append(info)
        found = {}
        for key, info in packs.items():
            idx = indexes.pop(key, None)
            try:
                slots = _read_index(idx.key, self.objects.get(idx.key)) if idx else None
            except ArtifactNotFoundError:
                slots = None  # deleted while we listed: a gc's leftover, or going
            if slots is None:
                strays.append(info)  # a pack whose index was never written (or is gone)
            else:
                found[key] = StoredPack(info, idx, slots)  # type: ignore[arg-type]
        return Inventory(large, found, strays + list(indexes.values()))

    def delete(self, key: str) -> None:
        """Delete one object: a large blob's key, a stray, or a pack (its index first)."""
        if key.endswith(".pack"):
            # Index first: whoever reads the indexes afterwards no longer looks in the pack.
            self.objects.delete(key.removesuffix(".pack") + ".idx")
            with self._lock:
                self._index = {d: s for d, s in self._index.items() if s.pack != key}
        self.objects.delete(key)

    def repack(
        self, packs: Iterable[StoredPack], keep: Iterable[str], before_delete: Callable[[], None] = lambda: None
    ) -> int:
        """Copy the blobs ``keep`` out of ``packs`` into new packs, then delete ``packs``
        (calling ``before_delete()`` before each: gc checks it still holds its lease).

        Returns the bytes written. The new packs are durable before any old one goes, and
        an old pack's index goes before the pack, so a reader never finds a blob in
        neither: one that still holds an old index reads the old pack, or finds it
        gone, reads the indexes again and finds the new pack.
        """
        packs = list(packs)
        written, spool = 0, None
        try:
            for digest, data in self.read_many(sorted(set(keep))):
                spool = spool or _Spool(self)
                spool.add(digest, data)
                if spool.size >= PACK_TARGET:
                    written += self._write_pack(spool)
                    spool = None
            if spool is not None:
                written += self._write_pack(spool)
        finally:
            if spool is not None:
                spool.discard()
        for pack in packs:
            before_delete()
            self.delete(pack.info.key)
        return written


class BlobWriter:
    """Takes blobs one by one; small ones are gathered into packs, large ones streamed.

    Not thread-safe: give each thread its own writer. Use as a context manager, or call
    :meth:`flush` before committing anything that refers to what was written.
    """

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        blobs.refresh()  # once: a pack another process writes meanwhile costs a duplicate, no more
        self._spool: _Spool | None = None
        self.bytes_written = 0

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.flush()
        elif self._spool is not None:
            self._spool.discard()
            self._spool = None

    def holds(self, digest: str, size: int) -> bool:
        """Whether the blob is stored or waiting in this writer."""
        return self._packed(digest) or (size >= SMALL and self.blobs.objects.exists(blob_key(digest)))

    def _packed(self, digest: str) -> bool:
        """Whether the blob is in a stored pack, or in the one this writer is making."""
        return digest in self.blobs._index or (self._spool is not None and digest in self._spool.slots)

    def add_bytes(self, data: bytes | bytearray | memoryview, digest: str | None = None) -> str:
        """Take one blob held in memory; returns its digest."""
        digest = digest or hash_bytes(data)
        size = len(data)
        if self._packed(digest):
            return digest
        if size >= SMALL:
            if not self.blobs.objects.exists(blob_key(digest)):
                self.blobs.objects.put(blob_key(digest), bytes(data))
                self.bytes_written += size
            return digest
        if self._spool is None:
            self._spool = _Spool(self.blobs)
        self._spool.add(digest, data)
        if self._spool.size >= PACK_TARGET:
            self.flush()
        return digest

    def add_file(
        self, path: Path | str, expected: str | None = None, size: int | None = None
    ) -> tuple[str, int]:
        """Hash and store a file in one read; returns ``(digest, size)``.

        With ``expected`` the bytes must hash to it (a file changed since it was hashed
        raises ``ValidationError``), and a blob already stored is not read at all. ``size`` is
        the file's size when the caller has stat'ed it already.
        """
        if size is None:
            size = os.stat(path).st_size
        if expected is not None and self.holds(expected, size):
            return expected, size
        if size < SMALL:
            data = read_small(path)
            digest = hash_bytes(data)
            _check_expected(path, expected, digest)
            return self.add_bytes(data, digest), len(data)
        objects = self.blobs.objects
        put_source = getattr(objects, "put_source", None)
        if put_source is not None:
            return self._add_remote(Path(path), expected, put_source)
        tmp = objects.temp_path()
        h, size = new_hasher(), 0
        durable = getattr(objects, "durable", False)  # it will be fsynced: start early
        try:
            with open(tmp, "wb", buffering=0) as dst:
                for chunk in read_chunks(path):
                    h.update(chunk)
                    _append(dst, chunk, size, durable)
                    size += len(chunk)
            digest = h.hexdigest()
            _check_expected(path, expected, digest)
            objects.put_file(blob_key(digest), tmp)
        except StoreError:
            raise  # already says which store and what to do
        except OSError as exc:
            raise StoreError(f"cannot store {path} in {self.blobs.url}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        self.bytes_written += size
        return digest, size

    def _add_remote(
        self, path: Path, expected: str | None, put_source: Callable[..., None]
    ) -> tuple[str, int]:
        """A large file into a remote store: hashed, then sent straight from its place.

        A staging copy would only cost a local write; instead the upload is abandoned
        (nothing stored) if the file changed since it was hashed.
        """
        try:
            before = os.stat(path)
            digest, size = hash_file(path)
            _check_expected(path, expected, digest)
            if not self.holds(digest, size):
                put_source(blob_key(digest), path, digest, before)
                self.bytes_written += size
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot store {path} in {self.blobs.url}: {exc.strerror or exc}") from exc
        return digest, size

    def flush(self) -> None:
        """Write the gathered small blobs as one pack, then its index: both durable."""
        spool, self._spool = self._spool, None
        if spool is not None:
            try:
                self.bytes_written += self.blobs._write_pack(spool)
            finally:
                spool.discard()


class _Spool:
    """The small blobs of one future pack, appended to a local file as they come: a
    writer holds no pack in memory (nor copies one), and an upload reads the file."""

    def __init__(self, blobs: BlobStore) -> None:
        self.path = blobs.objects.temp_path()
        self.slots: dict[str, tuple[int, int]] = {}  # digest → (offset, length)
        self.size = 0
        try:
            self._file = open(self.path, "xb", buffering=0)
        except OSError as exc:
            raise StoreError(f"cannot write a pack to {blobs.url}: {exc.strerror or exc}") from exc
        self._url = blobs.url
        self._durable = getattr(blobs.objects, "durable", False)
        # A writer dropped without flush (an exception) leaves no file behind.
        self._cleanup = weakref.finalize(self, _remove, self._file, self.path)

    def add(self, digest: str, data: bytes | bytearray | memoryview) -> None:
        try:
            _append(self._file, data, self.size, self._durable)
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


def _append(file: io.RawIOBase, data: bytes | bytearray | memoryview, offset: int, durable: bool) -> None:
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


def read_small(path: Path | str) -> bytes:
    """All bytes of a small file, without the buffered-IO layer (the ingest hot path)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while chunk := os.read(fd, SMALL):
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


def _get_all(objects: ObjectStore, keys: list[str]) -> Iterator[bytes | None]:
    """The bytes of each key in order (None when it is gone), fetched in parallel: on an
    object store each is a request, and a process's first look may need thousands."""

    def get(key: str) -> bytes | None:
        try:
            return objects.get(key)
        except ArtifactNotFoundError:
            return None

    if len(keys) < 2 or isinstance(objects, LocalObjects):  # local files: threads only cost
        yield from map(get, keys)
        return
    with ThreadPoolExecutor(min(16, len(keys))) as pool:
        yield from pool.map(get, keys)


def _check_expected(path: Path | str, expected: str | None, digest: str) -> None:
    if expected is not None and digest != expected:
        raise ValidationError(
            f"{path} changed after it was added (digest {digest[:12]}…, expected "
            f"{expected[:12]}…); add it again, or use policy='mutable' to keep a copy"
        )


def _pack_of(idx_key: str) -> str:
    return idx_key[: -len(".idx")] + ".pack"


def _read_index(key: str, raw: bytes) -> dict[str, PackSlot]:
    if not raw.startswith(_IDX_MAGIC):
        raise StoreError(f"pack index {key} is not a Quire pack index")
    pack = _pack_of(key)
    return {
        digest.hex(): PackSlot(pack, offset, length)
        for digest, offset, length in _IDX_ROW.iter_unpack(raw[len(_IDX_MAGIC) :])
    }


def _coalesce(
    wanted: list[tuple[PackSlot, str]], gap: int = 1 << 20
) -> Iterator[tuple[int, int, list[tuple[PackSlot, str]]]]:
    """Group offset-sorted slots into ranges, merging neighbours less than ``gap`` apart."""
    group: list[tuple[PackSlot, str]] = []
    start = end = 0
    for slot, digest in wanted:
        if group and slot.offset - end > gap:
            yield start, end, group
            group = []
        if not group:
            start = slot.offset
        group.append((slot, digest))
        end = max(end, slot.offset + slot.length) if len(group) > 1 else slot.offset + slot.length
    if group:
        yield start, end, group
