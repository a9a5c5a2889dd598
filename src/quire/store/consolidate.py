"""Consolidation: write a combined index over the packs, and drop the ones it replaces.

Run by gc after its sweep, by ``quire store upgrade``, and by a writer's flush once
:data:`~quire.store.blobs.NEWER_PACKS` packs are outside every combined index (then
only the newer packs and the small combined indexes are merged, geometrically, so that a
store written one small version at a time rewrites each row O(log N) times, not once
per flush).

It needs no fence with gc or writers: it deletes nothing but combined indexes whose
packs (those still present) another, newer one covers, and a combined index is only ever
a cache of the packs' own indexes. The new file is staged under a temp name and stored
(atomically) under its digest; a crash before that leaves the old ones serving. Two
processes consolidating at once both write valid files (the same bytes when they saw
the same packs); each deletes only what its own covers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from ..hashing import new_hasher, read_chunks
from .midx import HEADER, MIDX_MAGIC, PACK_NAME, PACK_ROW, CombinedIndex, midx_key
from .packs import IDX_MAGIC, IDX_ROW, MIDX_NAME, check_covers, index_body, pack_of

#: a pack index's rows as stored (see :mod:`quire.store.packs`)
IDX_DTYPE = np.dtype([("digest", "V32"), ("offset", ">u8"), ("length", ">u8")])
#: a row while merging: sorted by digest, then pack number (a deterministic file: two
#: processes combining the same packs write the same bytes, under the same name)
ROW_DTYPE = np.dtype([("digest", "V32"), ("pack", "<u4"), ("length", "<u4"), ("offset", "<u8")])


if TYPE_CHECKING:
    from .blobs import BlobStore


@dataclass(frozen=True)
class Consolidation:
    """What a consolidation did."""

    key: str | None  #: the combined index in use after it (None: the store has no packs)
    written: bool = False  #: whether it wrote ``key`` (else it was up to date already)
    packs: int = 0  #: packs it covers
    rows: int = 0  #: blobs it lists
    merged: list[str] = field(default_factory=list)  #: combined indexes whose rows it took
    newer: int = 0  #: packs whose own indexes it read
    deleted: list[str] = field(default_factory=list)  #: combined indexes it replaced


def consolidate(blobs: BlobStore, full: bool = True) -> Consolidation:
    """Combine the newer packs' indexes with the combined indexes in use (all of them
    with ``full``; else the small ones, see the module) into one new combined index."""
    from .blobs import _get_all  # here: blobs imports this module

    objects = blobs.objects
    with blobs._lock:  # the packs as they are now (their own indexes are not loaded)
        present = blobs._present = {info.key: info.size for info in objects.list("packs/")}
        blobs._choose(present)
        chosen = blobs._chosen
        layers = list(zip(chosen.indexes, chosen.usable, strict=True))
        covered = set(chosen.covered)
    newer_keys = [
        k
        for k in sorted(present)
        if k.endswith(".idx") and PACK_NAME.fullmatch(pack_of(k)) and pack_of(k) in present
        if pack_of(k) not in covered
    ]
    newer_rows = sum((present[k] - len(IDX_MAGIC)) // IDX_ROW.size for k in newer_keys)
    merged = layers if full else _small(layers, newer_rows)
    gone_rows = any(not all(usable) for _, usable in merged)
    if not newer_keys and not gone_rows and len(merged) <= 1:
        # Nothing to combine: the one in use is already all there is.
        deleted = _drop_replaced(blobs, None)
        if not merged:
            return Consolidation(None, deleted=deleted)
        index = merged[0][0]
        return Consolidation(index.key, False, len(index.packs), index.rows, deleted=deleted)
    read: list[str] = []

    def newer() -> Iterator[tuple[str, int, np.ndarray]]:
        for key, raw in zip(newer_keys, _get_all(objects, newer_keys, objects.capabilities.local), strict=True):
            if raw is None:
                continue  # deleted by a gc since the listing
            try:
                rows = idx_rows(key, raw, present[pack_of(key)])
            except StoreError:
                continue  # a damaged one stays out (its pack's blobs count as missing)
            read.append(key)
            yield pack_of(key), present[pack_of(key)], rows

    expected = newer_rows + sum(index.rows for index, _ in merged)
    tmp = objects.temp_path()
    try:
        name, table, rows = write_combined(tmp, merged, newer(), expected)
        key = midx_key(name)
        if objects.local_path(key) is None and not objects.capabilities.local:
            # A remote store: keep the copy this process would otherwise download again.
            blobs._cache.mkdir(parents=True, exist_ok=True)
            cached = blobs._cache / f"{name}.midx"
            if not cached.exists():
                shutil.copyfile(tmp, cached)
                blobs._seal(cached)
        if key in blobs._midx_bad and objects.capabilities.deletes:
            # The damaged one has the very name of its rebuild (a name is its digest) and
            # keys are put-if-absent: it must go first (meanwhile the packs' own indexes serve).
            objects.delete(key)
        objects.put_file(key, tmp)
    except OSError as exc:
        raise StoreError(f"cannot write a combined index to {blobs.url}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    local = objects.local_path(key)
    if local is not None:
        blobs._seal(local)  # hashed as it was written: no reader need hash it again
    with blobs._lock:
        if blobs._midx_bad.pop(key, None) is not None:
            blobs._midx_keys = None  # choose again: the rebuilt one can serve
    covers = set(table)
    deleted = _drop_replaced(blobs, (key, covers))
    blobs.refresh()  # serve from the new one
    return Consolidation(key, True, len(table), rows, [index.key for index, _ in merged], len(read), deleted)


def _small(layers: list[tuple[CombinedIndex, list[bool]]], rows: int) -> list[tuple[CombinedIndex, list[bool]]]:
    """The combined indexes a partial consolidation of ``rows`` newer rows merges: the
    smallest first, each while it is at most twice what is merged so far (so sizes grow
    geometrically and few combined indexes are in use at once)."""
    taken = []
    for index, usable in sorted(layers, key=lambda layer: layer[0].rows):
        if index.rows > 2 * rows:
            break
        taken.append((index, usable))
        rows += index.rows
    return taken


def _drop_replaced(blobs: BlobStore, new: tuple[str, set[str]] | None) -> list[str]:
    """Delete the combined indexes found damaged, and (given the ``new`` one's key and
    packs) those whose packs still present it covers; returns their keys."""
    if not blobs.objects.capabilities.deletes:
        return []
    present = {info.key: info.size for info in blobs.objects.list("packs/")}
    deleted = []
    for key in sorted(k for k in present if MIDX_NAME.fullmatch(k)):
        if new is not None and key == new[0]:
            continue
        if key in blobs._midx_bad:
            replaced = True
        elif new is None:
            continue
        else:
            with blobs._lock:
                index = blobs._open_midx(key)
            if index is None:
                continue  # gone meanwhile, or found damaged now (the next one removes it)
            live = {p for p, n in zip(index.packs, index.sizes, strict=True) if present.get(p) == n}
            replaced = live <= new[1]
        if replaced:
            blobs.objects.delete(key)
            deleted.append(key)
    return deleted


def idx_rows(key: str, raw: bytes, pack_size: int) -> np.ndarray:
    """The rows of the pack index ``key``, sorted by digest; ``StoreError`` when it is
    damaged (the rule of :func:`~quire.store.packs.read_index`, without a dict of slots)."""
    rows = np.frombuffer(index_body(key, raw), IDX_DTYPE)
    check_covers(key, int(rows["length"].sum()), pack_size)
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
    combined: list[tuple[CombinedIndex, list[bool]]],
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
