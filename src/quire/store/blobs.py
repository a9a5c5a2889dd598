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
from typing import TYPE_CHECKING, Any

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
from .packrows import PackRows, read_rows
from .packs import (
    BAD_MARK,
    MIDX_NAME,
    DamagedCombinedIndexError,
    ListedPack,
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

if TYPE_CHECKING:
    from .consolidate import Consolidation
    from .midx import Chosen, CombinedIndex

SMALL = 1 << 20  #: blobs below this many bytes go into packs
PACK_TARGET = 32 << 20  #: a pack is closed once it holds this many bytes
#: seconds within which a new writer takes the last look at the packs as its own
WRITER_LOOK = 1.0
#: a writer's flush combines the newer packs' indexes once this many are loaded one by
#: one: every process that opens the store reads each of them whole (see consolidate)
NEWER_PACKS = 32
#: seconds after its last change within which a verified combined index is not sealed
RACY = 2.0
_log = logging.getLogger("quire")
QUARANTINE = "quarantine/"  #: where corrupt large blobs are moved (never read, never collected)
#: told of bytes as they are stored (a progress bar's listener; see BlobWriter.add_file)
Report = Callable[[int], None]


def blob_key(digest: str) -> str:
    """The object key of a large blob; ``InvalidDigestError`` unless ``digest`` is one."""
    return "objects/" + digest_path(check_digest(digest, "a blob request"))


@dataclass(frozen=True)
class Listing:
    """The packs a blob store holds at one moment (see :meth:`BlobStore.listing`)."""

    packs: list[ListedPack]  #: sorted by key
    strays: list[ObjectInfo]  #: packs without an index, indexes without a pack, marks of gone packs


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
        #: the latest listing of ``packs/`` (key → size)
        self._present: dict[str, int] = {}
        #: the combined indexes lookups use (see :mod:`quire.store.midx`); packs they
        #: cover are not loaded into ``_index``, which holds the newer packs only
        self._chosen: Chosen | _NoCombined = NO_COMBINED
        self._midx_keys: list[str] | None = None  # the combined indexes listed when chosen
        self._opened: dict[str, CombinedIndex] = {}
        self._midx_bad: dict[str, str] = {}  # combined indexes found damaged (key → why)
        self._cache = midx_cache(self.url)
        self._consolidating = threading.Lock()

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
            present = self._present = {info.key: info.size for info in self.objects.list("packs/")}
            self._choose(present)
            if prune:
                gone = {k for k in self._loaded if k not in present or pack_of(k) not in present}
                if gone:
                    # Load the newer packs' indexes again: the dict holds one slot per
                    # digest, and a blob of a gone pack may be in another one loaded already
                    # (two writers stored it). Few: the rest are in a combined index.
                    self._index, self._loaded = {}, set()
                self._damaged.clear()  # looked at again: one may have been restored or removed
            marks = [parse_mark(k) for k in present if k.endswith(BAD_MARK)]
            fresh = [(d, p) for d, p in marks if p not in self._bad.get(d, ())]
            for digest, pack in fresh:
                self._bad.setdefault(digest, set()).add(pack)
            if any(self._index.get(d, PackSlot("", 0, 0)).pack == p for d, p in fresh):
                # Marked by another process: load every index again, so that another slot
                # of the blob, if any pack holds one, is found instead (rare: corruption).
                self._index, self._loaded = {}, set()
            covered = self._chosen.covered
            new = [
                k
                for k in sorted(present)
                if k.endswith(".idx")
                and k not in self._loaded
                and k not in self._damaged
                and pack_of(k) in present
                and pack_of(k) not in covered
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

    def _choose(self, present: dict[str, int]) -> None:
        """Pick the combined indexes to serve lookups from (under the lock): the one
        covering the most packs present as indexed, then any others disjoint from those
        taken (a consolidation of newer packs writes one beside the large one); ties go
        to the first key. Each is verified before it is first used on this machine."""
        keys = sorted(k for k in present if MIDX_NAME.fullmatch(k) and k not in self._midx_bad)
        if keys == self._midx_keys:
            self._chosen.update(present)  # a pack gc deleted is no longer served
            return
        self._midx_keys = keys
        if not keys:
            self._chosen, self._opened = NO_COMBINED, {}
            return
        from .midx import Chosen  # numpy, only for a store that has a combined index

        opened = {key: index for key in keys if (index := self._open_midx(key)) is not None}
        self._opened = opened

        def score(index: CombinedIndex) -> int:
            return sum(present.get(p) == n for p, n in zip(index.packs, index.sizes, strict=True))

        chosen: list[CombinedIndex] = []
        taken: set[str] = set()
        for index in sorted(opened.values(), key=lambda ix: (-score(ix), ix.key)):
            if score(index) == 0 or taken.intersection(index.packs):
                continue
            try:
                self._verify_once(index)
            except DamagedCombinedIndexError as exc:
                self._distrust(index.key, exc)
                continue
            chosen.append(index)
            taken.update(index.packs)
        self._chosen = Chosen(chosen, present) if chosen else NO_COMBINED
        covered = self._chosen.covered
        if covered and self._index:  # their slots are served from the combined index now
            self._index = {d: s for d, s in self._index.items() if s.pack not in covered}
            self._loaded = {k for k in self._loaded if pack_of(k) not in covered}

    def _open_midx(self, key: str) -> CombinedIndex | None:
        """Map the combined index ``key`` (a remote one is first copied into this
        machine's cache, verified); None when it is damaged or gone."""
        from .midx import CombinedIndex

        index = self._opened.get(key)
        if index is not None:
            return index
        try:
            path = self.objects.local_path(key) or self._cached_copy(key)
            return CombinedIndex(key, path) if path is not None else None
        except FileNotFoundError:
            return None  # deleted since the listing: a newer one replaced it
        except DamagedCombinedIndexError as exc:
            self._distrust(key, exc)
            return None

    def _cached_copy(self, key: str) -> Path | None:
        """The local copy of a remote combined index (downloaded and verified once: its
        name is its digest, so a copy is never stale); None when it is gone."""
        from .midx import CombinedIndex

        found = MIDX_NAME.fullmatch(key)
        assert found is not None
        path = self._cache / f"{found.group(1)}.midx"
        if path.is_file():
            return path
        try:
            self._cache.mkdir(parents=True, exist_ok=True)
            tmp = self._cache / f"{uuid.uuid4().hex}.partial"
            try:
                self.objects.get_file(key, tmp)
            except ObjectNotFoundError:
                return None
            try:
                CombinedIndex(key, tmp).verify()
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise DamagedCombinedIndexError(f"cannot keep a copy of {key} in {self._cache}: {exc}", key) from exc
        self._seal(path)
        return path

    def _verify_once(self, index: CombinedIndex) -> None:
        """Verify ``index`` unless this machine did already, for this very file: a seal in
        the cache records its device, inode, size and mtime (O(size) once, then a stat;
        a file rewritten or cut short since no longer matches)."""
        seal = self._cache / f"{Path(index.key).stem}.ok"
        try:
            if seal.read_text() == _stat_of(index.fd):
                return
        except OSError:
            pass
        index.verify()
        self._seal(index.path, index.fd)

    def _seal(self, path: Path, fd: int | None = None) -> None:
        """Record that ``path`` was verified, unless it changed too recently: a change
        within the same tick of the file system's clock would leave its stat as sealed
        (git's "racy" entries), so a young file is verified again next time."""
        try:
            sealed = _stat_of(path if fd is None else fd)  # the open file: its path may be gone
            if time.time() - os.stat(path if fd is None else fd).st_mtime < RACY:
                return
            self._cache.mkdir(parents=True, exist_ok=True)
            tmp = self._cache / f"{uuid.uuid4().hex}.partial"
            tmp.write_text(sealed)
            os.replace(tmp, self._cache / f"{path.stem}.ok")
        except OSError:
            pass  # a read-only cache: verified again next time

    def _distrust(self, key: str, exc: Exception) -> None:
        """Never use the combined index ``key`` again in this process (its packs are
        read from their own indexes; the next consolidation replaces it)."""
        if key not in self._midx_bad:
            _log.warning("%s; the packs' own indexes are used instead (`quire store upgrade` rebuilds it)", exc)
        self._midx_bad[key] = str(exc)
        self._opened.pop(key, None)
        if any(index.key == key for index in self._chosen.indexes):
            from .midx import Chosen

            left = [ix for ix in self._chosen.indexes if ix.key != key]
            self._chosen = Chosen(left, self._present) if left else NO_COMBINED
            self._midx_keys = None  # choose again at the next look

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
        slot = self._find(digest)
        if slot is None:
            self.refresh()
            slot = self._find(digest)
        return slot

    def _find(self, digest: str) -> PackSlot | None:
        """The slot of ``digest``: in a newer pack, else in a combined index (skipping the
        packs whose slot of it is marked corrupt)."""
        slot = self._index.get(digest)
        if slot is not None:
            return slot
        try:
            found = self._chosen.slot(digest, self._bad.get(digest, ()))
        except DamagedCombinedIndexError as exc:
            with self._lock:
                self._distrust(exc.key, exc)
            self.refresh()
            return self._find(digest)  # without it: each damaged one is distrusted once
        return PackSlot(*found) if found is not None else None

    # -- presence ---------------------------------------------------------------------

    def missing(self, sizes: Mapping[str, int]) -> set[str]:
        """The digests among ``sizes`` (digest → size) that the store does not hold with
        that size (a blob set aside as corrupt is not held)."""
        small = {d: s for d, s in sizes.items() if s < SMALL}
        lacking = self._not_packed(small)
        if lacking or self._midx_keys is None:
            self.refresh()
            lacking = self._not_packed({d: small[d] for d in lacking})
        return lacking | {d for d, size in sizes.items() if size >= SMALL and self.objects.size(blob_key(d)) != size}

    def _not_packed(self, sizes: Mapping[str, int]) -> set[str]:
        """The digests among ``sizes`` with no slot of that size in a pack: the newer
        packs' dict first, then one vectorised search of the combined indexes."""
        index, no_slot = self._index, PackSlot("", 0, -1)  # inlined: 20,000 files, 20,000 calls
        rest = [d for d, s in sizes.items() if index.get(d, no_slot).length != s]
        if not rest or not self._chosen.indexes:
            return set(rest)
        try:
            # One vectorised search for many; for a few, a search each (no numpy at all).
            lengths = self._chosen.lengths(rest).tolist() if len(rest) > 16 else None
        except DamagedCombinedIndexError:
            lengths = None  # _find distrusts it and looks again
        out = set()
        for i, digest in enumerate(rest):
            if lengths is not None and lengths[i] == sizes[digest] and digest not in self._bad:
                continue
            slot = self._find(digest)  # a digest in two packs, one gone or marked; or none
            if slot is None or slot.length != sizes[digest]:
                out.add(digest)
        return out

    def has(self, digest: str, size: int) -> bool:
        """Whether the blob is stored (with ``size`` bytes)."""
        return not self.missing({digest: size})

    def _in_pack(self, digest: str, size: int) -> bool:
        slot = self._find(digest)
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
        if self._index.get(digest) != slot and not self._confirm(digest, slot):
            return self.read(digest)  # the combined index was wrong, not the pack
        mark = self._mark_bad(digest, slot.pack)
        other = self._slot(digest)  # another pack may hold it too (two writers stored it)
        if other is not None:
            data = self.objects.get_range(other.pack, other.offset, other.length)
            if hash_bytes(data) == digest:
                return data
            self._mark_bad(digest, other.pack)
        raise CorruptBlobError(digest, f"{self.url}/{slot.pack}", f"{self.url}/{mark}")

    def _confirm(self, digest: str, slot: PackSlot) -> bool:
        """Whether the pack's own index agrees with a slot found in a combined index; if
        not, that combined index is damaged and is never used again (no good slot is
        marked corrupt because a cache of the indexes was wrong)."""
        try:
            idx_key = slot.pack.removesuffix(".pack") + ".idx"
            agrees = read_index(idx_key, self.objects.get(idx_key), None).get(digest) == slot
        except (ObjectNotFoundError, StoreError):
            agrees = False
        if not agrees:
            with self._lock:
                for index in list(self._chosen.indexes):
                    if slot.pack in index.packs:
                        self._distrust(
                            index.key,
                            DamagedCombinedIndexError(
                                f"the combined index {index.key} is damaged (its slot of {digest} disagrees with "
                                f"{slot.pack.removesuffix('.pack')}.idx)",
                                index.key,
                            ),
                        )
            self.refresh()
        return agrees

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
        if verify and self.hash_of(aside) == digest:
            tmp = self.objects.temp_path()
            self.objects.get_file(aside, tmp)
            self.objects.put_file(key, tmp)
            self.objects.delete(aside)
            return None
        _log.info("blob %s in %s is corrupt; moved to %s", digest, self.url, aside)
        return aside

    def hash_of(self, key: str) -> str | None:
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
        gone = self._chosen.gone(digest)
        if gone:
            names = ", ".join(f"{self.url}/{pack}" for pack in gone)
            return BlobNotFoundError(
                f"blob {digest} is missing from {self.url}: the combined index lists it in {names}, which is "
                "gone or not as indexed; `quire gc` or `quire store upgrade` writes an index without it",
                digest,
            )
        if not self._damaged:
            return BlobNotFoundError(f"blob {digest} is missing from {self.url}", digest)
        names = ", ".join(f"{self.url}/{key}" for key in sorted(self._damaged))
        return DamagedIndexError(
            f"blob {digest} is not found in {self.url}; it may be in the pack of a damaged index "
            f"({names}). Log its files again (they are stored anew), or restore the version with "
            "`quire artifact verify NAME --repair --from DIR`"
        )

    def slots(self, digests: Iterable[str]) -> dict[str, PackSlot | None]:
        """The pack slot of each digest, None for one in no pack (a large blob, or one the
        store lacks): for a reader that plans its own range reads, pack by pack."""
        return {digest: self._slot(digest) for digest in dict.fromkeys(digests)}

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

    def consolidate(self, full: bool = True) -> Consolidation:
        """Write one combined index over every pack present, and drop the ones it
        replaces (run by gc after its sweep and by ``quire store upgrade``); without
        ``full``, over the newer packs and the small combined indexes only (a writer's
        flush). See :mod:`quire.store.consolidate`."""
        from .consolidate import consolidate  # numpy: only where indexes are combined

        require(self.objects, "deletes", "consolidating the pack indexes") if full else None
        with self._consolidating:
            return consolidate(self, full)

    def _after_flush(self) -> None:
        """A writer flushed a pack: combine the newer packs once there are many (every
        process that opens the store would read each of their indexes whole). A failure
        costs only speed: the packs' own indexes serve."""
        if len(self._loaded) < NEWER_PACKS or not self.objects.capabilities.deletes:
            return
        from .consolidate import consolidate

        try:
            with self._consolidating:
                consolidate(self, full=False)
        except StoreError as exc:
            _log.warning("could not combine the pack indexes of %s (%s); they are read one by one", self.url, exc)

    def listing(self) -> Listing:
        """The packs stored now, with their indexes and marks, and the strays beside them
        (one listing of ``packs/``; no index is read: see :meth:`pack_rows`)."""
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
        listed = []
        for key, info in sorted(packs.items()):
            idx = indexes.pop(key, None)
            if idx is None:
                strays.append(info)  # a pack whose index was never written (or is gone)
            else:
                listed.append(ListedPack(info, idx, frozenset(d for d, _ in marks.get(key, ()))))
        return Listing(listed, strays + list(indexes.values()))

    def large_blobs(self) -> Iterator[tuple[str, ObjectInfo]]:
        """``(digest, object)`` of every large blob, as the listing of ``objects/`` goes
        (one at a time: nothing is held)."""
        for info in self.objects.list("objects/"):
            yield info.key[len("objects/") :].replace("/", ""), info

    def pack_rows(self, pack: ListedPack) -> PackRows | None:
        """What ``pack`` holds, as its index's rows (None when the index went since the
        listing: a gc's leftover, or going); ``StoreError`` when the index is damaged."""
        try:
            raw = self.objects.get(pack.index.key)
        except ObjectNotFoundError:
            return None
        return read_rows(pack.index.key, raw, pack.info.size)

    def inventory(self) -> Inventory:
        """Everything stored now: large blobs, packs with what they hold, and strays.

        Holds every slot of every pack: for tests and small stores. gc streams the same
        from :meth:`listing`, :meth:`large_blobs` and :meth:`pack_rows`.
        """
        listing = self.listing()
        found: dict[str, StoredPack] = {}
        strays, damaged = list(listing.strays), []
        for pack in listing.packs:
            try:
                rows = self.pack_rows(pack)
            except StoreError:  # a damaged index: what its pack holds is unknown
                damaged += [pack.info, pack.index]
                continue
            if rows is None:
                strays.append(pack.info)
                continue
            slots = {d: s for d, s in rows.slots.items() if d not in pack.marked}  # a corrupt slot holds nothing
            found[pack.info.key] = StoredPack(pack.info, pack.index, pack.marked, slots)
        return Inventory(dict(self.large_blobs()), found, strays, damaged)

    def delete(self, key: str) -> None:
        """Delete one object: a large blob's key, a stray, or a pack (its index first)."""
        require(self.objects, "deletes", "deleting from a blob store")
        if key.endswith(".pack"):
            # Index first: whoever reads the indexes afterwards no longer looks in the pack.
            self.objects.delete(key.removesuffix(".pack") + ".idx")
            with self._lock:
                self._index = {d: s for d, s in self._index.items() if s.pack != key}
                self._present.pop(key, None)
                self._chosen.update(self._present)  # its rows in a combined index are not served
        self.objects.delete(key)

    def repack(
        self, packs: Iterable[ListedPack], keep: Iterable[str], before_delete: Callable[[], None] = lambda: None
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
        #: progress owed once the pack being gathered is durable: listener → bytes
        self._owed: dict[Report, int] = {}

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.flush()
        elif self._spool is not None:
            self._spool.discard()
            self._spool = None
            self._owed.clear()

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

    def add_file(
        self, path: Path | str, expected: str | None = None, size: int | None = None, report: Report | None = None
    ) -> tuple[str, int]:
        """Hash and store a file in one read; returns ``(digest, size)``.

        With ``expected`` the bytes must hash to it (a file changed since it was hashed
        raises ``ValidationError``), and a blob already stored is not read at all. ``size`` is
        the file's size when the caller has stat'ed it already.

        ``report(n)`` is told the file's bytes as they are stored, for a progress bar that
        must not reach the end before the bytes are durable: half as they are read, hashed
        and staged, the other half once they are durable in the store (fsynced, or
        uploaded; a small file's when its pack is, at the latest by :meth:`flush`).
        """
        if size is None:
            size = os.stat(path).st_size
        if expected is not None and self.holds(expected, size):
            if report is not None:
                report(size)
            return expected, size
        if size < SMALL:
            data = read_small(path)
            digest = hash_bytes(data)
            _check_expected(path, expected, digest)
            self.add_bytes(data, digest)
            if report is not None:
                staged = len(data) // 2
                report(staged)
                if self._spool is not None and digest in self._spool.slots:  # durable with the pack
                    self._owed[report] = self._owed.get(report, 0) + len(data) - staged
                else:  # stored before, or the pack it filled was written just now
                    report(len(data) - staged)
            return digest, len(data)
        objects = self.blobs.objects
        remote = uploader(objects)
        if remote is not None:
            return self._add_remote(Path(path), expected, remote, report)
        tmp = objects.temp_path()
        h, size, staged = new_hasher(), 0, 0
        durable = objects.capabilities.durable_local_writes  # it will be fsynced: start early
        try:
            with open(tmp, "wb", buffering=0) as dst:
                for chunk in read_chunks(path):
                    h.update(chunk)
                    append_chunk(dst, chunk, size, durable)
                    size += len(chunk)
                    if report is not None:
                        report(len(chunk) // 2)
                        staged += len(chunk) // 2
            digest = h.hexdigest()
            _check_expected(path, expected, digest)
            self.blobs._make_room(digest, size)  # a stored blob of another size is set aside
            objects.put_file(blob_key(digest), tmp)  # fsynced (a durable store): the other half
        except StoreError:
            raise  # already says which store and what to do
        except OSError as exc:
            raise StoreError(f"cannot store {path} in {self.blobs.url}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        self.bytes_written += size
        if report is not None:
            report(size - staged)
        return digest, size

    def _add_remote(
        self, path: Path, expected: str | None, remote: SourceUploader, report: Report | None
    ) -> tuple[str, int]:
        """A large file into a remote store: hashed, then sent straight from its place.

        A staging copy would only cost a local write; instead the upload is abandoned
        (nothing stored) if the file changed since it was hashed. Reported (see
        :meth:`add_file`) half as hashed, half as its parts are uploaded.
        """
        try:
            before = os.stat(path)
            h, size, hashed = new_hasher(), 0, 0
            for chunk in read_chunks(path):
                h.update(chunk)
                size += len(chunk)
                if report is not None:
                    report(len(chunk) // 2)
                    hashed += len(chunk) // 2
            digest = h.hexdigest()
            _check_expected(path, expected, digest)
            if not self._packed(digest, size) and not self.blobs._make_room(digest, size):
                sent = _Half(report)
                remote.put_source(blob_key(digest), path, digest, before, report=sent)
                self.bytes_written += size
                if report is not None:
                    report(size - hashed - sent.total)  # uploaded: what the parts did not say
            elif report is not None:
                report(size - hashed)
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot store {path} in {self.blobs.url}: {exc.strerror or exc}") from exc
        return digest, size

    def flush(self) -> None:
        """Write the gathered small blobs as one pack, then its index: both durable."""
        spool, self._spool = self._spool, None
        owed, self._owed = self._owed, {}
        if spool is not None:
            try:
                self.bytes_written += self.blobs._write_pack(spool)
            finally:
                spool.discard()
            self.blobs._after_flush()
        for report, nbytes in owed.items():  # the pack is durable: its files' second halves
            report(nbytes)


class _Half:
    """Passes on half of each count an upload reports (the other half of a file's bytes
    was reported as it was hashed), and keeps the total."""

    def __init__(self, report: Report | None) -> None:
        self.report, self.total = report, 0

    def __call__(self, nbytes: int) -> None:
        half = nbytes // 2
        self.total += half
        if self.report is not None:
            self.report(half)


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


class _NoCombined:
    """The combined indexes of a store that has none: lookups use the dict alone (and
    numpy is never imported)."""

    indexes: tuple[CombinedIndex, ...] = ()
    usable: tuple[Any, ...] = ()
    covered: frozenset[str] = frozenset()

    def update(self, present: dict[str, int]) -> None:
        pass

    def slot(self, digest: str, bad: Iterable[str] = ()) -> None:
        return None

    def gone(self, digest: str) -> list[str]:
        return []

    def lengths(self, digests: list[str]) -> Any:
        raise AssertionError("asked only of a store with combined indexes")


NO_COMBINED = _NoCombined()


def midx_cache(url: str) -> Path:
    """Where this machine keeps copies of a remote store's combined indexes, and the
    seals of verified ones: ``$QUIRE_CACHE_DIR``, else ``~/.cache/quire``, then
    ``midx/<a digest of the store's URL>`` (one cache may serve many stores)."""
    root = Path(os.environ.get("QUIRE_CACHE_DIR") or "~/.cache/quire").expanduser()
    return root / "midx" / hash_bytes(url.encode())[:16]


def _stat_of(path: Path | int) -> str:
    """What a seal records of a verified file (by path or open descriptor): a file
    rewritten, replaced or cut short since then no longer matches."""
    st = os.stat(path)
    return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}"


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
