"""``gc``: delete the blobs and manifest pages that nothing references any more.

Live is what the manifest of any version or any contribution reaches (its pages and its
entries' blobs); everything else older than a grace period goes: large blobs, packs with
nothing live (a pack whose live share is small is rewritten with only its live blobs),
packs left without an index and staging files by killed writers. Nothing younger than
the grace period is touched, so a writer's blobs are safe while it uploads (and the last
two are left for at least :data:`IN_FLIGHT` seconds whatever the grace period).

Writers dedup against blobs already stored, and gc may delete such a blob between the
writer's check and its commit (it was garbage when gc looked). So the two are fenced
through the catalog (:meth:`~quire.store.catalog.SQLCatalog.begin_sweep`): before
deleting anything, gc bumps an epoch and holds a lease; a writer notes the epoch
(:func:`writer_epoch`) before it checks what the store holds, and its commit transaction
fails with ``ConcurrentGCError`` if the epoch moved or a sweep is running. The writer then
waits for the sweep, checks its blobs again (uploading what went) and retries. gc reads
the versions once more after bumping the epoch, so a commit that got in first is kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..errors import ArtifactNotFoundError, ConcurrentGCError, StoreError
from ..store import Store
from ..store.blobs import Inventory, StoredPack
from ..store.catalog import VersionRecord
from ..store.objects import ObjectInfo
from .pages import walk

GRACE = 3600.0  #: seconds; nothing younger is deleted
REPACK_BELOW = 0.5  #: a pack whose live share of bytes is below this is rewritten
LEASE = 600.0  #: seconds a sweep holds writers' commits off, renewed as it goes
#: seconds a staging file or a pack without its index is left, whatever the grace period:
#: a live writer may be between writing the pack and its index, or filling the file
IN_FLIGHT = 3600.0
COMMIT_ATTEMPTS = 8  #: commits gc may interrupt before a writer gives up
T = TypeVar("T")


@dataclass
class GCReport:
    """What a gc deleted (or, with ``dry_run``, would delete)."""

    dry_run: bool
    deleted: list[tuple[str, str, int]] = field(default_factory=list)  #: (kind, key, bytes)
    repacked: list[tuple[str, int]] = field(default_factory=list)  #: (pack key, bytes)
    rewritten_bytes: int = 0  #: live blobs copied out of repacked packs
    young: int = 0  #: unreferenced objects kept because they are younger than the grace period
    live: int = 0  #: blobs and pages referenced by some version or contribution

    @property
    def freed(self) -> int:
        """Bytes freed: deleted objects and repacked packs, less what repacking wrote."""
        return sum(n for _, _, n in self.deleted) + sum(n for _, n in self.repacked) - self.rewritten_bytes

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "dry_run": self.dry_run, "freed_bytes": self.freed, "live": self.live, "young": self.young,
            "deleted": [{"kind": k, "key": key, "bytes": n} for k, key, n in self.deleted],
            "repacked": [{"key": key, "bytes": n} for key, n in self.repacked],
            "rewritten_bytes": self.rewritten_bytes,
        }


def writer_epoch(store: Store, wait: bool = False, timeout: float = LEASE) -> int:
    """The gc epoch to commit under; note it *before* checking which blobs the store holds.

    -1 while a sweep runs (a commit under it always retries). With ``wait``, wait for a
    running sweep to end first. When a gc has run since this process last looked, its
    view of the packs is dropped, so what it checks next is what the store holds now.
    """
    deadline = time.monotonic() + timeout
    epoch = store.catalog.gc_epoch()
    while wait and epoch < 0:
        if time.monotonic() > deadline:
            raise ConcurrentGCError(f"a gc in {store.url} kept running for {timeout:.0f} s; retry later")
        time.sleep(0.1)
        epoch = store.catalog.gc_epoch()
    if store.blobs.gc_epoch != epoch:
        store.blobs.reload()
        store.blobs.gc_epoch = epoch
    return epoch


def commit_fenced(store: Store, epoch: int, commit: Callable[[int], T], base: VersionRecord | None = None) -> T:
    """``commit(epoch)``; when a gc interrupts it (``ConcurrentGCError``), wait for the gc
    and commit again under the new epoch. ``commit`` checks what the store holds (and
    uploads what is missing) before committing. ``base``: a version whose pages the new
    one shares; once a gc has run, it must still exist (else its pages may be gone)."""
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            return commit(epoch)
        except ConcurrentGCError:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            epoch = writer_epoch(store, wait=True)
            if base is not None and not store.catalog.version_exists(base.id):
                raise ArtifactNotFoundError(
                    f"{base.collection}:{base.version}, which this draft was made from, was deleted and "
                    "gc may have removed its files; make the draft again from a version that exists"
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


class _Live:
    """The pages and blobs the manifests of versions and contributions reach."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.roots: set[str] = set()
        self.digests: set[str] = set()  # pages are added by walk(); entries' blobs below

    def add(self, roots: set[str]) -> None:
        for root in roots - self.roots:
            try:
                for row in walk(self.store.blobs, root, self.digests):
                    if row[3] is None:  # stored bytes, not a reference
                        self.digests.add(row[1])
            except ArtifactNotFoundError as exc:
                raise StoreError(
                    f"a manifest in {self.store.url} cannot be read ({exc}); the store is damaged, "
                    "so gc deleted nothing. Restore it from a backup first"
                ) from exc
            self.roots.add(root)


