"""The combined index: one sorted file over the indexes of many packs, searched in place.

Every pack has its own index (``packs/<id>.idx``, the source of truth); a process that
loaded all of them paid for the whole store before its first lookup (34 s and 2.6 GB at
10⁷ blobs). A **combined index** ``packs/<name>.midx`` holds the rows of many packs,
sorted by digest, in columns a process maps and searches in place, so a lookup of k
blobs reads O(k log N) of it. It is a cache of the packs' indexes: built
from them (:mod:`quire.store.consolidate`), never the only record of anything, and rebuilt when
found damaged.

Layout (little-endian)::

    b"QMX1" | u32 packs | u64 rows                     header
    packs × (32 ASCII hex pack id | u64 pack size)     the pack table, sorted by id
    rows × 32 bytes  raw digests, sorted (then by pack number)
    rows × u32       pack number (into the pack table)
    rows × u32       length (packed blobs are below 1 MiB)
    rows × u64       offset
    32 bytes         BLAKE3 of everything before it

Imported only when a store has a combined index; numpy only for a vectorised search of
many digests (and by the writer): one lookup reads a few bytes of the file at a time.

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
import weakref
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..hashing import CHUNK, new_hasher
from .packs import MIDX_NAME, DamagedCombinedIndexError

if TYPE_CHECKING:
    import numpy as np

MIDX_MAGIC = b"QMX1"
HEADER = struct.Struct("<4sIQ")  # magic, packs, rows
PACK_ROW = struct.Struct("<32sQ")  # pack id (hex), pack size
ROW_BYTES = 32 + 4 + 4 + 8  #: bytes per row, over its four columns
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
TRAILER = 32
PACK_NAME = re.compile(r"packs/([0-9a-f]{32})\.pack")


def midx_key(name: str) -> str:
    """The key of the combined index named ``name`` (64 hex digits)."""
    return f"packs/{name}.midx"


#: rows a lookup reads at once once its search has narrowed to them (2 KiB of digests)
WINDOW = 64


class CombinedIndex:
    """One combined index, mapped read-only from a local file."""

    def __init__(self, key: str, path: Path) -> None:
        self.key = key
        self.path = path
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self._map: mmap.mmap | None = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
                # Kept open: a consolidation reads it by range after another process may
                # have deleted it (replaced by a newer one), which an open file survives.
                self.fd = os.dup(f.fileno())
                weakref.finalize(self, os.close, self.fd)
        except FileNotFoundError:
            raise  # deleted since it was listed (replaced by a newer one): not damage
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
        self._trailer = bytes(buf[expected - TRAILER : expected])
        self._starts = [digests, digests + 32 * n_rows, digests + 36 * n_rows, digests + 40 * n_rows]

    # The columns as numpy arrays over the mapping, for vectorised searches and merges;
    # made on first use, so that one lookup (``find``, ``row``) never imports numpy.
    @cached_property
    def digests(self) -> np.ndarray:
        return self._column("V32", 0)

    @cached_property
    def pack_no(self) -> np.ndarray:
        return self._column("<u4", 1)

    @cached_property
    def lengths(self) -> np.ndarray:
        return self._column("<u4", 2)

    @cached_property
    def offsets(self) -> np.ndarray:
        return self._column("<u8", 3)

    def _column(self, dtype: str, i: int) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self._map if self._map is not None else b"", dtype, self.rows, self._starts[i])

    def pread(self, n: int, at: int) -> bytes:
        """``n`` bytes of the file from ``at``, read (not mapped: a merge reads it all once)."""
        return os.pread(self.fd, n, at)

    def columns(self) -> list[tuple[str, int, int]]:
        """``(name, width, offset)`` of each column in the file."""
        names = ("digest", "pack", "length", "offset")
        return list(zip(names, (32, 4, 4, 8), self._starts, strict=True))

    def _damaged(self, why: str) -> DamagedCombinedIndexError:
        return DamagedCombinedIndexError(f"the combined index {self.key} is damaged ({why})", self.key)

    def verify(self) -> None:
        """Hash the whole file against its trailer and its name (O(size): once per file
        and machine, see :mod:`quire.store.blobs`); ``DamagedCombinedIndexError`` if wrong."""
        h = new_hasher()
        end, done = os.fstat(self.fd).st_size - TRAILER, 0
        while done < end:
            chunk = os.pread(self.fd, min(CHUNK, end - done), done)
            if not chunk:
                raise self._damaged("it was cut short while being read")
            h.update(chunk)
            done += len(chunk)
        digest = h.digest()
        if digest != self._trailer:
            raise self._damaged("its checksum does not match its bytes")
        found = MIDX_NAME.fullmatch(self.key)
        if found is not None and found.group(1) != digest.hex():
            raise self._damaged("its name is not the checksum of its bytes")

    def find(self, raw: bytes) -> range:
        """The row numbers holding the raw digest ``raw`` (duplicates sit together).

        Digests are uniform, so the search interpolates (a few probes, not log2 N), with
        a halving step whenever a probe did not halve the range (never worse than a
        binary search, whatever the bytes); the last :data:`WINDOW` rows are read at once
        and bisected in memory. Read (``pread``), not mapped: on a mapping each probe's
        page fault maps its neighbours too, and a gc's 10⁵ lookups left most of a
        10⁷-row index in its resident memory. In Python: for one digest, numpy's call
        overheads cost more than the probes (a writer asks per file).
        """
        if self._map is None:
            return range(0)
        at, rows = self._starts[0], self.rows
        key = int.from_bytes(raw[:8], "big")
        lo, hi = 0, rows  # rows below lo hold less than raw; rows from hi on, not less
        low, high = 0, 1 << 64  # the leading 8 bytes of rows lo - 1 and hi, as numbers
        halve = False
        while hi - lo > WINDOW:
            span = hi - lo
            if halve or high <= low:
                mid = (lo + hi) // 2
            else:
                mid = min(max(lo + (key - low) * span // (high - low), lo), hi - 1)
            probe = self._read(at + 32 * mid, 32)
            if probe < raw:
                lo, low = mid + 1, int.from_bytes(probe[:8], "big")
            else:
                hi, high = mid, int.from_bytes(probe[:8], "big")
            halve = hi - lo > span // 2
        window = self._read(at + 32 * lo, 32 * (hi - lo))
        i, j = 0, hi - lo
        while i < j:
            m = (i + j) // 2
            if window[32 * m : 32 * m + 32] < raw:
                i = m + 1
            else:
                j = m
        first = end = lo + i
        while end < hi and window[32 * (end - lo) : 32 * (end - lo) + 32] == raw:
            end += 1
        while end == hi and end < rows and self._read(at + 32 * end, 32) == raw:
            end, hi = end + 1, hi + 1  # duplicates past the window: one by one (rare)
        return range(first, end)

    def row(self, row: int) -> tuple[int, int, int]:
        """``(pack number, offset, length)`` of a row (read, not mapped: see :meth:`find`)."""
        starts = self._starts
        (number,) = _U32.unpack(self._read(starts[1] + 4 * row, 4))
        (length,) = _U32.unpack(self._read(starts[2] + 4 * row, 4))
        (offset,) = _U64.unpack(self._read(starts[3] + 8 * row, 8))
        return number, offset, length

    def _read(self, at: int, n: int) -> bytes:
        data = os.pread(self.fd, n, at)
        if len(data) != n:
            raise self._damaged("it was cut short while being read")
        return data

    def find_many(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each raw digest of ``raw`` (dtype V32): its first row, and whether that row
        holds it (vectorised: 20,000 lookups in one search)."""
        import numpy as np

        lo = np.searchsorted(self.digests, raw, "left")
        if not self.rows:
            return lo, np.zeros(len(raw), bool)
        at = np.minimum(lo, self.rows - 1)
        return at, (lo < self.rows) & (self.digests[at] == raw)

    def close(self) -> None:
        """Unmap (views taken from it must be gone)."""
        for column in ("digests", "pack_no", "lengths", "offsets"):
            self.__dict__.pop(column, None)
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a view still exported: the collector unmaps it
                self._map.close()
            self._map = None


