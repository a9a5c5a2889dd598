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

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from .midx import PACK_NAME, CombinedIndex, idx_rows, midx_key, write_combined
from .packs import IDX_MAGIC, IDX_ROW, MIDX_NAME, pack_of

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
    gone_rows = any(not usable.all() for _, usable in merged)
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


def _small(layers: list[tuple[CombinedIndex, np.ndarray]], rows: int) -> list[tuple[CombinedIndex, np.ndarray]]:
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