def collect_garbage(
    store: Store, grace: float = GRACE, dry_run: bool = False, repack_below: float = REPACK_BELOW
) -> GCReport:
    """Delete what no version or contribution references and is older than ``grace`` s.

    With ``dry_run`` nothing is deleted: the report says what would be.
    """
    if grace < 0:
        raise ValueError(f"grace must be 0 or more seconds, not {grace}")
    seen = store.catalog.gc_epoch()
    if seen < 0:
        raise ConcurrentGCError(f"another gc is running in {store.url}; wait for it to finish")
    cutoff = time.time() - grace
    inventory = store.blobs.inventory()
    live = _Live(store)
    live.add(store.catalog.manifests())
    if dry_run:
        return _plan(store, inventory, live, cutoff, repack_below, dry_run=True)[0]
    epoch = store.catalog.begin_sweep(seen, LEASE)
    try:
        live.add(store.catalog.manifests())  # versions committed while we looked
        report, repack, keep = _plan(store, inventory, live, cutoff, repack_below, dry_run=False)
        renewed = time.monotonic()
        for _, key, _ in report.deleted:
            if time.monotonic() - renewed > LEASE / 4:
                store.catalog.renew_sweep(epoch, LEASE)
                renewed = time.monotonic()
            _delete(store, key)
        if repack:
            store.catalog.renew_sweep(epoch, LEASE)
            report.rewritten_bytes = store.blobs.repack(repack, keep)
        return report
    finally:
        store.catalog.end_sweep(epoch)


def _plan(store: Store, inventory: Inventory, live: _Live, cutoff: float, repack_below: float,
          dry_run: bool) -> tuple[GCReport, list[StoredPack], set[str]]:
    """The report of what goes, the packs to rewrite and the blobs to copy out of them."""
    report = GCReport(dry_run, live=len(live.digests))

    def old(info: ObjectInfo, in_flight: bool = False) -> bool:
        if info.mtime < (min(cutoff, time.time() - IN_FLIGHT) if in_flight else cutoff):
            return True
        report.young += 1
        return False

    for digest, info in sorted(inventory.large.items()):
        if digest not in live.digests and old(info):
            report.deleted.append(("blob", info.key, info.size))
    kept: set[str] = set()  # small blobs in packs that stay
    rewrite: list[StoredPack] = []
    for key, pack in sorted(inventory.packs.items()):
        held = [s.length for d, s in pack.slots.items() if d in live.digests]
        if len(held) == len(pack.slots) or not old(pack.info):
            kept.update(pack.slots)
        elif not held:
            report.deleted.append(("pack", key, pack.info.size + pack.index.size))
        elif sum(held) < repack_below * pack.info.size:
            rewrite.append(pack)
            report.repacked.append((key, pack.info.size + pack.index.size))
        else:
            kept.update(pack.slots)
    for info in inventory.strays:
        if old(info, in_flight=True):
            report.deleted.append(("stray", info.key, info.size))
    for info in _temp_files(store):
        if old(info, in_flight=True):
            report.deleted.append(("temp", info.key, info.size))
    keep = {d for pack in rewrite for d in pack.slots if d in live.digests} - kept
    if dry_run:
        report.rewritten_bytes = sum(pack.slots[d].length for pack in rewrite for d in pack.slots if d in keep)
    return report, rewrite, keep


def _temp_files(store: Store) -> list[ObjectInfo]:
    """Staging files (``*.partial``) that writers leave when they are killed mid-upload."""
    folder = store.blobs.objects.temp_path().parent
    found = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".partial"):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # its writer finished meanwhile
            found.append(ObjectInfo(entry.path, st.st_size, st.st_mtime))
    return found


def _delete(store: Store, key: str) -> None:
    if os.path.isabs(key):  # a staging file, not an object of the store
        try:
            os.unlink(key)
        except FileNotFoundError:
            pass
    else:
        store.blobs.delete(key)
