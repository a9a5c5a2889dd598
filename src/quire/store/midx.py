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

Imported only when a store has a combined index, or one is written: numpy is not
needed to open a store without one (nor to ``import quire``).

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
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StoreError
from ..hashing import CHUNK, new_hasher, read_chunks
from .packs import IDX_MAGIC, MIDX_NAME, DamagedCombinedIndexError, read_index

MIDX_MAGIC = b"QMX1"
HEADER = struct.Struct("<4sIQ")  # magic, packs, rows
PACK_ROW = struct.Struct("<32sQ")  # pack id (hex), pack size
ROW_BYTES = 32 + 4 + 4 + 8  #: bytes per row, over its four columns
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
TRAILER = 32
PACK_NAME = re.compile(r"packs/([0-9a-f]{32})\.pack")
#: a pack index's rows as stored (see :mod:`quire.store.packs`)
IDX_DTYPE = np.dtype([("digest", "V32"), ("offset", ">u8"), ("length", ">u8")])
#: a row while merging: sorted by digest, then pack number (a deterministic file: two
#: processes combining the same packs write the same bytes, under the same name)
ROW_DTYPE = np.dtype([("digest", "V32"), ("pack", "<u4"), ("length", "<u4"), ("offset", "<u8")])


def midx_key(name: str) -> str:
    """The key of the combined index named ``name`` (64 hex digits)."""
    return f"packs/{name}.midx"


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
        at = digests
        self.digests = np.frombuffer(buf, "V32", n_rows, at)
        at += 32 * n_rows
        self.pack_no = np.frombuffer(buf, "<u4", n_rows, at)
        at += 4 * n_rows
        self.lengths = np.frombuffer(buf, "<u4", n_rows, at)
        at += 4 * n_rows
        self.offsets = np.frombuffer(buf, "<u8", n_rows, at)
        self._trailer = bytes(buf[expected - TRAILER : expected])
        self._starts = [digests, digests + 32 * n_rows, digests + 36 * n_rows, digests + 40 * n_rows]

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
        binary search, whatever the bytes). In Python over the mapped bytes: for one
        digest, numpy's call overheads cost more than the probes (a writer asks per file).
        """
        buf, at = self._map, self._starts[0]
        if buf is None:
            return range(0)
        key = int.from_bytes(raw[:8], "big")
        lo, hi = 0, self.rows  # rows below lo hold less than raw; rows from hi on, not less
        low, high = 0, 1 << 64  # the leading 8 bytes of rows lo - 1 and hi, as numbers
        halve = False
        while hi - lo > 8:
            span = hi - lo
            if halve or high <= low:
                mid = (lo + hi) // 2
            else:
                mid = min(max(lo + (key - low) * span // (high - low), lo), hi - 1)
            probe = buf[at + 32 * mid : at + 32 * mid + 32]
            if probe < raw:
                lo, low = mid + 1, int.from_bytes(probe[:8], "big")
            else:
                hi, high = mid, int.from_bytes(probe[:8], "big")
            halve = hi - lo > span // 2
        while lo < hi:
            mid = (lo + hi) // 2
            if buf[at + 32 * mid : at + 32 * mid + 32] < raw:
                lo = mid + 1
            else:
                hi = mid
        end = lo
        while end < self.rows and buf[at + 32 * end : at + 32 * end + 32] == raw:
            end += 1
        return range(lo, end)

    def row(self, row: int) -> tuple[int, int, int]:
        """``(pack number, offset, length)`` of a row."""
        buf, starts = self._map, self._starts
        assert buf is not None
        (number,) = _U32.unpack_from(buf, starts[1] + 4 * row)
        (length,) = _U32.unpack_from(buf, starts[2] + 4 * row)
        (offset,) = _U64.unpack_from(buf, starts[3] + 8 * row)
        return number, offset, length

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


def idx_rows(key: str, raw: bytes, pack_size: int) -> np.ndarray:
    """The rows of the pack index ``key``, sorted by digest; ``StoreError`` when it is
    damaged (the rule of :func:`~quire.store.packs.read_index`, without a dict of slots)."""
    intact = raw.startswith(IDX_MAGIC) and (len(raw) - len(IDX_MAGIC)) % IDX_DTYPE.itemsize == 0
    rows = np.frombuffer(raw, IDX_DTYPE, offset=len(IDX_MAGIC)) if intact else None
    if rows is None or int(rows["length"].sum()) != pack_size:
        read_index(key, raw, pack_size)  # raises, saying why
        raise StoreError(f"the pack index {key} is damaged")
    return np.sort(rows, order="digest")  # written sorted; a merge must not depend on it


class _Buckets:
    """Digest ranges that split ``rows`` uniform digests into chunks of ~64k rows: the
    merge holds one chunk at a time, never all rows (480 MB at 10⁷)."""

    def __init__(self, rows: int) -> None:
        self.width = 1 if rows < 1 << 22 else 2  # leading bytes that pick a bucket
        space = 256**self.width
        self.step = max(1, space // max(1, rows // 65536))
        self.count = -(-space // self.step)

    def of(self, digests: np.ndarray) -> np.ndarray:
        """The bucket of each raw digest."""
        lead = np.ascontiguousarray(digests).view(np.uint8).reshape(-1, 32)[:, : self.width].astype(np.int64)
        value = lead[:, 0] if self.width == 1 else lead[:, 0] * 256 + lead[:, 1]
        return np.asarray(value // self.step)

    def bound(self, bucket: int) -> np.void:
        """The smallest digest of ``bucket``."""
        lead = (bucket * self.step).to_bytes(self.width, "big")
        return np.frombuffer(lead + bytes(32 - self.width), "V32")[0]  # type: ignore[no-any-return]


def write_combined(
    path: Path,
    combined: list[tuple[CombinedIndex, np.ndarray]],
    newer: Iterable[tuple[str, int, np.ndarray]],
    expected_rows: int,
) -> tuple[str, list[str], int]:
    """Write a combined index to the new file ``path``: the rows of the ``combined``
    indexes (each with a mask of the packs to keep) and of the ``newer`` packs (pack key,
    size, rows as :func:`idx_rows` gives them). Returns its name, its packs and its rows.

    Two passes, in bounded memory: the newer rows are read one pack at a time and spilled
    to a scratch file by bucket (a range of digests); then bucket by bucket, the spilled
    rows and the combined indexes' rows of that range (found by a search, read with
    ``pread``, never mapped whole) are sorted and written to the columns.
    """
    buckets = _Buckets(expected_rows)
    spill = path.with_name(path.name + ".rows")
    pieces: list[list[tuple[int, int]]] = [[] for _ in range(buckets.count)]  # bucket → (at, rows)
    added: list[tuple[str, int]] = []  # the newer packs spilled, by their number there
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with open(spill, "w+b") as runs:
            at = 0
            for pack, size, rows in newer:
                spilled = np.empty(len(rows), ROW_DTYPE)
                spilled["digest"], spilled["pack"] = rows["digest"], len(added)
                spilled["length"], spilled["offset"] = rows["length"], rows["offset"]
                added.append((pack, size))
                which = buckets.of(spilled["digest"])
                cuts = np.searchsorted(which, np.arange(buckets.count + 1))  # rows are sorted
                runs.write(spilled.tobytes())
                for b in np.flatnonzero(np.diff(cuts)).tolist():
                    pieces[b].append((at + int(cuts[b]) * ROW_DTYPE.itemsize, int(cuts[b + 1] - cuts[b])))
                at += spilled.nbytes
            runs.flush()  # read back with pread below
            kept = {(p, n) for ix, keep in combined for p, n, ok in zip(ix.packs, ix.sizes, keep, strict=True) if ok}
            table = sorted(kept | set(added))
            number = {pack: i for i, (pack, _) in enumerate(table)}
            renumbered = [
                (index, np.array([number[p] if ok else -1 for p, ok in zip(index.packs, keep, strict=True)], np.int64))
                for index, keep in combined
            ]
            of_added = np.array([number[p] for p, _ in added], np.int64)
            n_rows = at // ROW_DTYPE.itemsize + sum(_kept(index, renumber) for index, renumber in renumbered)
            head = HEADER.pack(MIDX_MAGIC, len(table), n_rows) + b"".join(
                PACK_ROW.pack(_pack_id(pack).encode("ascii"), size) for pack, size in table
            )
            columns = [("digest", 32), ("pack", 4), ("length", 4), ("offset", 8)]
            starts, offset = [], len(head)
            for _, width in columns:
                starts.append(offset)
                offset += width * n_rows
            os.pwrite(fd, head, 0)
            done = 0
            for bucket in range(buckets.count):
                parts = [_spilled(runs.fileno(), a, n, of_added) for a, n in pieces[bucket]]
                parts += [_rows_of(index, renumber, buckets, bucket) for index, renumber in renumbered]
                merged = np.concatenate(parts) if parts else np.empty(0, ROW_DTYPE)
                merged.sort(order=("digest", "pack"))
                for (column, width), start in zip(columns, starts, strict=True):
                    os.pwrite(fd, np.ascontiguousarray(merged[column]).tobytes(), start + width * done)
                done += len(merged)
            assert done == n_rows, "every kept row is in exactly one bucket"
            os.ftruncate(fd, offset)  # an index of no rows has no columns to write
    finally:
        os.close(fd)
        spill.unlink(missing_ok=True)
    h = new_hasher()
    for chunk in read_chunks(path):
        h.update(chunk)
    digest = h.digest()
    with open(path, "ab") as f:
        f.write(digest)
    return digest.hex(), [pack for pack, _ in table], n_rows


def _pack_id(pack: str) -> str:
    found = PACK_NAME.fullmatch(pack)
    assert found is not None, "only packs named by writers are combined"
    return found.group(1)


def _spilled(fd: int, at: int, n: int, of_added: np.ndarray) -> np.ndarray:
    rows = np.frombuffer(os.pread(fd, n * ROW_DTYPE.itemsize, at), ROW_DTYPE).copy()
    rows["pack"] = of_added[rows["pack"]]
    return rows


def _kept(index: CombinedIndex, renumber: np.ndarray) -> int:
    """How many rows of ``index`` a merge keeps (those of packs ``renumber`` keeps)."""
    per_pack = np.bincount(index.pack_no, minlength=len(renumber))[: len(renumber)]
    return int(per_pack[renumber >= 0].sum())


def _rows_of(index: CombinedIndex, renumber: np.ndarray, buckets: _Buckets, b: int) -> np.ndarray:
    """The kept rows of ``index`` in bucket ``b``: the range found by a search of the
    mapped digests (a few pages), then its columns read with ``pread``."""
    lo = int(np.searchsorted(index.digests, buckets.bound(b), "left"))
    hi = index.rows if b + 1 == buckets.count else int(np.searchsorted(index.digests, buckets.bound(b + 1), "left"))
    n = hi - lo
    out = np.empty(n, ROW_DTYPE)
    for column, width, start in index.columns():
        raw = index.pread(width * n, start + width * lo)
        out[column] = np.frombuffer(raw, out.dtype[column] if column != "digest" else "V32")
    numbers = renumber[np.minimum(out["pack"], len(renumber) - 1)] if len(renumber) else np.full(n, -1)
    out = out[numbers >= 0]
    out["pack"] = numbers[numbers >= 0]
    return out


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
