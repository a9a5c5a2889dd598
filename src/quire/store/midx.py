"""The combined index: one sorted file over the indexes of many packs, searched in place.

Every pack has its own index (``packs/<id>.idx``, the source of truth); a process that
loaded all of them paid for the whole store before its first lookup (34 s and 2.6 GB at
10⁷ blobs). A **combined index** ``packs/<name>.midx`` holds the rows of many packs,
sorted by digest, in columns a process maps and binary-searches (``np.searchsorted``), so
a lookup of k blobs reads O(k log N) of it. It is a cache of the packs' indexes: built
from them (:func:`write_combined`), never the only record of anything, and rebuilt when
found damaged.

Layout (little-endian)::

    b"QMX1" | u32 packs | u64 rows                     header
    packs × (32 ASCII hex pack id | u64 pack size)     the pack table, sorted by id
    rows × 32 bytes  raw digests, sorted (then by pack number)
    rows × u32       pack number (into the pack table)
    rows × u32       length (packed blobs are below 1 MiB)
    rows × u64       offset
    32 bytes         BLAKE3 of everything before it

Columns rather than rows, so that the digests a search probes are one contiguous array
(a search over a strided column would copy it whole). The file's name is its trailing
BLAKE3 digest, so a copy cached by name is never stale. The pack sizes let a reader tell
a pack cut short (or replaced) from the one indexed: its rows are then not trusted.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StoreError
from ..hashing import hash_bytes, new_hasher, read_chunks
from .packs import IDX_MAGIC

MIDX_MAGIC = b"QMX1"
HEADER = struct.Struct("<4sIQ")  # magic, packs, rows
PACK_ROW = struct.Struct("<32sQ")  # pack id (hex), pack size
ROW_BYTES = 32 + 4 + 4 + 8  #: bytes per row, over its four columns
TRAILER = 32
#: a combined index's key; its name is the BLAKE3 of its bytes before the trailer
MIDX_NAME = re.compile(r"packs/([0-9a-f]{64})\.midx")
PACK_NAME = re.compile(r"packs/([0-9a-f]{32})\.pack")
#: a pack index's rows as stored (see :mod:`quire.store.packs`)
IDX_DTYPE = np.dtype([("digest", "V32"), ("offset", ">u8"), ("length", ">u8")])
#: a row while merging: sorted by digest, then pack number (a deterministic file: two
#: processes combining the same packs write the same bytes, under the same name)
ROW_DTYPE = np.dtype([("digest", "V32"), ("pack", "<u4"), ("length", "<u4"), ("offset", "<u8")])


def midx_key(name: str) -> str:
    """The key of the combined index named ``name`` (64 hex digits)."""
    return f"packs/{name}.midx"


class DamagedCombinedIndexError(StoreError):
    """A combined index that cannot be trusted (never used for a lookup)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class CombinedIndex:
    """One combined index, mapped read-only from a local file."""

    def __init__(self, key: str, path: Path) -> None:
        self.key = key
        self.path = path
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self._map: mmap.mmap | None = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except OSError as exc:
            why = f"cannot read the combined index {key}: {exc.strerror or exc}"
            raise DamagedCombinedIndexError(why, key) from exc
        buf: Any = self._map if self._map is not None else b""
        if size < HEADER.size or bytes(buf[:4]) != MIDX_MAGIC:
            raise self._damaged("it does not start like a Quire combined index")
        _, n_packs, n_rows = HEADER.unpack_from(buf, 0)
        table = HEADER.size
        digests = table + n_packs * PACK_ROW.size
        expected = digests + n_rows * ROW_BYTES + TRAILER
        if size != expected:
            raise self._damaged(f"it holds {size} bytes where its header says {expected}")
        packs, sizes = [], []
        for pack_id, pack_size in PACK_ROW.iter_unpack(buf[table:digests]):
            text = pack_id.decode("ascii", "replace")
            if not re.fullmatch(r"[0-9a-f]{32}", text):
                raise self._damaged("its pack table is garbled")
            packs.append(f"packs/{text}.pack")
            sizes.append(pack_size)
        #: pack number → pack key, and the size each had when indexed
        self.packs: list[str] = packs
        self.sizes: list[int] = sizes
        self.rows = n_rows
        at = digests
        self.digests = np.frombuffer(buf, "V32", n_rows, at)
        at += 32 * n_rows
        self.pack_no = np.frombuffer(buf, "<u4", n_rows, at)
        at += 4 * n_rows
        self.lengths = np.frombuffer(buf, "<u4", n_rows, at)
        at += 4 * n_rows
        self.offsets = np.frombuffer(buf, "<u8", n_rows, at)
        self._trailer = bytes(buf[expected - TRAILER : expected])

    def _damaged(self, why: str) -> DamagedCombinedIndexError:
        return DamagedCombinedIndexError(f"the combined index {self.key} is damaged ({why})", self.key)

    def verify(self) -> None:
        """Hash the whole file against its trailer and its name (O(size): once per file
        and machine, see :mod:`quire.store.blobs`); ``DamagedCombinedIndexError`` if wrong."""
        h = new_hasher()
        end = os.path.getsize(self.path) - TRAILER
        done = 0
        for chunk in read_chunks(self.path):
            take = min(len(chunk), end - done)
            h.update(chunk[:take])
            done += take
        digest = h.digest()
        if digest != self._trailer:
            raise self._damaged("its checksum does not match its bytes")
        found = MIDX_NAME.fullmatch(self.key)
        if found is not None and found.group(1) != digest.hex():
            raise self._damaged("its name is not the checksum of its bytes")

    def find(self, raw: bytes) -> range:
        """The row numbers holding the raw digest ``raw`` (duplicates sit together)."""
        key = np.frombuffer(raw, "V32")
        lo = int(np.searchsorted(self.digests, key[0], "left"))
        hi = lo
        while hi < self.rows and self.digests[hi] == key[0]:
            hi += 1
        return range(lo, hi)

    def find_many(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each raw digest of ``raw`` (dtype V32): its first row, and whether that row
        holds it (vectorised: 20,000 lookups in one search)."""
        lo = np.searchsorted(self.digests, raw, "left")
        if not self.rows:
            return lo, np.zeros(len(raw), bool)
        at = np.minimum(lo, self.rows - 1)
        return at, (lo < self.rows) & (self.digests[at] == raw)

    def close(self) -> None:
        """Unmap (views taken from it must be gone)."""
        self.digests = self.pack_no = self.lengths = self.offsets = np.empty(0)
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a view still exported: the collector unmaps it
                self._map.close()
            self._map = None


def idx_rows(raw: bytes) -> np.ndarray:
    """The rows of a pack index (already checked by :func:`~quire.store.packs.read_index`)."""
    return np.frombuffer(raw, IDX_DTYPE, offset=len(IDX_MAGIC))


class Source:
    """Rows of one pack index, or of one combined index, for :func:`write_combined`."""

    def __init__(self, digests: np.ndarray, packs: np.ndarray, lengths: np.ndarray, offsets: np.ndarray) -> None:
        # ``packs`` holds pack keys' numbers in the output's pack table (-1: dropped)
        self.digests, self.packs, self.lengths, self.offsets = digests, packs, lengths, offsets

    @classmethod
    def of_pack(cls, number: int, rows: np.ndarray) -> Source:
        """The rows of one pack's index, which will be pack ``number``."""
        rows = np.sort(rows, order="digest")  # written sorted; a search must not depend on it
        return cls(rows["digest"], np.full(len(rows), number, np.int64), rows["length"].astype("<u4"), rows["offset"])

    @classmethod
    def of_combined(cls, index: CombinedIndex, renumber: np.ndarray) -> Source:
        """The rows of ``index``; ``renumber`` maps its pack numbers to the output's (-1: drop)."""
        return cls(index.digests, renumber[index.pack_no], index.lengths, index.offsets)

    def bucket(self, lo: np.ndarray, hi: np.ndarray | None) -> np.ndarray:
        """The kept rows whose digest is in ``[lo, hi)``, as :data:`ROW_DTYPE`."""
        start = int(np.searchsorted(self.digests, lo, "left"))
        end = len(self.digests) if hi is None else int(np.searchsorted(self.digests, hi, "left"))
        keep = self.packs[start:end] >= 0
        out = np.empty(int(keep.sum()), ROW_DTYPE)
        out["digest"] = self.digests[start:end][keep]
        out["pack"] = self.packs[start:end][keep]
        out["length"] = self.lengths[start:end][keep]
        out["offset"] = self.offsets[start:end][keep]
        return out


def _bounds(rows: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Digest ranges that split ``rows`` uniform digests into chunks of ~64k rows: the
    merge holds one chunk of every source at a time, never all rows (480 MB at 10⁷)."""
    width = 1
    while width < 4 and rows >> (8 * width) > 65536:
        width += 1
    n = 256**width
    step = max(1, n // max(1, rows // 65536))
    starts = list(range(0, n, step))
    keys = [np.frombuffer(s.to_bytes(width, "big") + bytes(32 - width), "V32") for s in starts]
    for i, key in enumerate(keys):
        yield key[0], keys[i + 1][0] if i + 1 < len(keys) else None


def write_combined(path: Path, packs: list[tuple[str, int]], sources: Iterable[Source]) -> str:
    """Write the combined index of ``packs`` (pack id, size; sorted) from ``sources`` to
    the new file ``path``, merging their sorted rows chunk by chunk; returns its name."""
    sources = list(sources)
    n_rows = sum(int((s.packs >= 0).sum()) for s in sources)
    head = HEADER.pack(MIDX_MAGIC, len(packs), n_rows) + b"".join(
        PACK_ROW.pack(pack_id.encode("ascii"), size) for pack_id, size in packs
    )
    at = [len(head), len(head) + 32 * n_rows, len(head) + 36 * n_rows, len(head) + 40 * n_rows]
    widths = [32, 4, 4, 8]
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.pwrite(fd, head, 0)
        done = 0
        for lo, hi in _bounds(n_rows):
            parts = [s.bucket(lo, hi) for s in sources]
            merged = np.concatenate(parts) if parts else np.empty(0, ROW_DTYPE)
            merged.sort(order=("digest", "pack"))
            for i, column in enumerate(("digest", "pack", "length", "offset")):
                os.pwrite(fd, np.ascontiguousarray(merged[column]).tobytes(), at[i] + widths[i] * done)
            done += len(merged)
        assert done == n_rows, "every kept row is in exactly one chunk"
        os.ftruncate(fd, len(head) + ROW_BYTES * n_rows)  # an index of no rows has no columns
    finally:
        os.close(fd)
    h = new_hasher()
    for chunk in read_chunks(path):
        h.update(chunk)
    digest = h.digest()
    with open(path, "ab") as f:
        f.write(digest)
    return digest.hex()


def cache_folder(url: str) -> Path:
    """Where this machine keeps copies of a remote store's combined indexes, and the
    seals of verified ones: ``$QUIRE_CACHE_DIR``, else ``~/.cache/quire``, then
    ``midx/<a digest of the store's URL>`` (one cache may serve many stores)."""
    root = Path(os.environ.get("QUIRE_CACHE_DIR") or "~/.cache/quire").expanduser()
    return root / "midx" / hash_bytes(url.encode())[:16]


class Chosen:
    """The combined indexes a blob store serves lookups from: disjoint in the packs they
    cover, each with a mask of the packs still present as indexed (gc may have deleted
    one since; a row of a pack not present is never returned)."""

    def __init__(self, indexes: list[CombinedIndex], present: dict[str, int]) -> None:
        self.indexes = indexes
        self.usable: list[np.ndarray] = []
        self.covered: set[str] = set()
        self.update(present)

    def update(self, present: dict[str, int]) -> None:
        """Take the latest listing of ``packs/`` (key → size)."""
        self.usable, self.covered = [], set()
        for index in self.indexes:
            ok = [present.get(pack) == size for pack, size in zip(index.packs, index.sizes, strict=True)]
            self.usable.append(np.array(ok, bool))
            self.covered.update(pack for pack, good in zip(index.packs, ok, strict=True) if good)

    @property
    def rows(self) -> int:
        return sum(index.rows for index in self.indexes)

    def slot(self, digest: str, bad: Iterable[str] = ()) -> tuple[str, int, int] | None:
        """``(pack, offset, length)`` of ``digest`` in a present pack, skipping ``bad`` packs."""
        if not self.indexes:
            return None
        raw = bytes.fromhex(digest)
        for index, usable in zip(self.indexes, self.usable, strict=True):
            for row in index.find(raw):
                number = int(index.pack_no[row])
                if number >= len(index.packs):
                    raise index._damaged(f"row {row} names pack number {number} of {len(index.packs)}")
                pack = index.packs[number]
                if usable[number] and pack not in bad:
                    return pack, int(index.offsets[row]), int(index.lengths[row])
        return None

    def lengths(self, digests: list[str]) -> np.ndarray:
        """The length of each digest's first row in a present pack (-1: none there), in
        one vectorised search per index. A digest with two rows whose first is in a pack
        gone gets -1 here; callers ask :meth:`slot` for those they still miss."""
        out = np.full(len(digests), -1, np.int64)
        if not digests or not self.indexes:
            return out
        raw = np.frombuffer(bytes.fromhex("".join(digests)), "V32")
        for index, usable in zip(self.indexes, self.usable, strict=True):
            if not index.rows or not index.packs:
                continue
            at, hit = index.find_many(raw)
            numbers = index.pack_no[at].astype(np.int64)
            if (numbers[hit] >= len(index.packs)).any():
                raise index._damaged("a row names a pack number beyond its pack table")
            good = hit & (out < 0) & usable[np.minimum(numbers, len(index.packs) - 1)]
            out[good] = index.lengths[at][good]
        return out

    def gone(self, digest: str) -> list[str]:
        """The packs listed as holding ``digest`` that are not present (or not as indexed)."""
        raw = bytes.fromhex(digest)
        found = []
        for index, usable in zip(self.indexes, self.usable, strict=True):
            for row in index.find(raw):
                number = int(index.pack_no[row])
                if number < len(index.packs) and not usable[number]:
                    found.append(index.packs[number])
        return found
