"""Content-addressed blobs on any :class:`~quire.store.objects.ObjectStore`.

A blob is named by the BLAKE3 hex digest of its bytes. Large blobs are objects of their
own (``objects/ab/cdef…``); small ones (below :data:`SMALL`) are appended to immutable
**packs** (``packs/<id>.pack``) with a sorted index beside each (``packs/<id>.idx``),
because one object per 4 KiB file is what makes ingest slow on disks and object stores
alike. A pack is durable, then its index; a blob is visible only once its index is, and
the catalog commits a version only after its writer has flushed, so a committed version
never points at missing bytes. Every read is verified against the digest.

A blob found corrupt is set aside so that it heals: a large one is moved under
``quarantine/``, and a bad slot of a pack (whose other blobs are fine) is marked with an
empty ``packs/<id>.pack.<digest>.bad`` object, which every process's index skips. Either
way the blob then counts as missing, so the next log of those bytes stores them again.
"Stored" means stored with the right size, never merely "a key exists".
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import (
    BlobNotFoundError,
    CorruptBlobError,
    DamagedIndexError,
    ObjectNotFoundError,
    QuireError,
    StoreError,
    ValidationError,
)
from ..hashing import hash_bytes, hash_file, new_hasher, read_chunks
from .catalog import Epoch
from .digests import check_digest, digest_path
from .objects import ObjectInfo, ObjectReader, ObjectStore, SourceUploader, require, uploader
from .packs import (
    BAD_MARK,
    PackSlot,
    Spool,
    StoredPack,
    append_chunk,
    coalesce,
    index_bytes,
    mark_key,
    pack_of,
    parse_mark,
    read_index,
)

SMALL = 1 << 20  #: blobs below this many bytes go into packs
PACK_TARGET = 32 << 20  #: a pack is closed once it holds this many bytes
#: seconds within which a new writer takes the last look at the packs as its own
WRITER_LOOK = 1.0
_log = logging.getLogger("quire")
QUARANTINE = "quarantine/"  #: where corrupt large blobs are moved (never read, never collected)


def blob_key(digest: str) -> str:
    """The object key of a large blob; ``InvalidDigestError`` unless ``digest`` is one."""
    return "objects/" + digest_path(check_digest(digest, "a blob request"))


@dataclass(frozen=True)
class Inventory:
    """Everything a blob store holds at one moment (see :meth:`BlobStore.inventory`)."""

    large: dict[str, ObjectInfo]  #: digest → the object of a large blob
    packs: dict[str, StoredPack]  #: pack key → pack
    strays: list[ObjectInfo]  #: packs without an index, indexes without a pack
    #: packs whose index is damaged, and those indexes: what they hold cannot be told,
    #: so whether any of it is live cannot either (gc leaves them alone)
    damaged: list[ObjectInfo] = field(default_factory=list)


class BlobStore:
    """Content-addressed bytes with packs, over one object store."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self.url = objects.url
        self._index: dict[str, PackSlot] = {}
        self._loaded: set[str] = set()
        #: pack indexes that could not be read (key → why): skipped, and named when a
        #: blob is not found, since it may be in their packs
        self._damaged: dict[str, str] = {}
        self._warned: set[str] = set()
        #: digest → the packs whose slot of it was found corrupt (marked in the store)
        self._bad: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        #: the gc epoch under which the pack index was last known good (see quire.core.gc)
        self.gc_epoch: Epoch | None = None
        self._listed = -float("inf")  # time.monotonic() of the last look at the packs

    # -- the pack index ---------------------------------------------------------------

    def refresh(self, prune: bool = False, max_age: float = 0.0) -> None:
        """Load the index of every pack written since the last look (by any process).

        With ``prune``, also forget the packs that are gone: gc deletes and rewrites packs,
        and an index that still lists them points at bytes that are not there. With
        ``max_age``, skip it when the last look is younger than that many seconds (for a
        look that only spares duplicates).
        """
        with self._lock:
            if not prune and time.monotonic() - self._listed < max_age:
                return
            self._listed = time.monotonic()
            present = {info.key: info.size for info in self.objects.list("packs/")}
            if prune:
                gone = {k for k in self._loaded if k not in present or pack_of(k) not in present}
                if gone:
                    packs = {pack_of(k) for k in gone}
                    self._index = {d: s for d, s in self._index.items() if s.pack not in packs}
                    self._loaded -= gone
                self._damaged.clear()  # looked at again: one may have been restored or removed
            marks = [parse_mark(k) for k in present if k.endswith(BAD_MARK)]
            fresh = [(d, p) for d, p in marks if p not in self._bad.get(d, ())]
            for digest, pack in fresh:
                self._bad.setdefault(digest, set()).add(pack)
            if any(self._index.get(d, PackSlot("", 0, 0)).pack == p for d, p in fresh):
                # Marked by another process: load every index again, so that another slot
                # of the blob, if any pack holds one, is found instead (rare: corruption).
                self._index, self._loaded = {}, set()
            new = [
                k
                for k in sorted(present)
                if k.endswith(".idx") and k not in self._loaded and k not in self._damaged and pack_of(k) in present
            ]
            for key, raw in zip(new, _get_all(self.objects, new, self.objects.capabilities.local), strict=True):
                if raw is None:  # deleted by a gc since the listing
                    continue
                try:
                    slots = read_index(key, raw, present[pack_of(key)])
                except StoreError as exc:
                    # One damaged index must not stop every read and write: its pack's
                    # blobs count as missing (writers store them again), and a read of
                    # one that is found nowhere names the index.
                    if key not in self._warned:  # once per process, not on every look
                        _log.warning("%s; its pack's blobs are treated as missing", exc)
                        self._warned.add(key)
                    self._damaged[key] = str(exc)
                    continue
                self._index.update(self._good(slots))
                self._loaded.add(key)

    def reload(self) -> None:
        """Bring the pack index up to date after a gc (see :meth:`refresh`)."""
        self.refresh(prune=True)

    def _good(self, slots: dict[str, PackSlot]) -> dict[str, PackSlot]:
        """``slots`` without those marked corrupt."""
        if not self._bad:
            return slots
        return {d: s for d, s in slots.items() if s.pack not in self._bad.get(d, ())}

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
        """The digests among ``sizes`` (digest → size) that the store does not hold with
        that size (a blob set aside as corrupt is not held)."""
        index, no_slot = self._index, PackSlot("", 0, -1)  # inlined: 20,000 files, 20,000 calls
        if not self._loaded or any(index.get(d, no_slot).length != s for d, s in sizes.items() if s < SMALL):
            self.refresh()
            index = self._index
        return {
            d
            for d, size in sizes.items()
            if index.get(d, no_slot).length != size and (size < SMALL or self.objects.size(blob_key(d)) != size)
        }

    def has(self, digest: str, size: int) -> bool:
        """Whether the blob is stored (with ``size`` bytes)."""
        return not self.missing({digest: size})

    def _in_pack(self, digest: str, size: int) -> bool:
        slot = self._index.get(digest)
        return slot is not None and slot.length == size

    def _make_room(self, digest: str, size: int) -> bool:
        """Before storing a large blob: whether it is stored already with ``size`` bytes;
        one of another size (cut short, say) is set aside, as keys are put-if-absent."""
        stored = self.objects.size(blob_key(digest))
        if stored is not None and stored != size:
            self.quarantine(digest, verify=False)
            return False
        return stored is not None

    # -- reading ----------------------------------------------------------------------

    def read(self, digest: str) -> bytes:
        """The verified bytes of one blob."""
        slot = self._slot(digest)
        try:
            data, _ = self._fetch(digest, slot)
        except ObjectNotFoundError:
            if slot is None:
                raise
            # gc rewrote the pack after we read its index (it deletes the old index
            # before the old pack, so reading the indexes again finds the new home).
            self.reload()
            slot = self._slot(digest)
            data, _ = self._fetch(digest, slot)
        if hash_bytes(data) != digest:
            return self._after_corrupt(digest, slot)
        return data

    def _after_corrupt(self, digest: str, slot: PackSlot | None) -> bytes:
        """The blob read from ``slot`` (None: its large object) did not hash to ``digest``:
        set it aside, then return the blob from another slot, or raise ``CorruptBlobError``."""
        if slot is None:
            aside = self.quarantine(digest)
            if aside is None:  # the object is intact after all (a bad read), or already gone
                data, _ = self._fetch(digest, None)
                if hash_bytes(data) == digest:
                    return data
            raise CorruptBlobError(digest, f"{self.url}/{blob_key(digest)}", aside and f"{self.url}/{aside}")
        # A pack never changes: bytes that differ twice are damaged (once: a bad read).
        data = self.objects.get_range(slot.pack, slot.offset, slot.length)
        if hash_bytes(data) == digest:
            return data
        mark = self._mark_bad(digest, slot.pack)
        other = self._slot(digest)  # another pack may hold it too (two writers stored it)
        if other is not None:
            data = self.objects.get_range(other.pack, other.offset, other.length)
            if hash_bytes(data) == digest:
                return data
            self._mark_bad(digest, other.pack)
        raise CorruptBlobError(digest, f"{self.url}/{slot.pack}", f"{self.url}/{mark}")

    def _mark_bad(self, digest: str, pack: str) -> str:
        """Mark the slot of ``digest`` in ``pack`` corrupt, for every process; returns the mark."""
        mark = mark_key(pack, digest)
        self.objects.put(mark, b"")
        _log.info("blob %s in %s/%s is corrupt; its slot is marked %s", digest, self.url, pack, mark)
        with self._lock:
            self._bad.setdefault(digest, set()).add(pack)
            if self._index.get(digest, PackSlot("", 0, 0)).pack == pack:
                del self._index[digest]
                self._index.update(self._other_slots(digest))
        return mark

    def _other_slots(self, digest: str) -> dict[str, PackSlot]:
        """The good slots of ``digest`` in the packs already loaded (their indexes are read
        again: the in-memory index keeps one slot per digest)."""
        loaded = sorted(self._loaded)
        for key, raw in zip(loaded, _get_all(self.objects, loaded, self.objects.capabilities.local), strict=True):
            if raw is None:
                continue
            try:
                slot = read_index(key, raw, None).get(digest)
            except StoreError:
                continue
            if slot is not None and slot.pack not in self._bad[digest]:
                return {digest: slot}
        return {}

    def quarantine(self, digest: str, verify: bool = True) -> str | None:
        """Move the large blob ``digest``, found corrupt, under ``quarantine/`` (kept for a
        look, never read or collected); returns its new key, or None when it was gone
        already or (with ``verify``) found intact.

        With ``verify`` the moved bytes are hashed once more: the read that found them
        corrupt may have been bad, or a writer in another process may have stored the
        right bytes since; either way they go back.
        """
        key = blob_key(digest)
        aside = f"{QUARANTINE}{key}.{uuid.uuid4().hex[:12]}"
        try:
            self.objects.move(key, aside)
        except ObjectNotFoundError:
            return None  # another reader set it aside first
        if verify and self._hash_of(aside) == digest:
            tmp = self.objects.temp_path()
            self.objects.get_file(aside, tmp)
            self.objects.put_file(key, tmp)
            self.objects.delete(aside)
            return None
        _log.info("blob %s in %s is corrupt; moved to %s", digest, self.url, aside)
        return aside

    def _hash_of(self, key: str) -> str | None:
        """The digest of the bytes under ``key`` (None when it is gone)."""
        local = self.objects.local_path(key)
        if local is not None:
            return hash_file(local)[0]
        tmp = self.objects.temp_path()
        try:
            self.objects.get_file(key, tmp)
            return hash_file(tmp)[0]
        except ObjectNotFoundError:
            return None
        finally:
            tmp.unlink(missing_ok=True)

    def _fetch(self, digest: str, slot: PackSlot | None) -> tuple[bytes, str]:
        if slot is not None:
            return self.objects.get_range(slot.pack, slot.offset, slot.length), slot.pack
        try:
            return self.objects.get(blob_key(digest)), blob_key(digest)
        except ObjectNotFoundError:
            raise self._not_found(digest) from None

    def _not_found(self, digest: str) -> QuireError:
        """The error for a blob found nowhere: set aside as corrupt, missing, or maybe in a
        pack whose index is damaged."""
        if digest in self._bad:
            pack = sorted(self._bad[digest])[0]
            return CorruptBlobError(digest, f"{self.url}/{pack}", f"{self.url}/{mark_key(pack, digest)}")
        key = blob_key(digest)
        aside = next(iter(self.objects.list(f"{QUARANTINE}{key}.")), None)
        if aside is not None:
            return CorruptBlobError(digest, f"{self.url}/{key}", f"{self.url}/{aside.key}")
        if not self._damaged:
            return BlobNotFoundError(f"blob {digest} is missing from {self.url}", digest)
        names = ", ".join(f"{self.url}/{key}" for key in sorted(self._damaged))
        return DamagedIndexError(
            f"blob {digest} is not found in {self.url}; it may be in the pack of a damaged index "
            f"({names}). Log its files again (they are stored anew), or restore the version with "
            "`quire artifact verify NAME --repair --from DIR`"
        )

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
            for start, end, group in coalesce(wanted):
                try:
                    chunk = self.objects.get_range(pack, start, end - start)
                except ObjectNotFoundError:  # rewritten by gc: one by one, from the new pack
                    for _, digest in group:
                        yield digest, self.read(digest)
                    continue
                for slot, digest in group:
                    data = chunk[slot.offset - start : slot.offset - start + slot.length]
                    if hash_bytes(data) != digest:
                        data = self._after_corrupt(digest, slot)
                    yield digest, data

    def read_to_file(self, digest: str, dest: Path) -> None:
        """Write the verified blob to the new file ``dest`` (removed again if corrupt)."""
        slot = self._slot(digest)
        if slot is not None:
            dest.write_bytes(self.read(digest))
            return
        for _ in range(2):  # again once when what was read is found intact in the store
            try:
                self.objects.get_file(blob_key(digest), dest)
            except ObjectNotFoundError:
                raise self._not_found(digest) from None
            if hash_file(dest)[0] == digest:
                return
            dest.unlink(missing_ok=True)
            aside = self.quarantine(digest)
            if aside is not None:
                raise CorruptBlobError(digest, f"{self.url}/{blob_key(digest)}", f"{self.url}/{aside}")
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

    def _write_pack(self, spool: Spool) -> int:
        """Store ``spool`` as a new pack, then its index, both durable; returns the bytes
        written."""
        pack_id = uuid.uuid4().hex
        pack_key, idx_key = f"packs/{pack_id}.pack", f"packs/{pack_id}.idx"
        index = index_bytes(spool.slots.items())
        try:
            spool.close()
            self.objects.put_file(pack_key, spool.path)
            self.objects.put(idx_key, index)
        except StoreError:
            raise  # already says which store and what to do
        except OSError as exc:
            raise StoreError(f"cannot write a pack to {self.url}: {exc.strerror or exc}") from exc
        self._add_to_index(idx_key, {d: PackSlot(pack_key, o, n) for d, (o, n) in spool.slots.items()})
        return spool.size + len(index)

    # -- for gc -------------------------------------------------------------------------

    def consolidate(self) -> None:
        """Write one combined index over every pack present, and drop the older ones
        (run by gc after its sweep and by ``quire store upgrade``).

        Interface only for now: the combined index lands with the scale issue.
        """

    def inventory(self) -> Inventory:
        """Everything stored now: large blobs, packs with their indexes, and strays."""
        large = {info.key[len("objects/") :].replace("/", ""): info for info in self.objects.list("objects/")}
        packs: dict[str, ObjectInfo] = {}
        indexes: dict[str, ObjectInfo] = {}
        strays: list[ObjectInfo] = []
        marks: dict[str, list[tuple[str, ObjectInfo]]] = {}  # pack → (digest, mark) of its bad slots
        for info in self.objects.list("packs/"):
            if info.key.endswith(".pack"):
                packs[info.key] = info
            elif info.key.endswith(".idx"):
                indexes[pack_of(info.key)] = info
            elif info.key.endswith(BAD_MARK):
                digest, pack = parse_mark(info.key)
                marks.setdefault(pack, []).append((digest, info))
            else:
                strays.append(info)
        for pack in set(marks) - set(packs):
            strays += [info for _, info in marks.pop(pack)]  # the pack went: its marks go too
        found: dict[str, StoredPack] = {}
        damaged: list[ObjectInfo] = []
        for key, info in packs.items():
            idx = indexes.pop(key, None)
            try:
                slots = read_index(idx.key, self.objects.get(idx.key), info.size) if idx else None
            except ObjectNotFoundError:
                slots = None  # deleted while we listed: a gc's leftover, or going
            except StoreError:  # a damaged index: what its pack holds is unknown
                damaged += [info, idx] if idx else [info]
                continue
            if slots is None:
                strays.append(info)  # a pack whose index was never written (or is gone)
            else:
                for digest, _ in marks.get(key, ()):
                    slots.pop(digest, None)  # a corrupt slot holds nothing worth keeping
                found[key] = StoredPack(info, idx, slots)  # type: ignore[arg-type]
        return Inventory(large, found, strays + list(indexes.values()), damaged)

    def delete(self, key: str) -> None:
        """Delete one object: a large blob's key, a stray, or a pack (its index first)."""
        require(self.objects, "deletes", "deleting from a blob store")
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
        require(self.objects, "deletes", "repacking")
        packs = list(packs)
        written, spool = 0, None
        try:
            for digest, data in self.read_many(sorted(set(keep))):
                spool = spool or Spool(self.objects)
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
        # Once (a pack another process writes meanwhile costs a duplicate, no more), and
        # not again right after a look (a draft's first writer comes after its epoch's reload).
        blobs.refresh(max_age=WRITER_LOOK)
        self._spool: Spool | None = None
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
        """Whether the blob is stored (with ``size`` bytes) or waiting in this writer."""
        return self._packed(digest, size) or (size >= SMALL and self.blobs.objects.size(blob_key(digest)) == size)

    def _packed(self, digest: str, size: int) -> bool:
        """Whether the blob is in a stored pack, or in the one this writer is making."""
        return self.blobs._in_pack(digest, size) or (self._spool is not None and digest in self._spool.slots)

    def add_bytes(self, data: bytes | bytearray | memoryview, digest: str | None = None) -> str:
        """Take one blob held in memory; returns its digest."""
        digest = digest or hash_bytes(data)
        size = len(data)
        if self._packed(digest, size):
            return digest
        if size >= SMALL:
            if not self.blobs._make_room(digest, size):
                self.blobs.objects.put(blob_key(digest), bytes(data))
                self.bytes_written += size
            return digest
        if self._spool is None:
            self._spool = Spool(self.blobs.objects)
        self._spool.add(digest, data)
        if self._spool.size >= PACK_TARGET:
            self.flush()
        return digest

    def add_file(self, path: Path | str, expected: str | None = None, size: int | None = None) -> tuple[str, int]:
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
        remote = uploader(objects)
        if remote is not None:
            return self._add_remote(Path(path), expected, remote)
        tmp = objects.temp_path()
        h, size = new_hasher(), 0
        durable = objects.capabilities.durable_local_writes  # it will be fsynced: start early
        try:
            with open(tmp, "wb", buffering=0) as dst:
                for chunk in read_chunks(path):
                    h.update(chunk)
                    append_chunk(dst, chunk, size, durable)
                    size += len(chunk)
            digest = h.hexdigest()
            _check_expected(path, expected, digest)
            self.blobs._make_room(digest, size)  # a stored blob of another size is set aside
            objects.put_file(blob_key(digest), tmp)
        except StoreError:
            raise  # already says which store and what to do
        except OSError as exc:
            raise StoreError(f"cannot store {path} in {self.blobs.url}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        self.bytes_written += size
        return digest, size

    def _add_remote(self, path: Path, expected: str | None, remote: SourceUploader) -> tuple[str, int]:
        """A large file into a remote store: hashed, then sent straight from its place.

        A staging copy would only cost a local write; instead the upload is abandoned
        (nothing stored) if the file changed since it was hashed.
        """
        try:
            before = os.stat(path)
            digest, size = hash_file(path)
            _check_expected(path, expected, digest)
            if not self._packed(digest, size) and not self.blobs._make_room(digest, size):
                remote.put_source(blob_key(digest), path, digest, before)
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


def _get_all(objects: ObjectReader, keys: list[str], local: bool) -> Iterator[bytes | None]:
    """The bytes of each key in order (None when it is gone), fetched in parallel: on an
    object store each is a request, and a process's first look may need thousands."""

    def get(key: str) -> bytes | None:
        try:
            return objects.get(key)
        except ObjectNotFoundError:
            return None

    if len(keys) < 2 or local:  # local files: threads only cost
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