class Chosen:
    """The combined indexes a blob store serves lookups from: disjoint in the packs they
    cover, each with a mask of the packs still present as indexed (gc may have deleted
    one since; a row of a pack not present is never returned)."""

    def __init__(self, indexes: list[CombinedIndex], present: dict[str, int]) -> None:
        self.indexes = indexes
        self.usable: list[list[bool]] = []
        self.covered: set[str] = set()
        self.update(present)

    def update(self, present: dict[str, int]) -> None:
        """Take the latest listing of ``packs/`` (key → size)."""
        self.usable, self.covered = [], set()
        for index in self.indexes:
            ok = [present.get(pack) == size for pack, size in zip(index.packs, index.sizes, strict=True)]
            self.usable.append(ok)
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
                number, offset, length = index.row(row)
                if number >= len(index.packs):
                    raise index._damaged(f"row {row} names pack number {number} of {len(index.packs)}")
                pack = index.packs[number]
                if usable[number] and pack not in bad:
                    return pack, offset, length
        return None

    def lengths(self, digests: list[str]) -> np.ndarray:
        """The length of each digest's first row in a present pack (-1: none there), in
        one vectorised search per index. A digest with two rows whose first is in a pack
        gone gets -1 here; callers ask :meth:`slot` for those they still miss."""
        import numpy as np

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
            good = hit & (out < 0) & np.array(usable, bool)[np.minimum(numbers, len(index.packs) - 1)]
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
