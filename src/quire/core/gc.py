"""``gc``: delete the blobs and manifest pages that nothing references any more.

Live is what the manifest of any version or any contribution reaches (its pages and its
entries' blobs); everything else older than a grace period goes: large blobs, packs with
nothing live (a pack whose live share is small is rewritten with only its live blobs),
packs left without an index and staging files by killed writers. Nothing younger than
the grace period is touched, so a writer's blobs are safe while it uploads (and the last
two are left for at least :data:`IN_FLIGHT` seconds whatever the grace period).

Writers dedup against blobs already stored, and gc may delete such a blob between the
writer's check and its commit (it was garbage when gc looked). So the two are fenced
through the catalog (:meth:`~quire.store.catalog.Catalog.begin_sweep`): before
deleting anything, gc bumps an epoch and holds a lease; a writer notes the epoch
(:func:`quire.core.fence.writer_epoch`) before it checks what the store holds, and its commit transaction
fails with ``ConcurrentGCError`` if the epoch moved or a sweep is running. The writer then
waits for the sweep, checks its blobs again (uploading what went) and retries
(:func:`quire.core.commit.retrying`). gc reads
the versions once more after bumping the epoch, so a commit that got in first is kept.

The sweep's lease is short (:func:`~quire.core.lease.gc_lease`, seconds) and renewed by
a heartbeat thread while gc works, so a gc that died mid-sweep holds writers off for a
few seconds, not minutes; gc deletes nothing once it cannot be sure its lease still
runs. A writer that waits for a sweep says whose and for how long (a ``quire`` log line).

Writers hold leases too (:mod:`quire.core.lease`): nothing written after the start of
the oldest live writer lease is garbage, whatever the grace period. Leases are on the
catalog's clock and objects' times on the object store's, so gc measures the one against
the other (it writes a probe object between two readings of the catalog's clock) and
keeps a margin of the measurement's uncertainty.

gc touches only what it can account for: large blobs under their digest's key, packs and
indexes under the names writers give them, writers' staging files, and the parts of
uploads a ``quire server`` began that no client completed. Anything else
in the store (a file a user dropped into ``objects/``, say) is never deleted.

Memory stays small at any size (see :mod:`quire.core.gc_mark`): the mark keeps the
8-byte prefixes of live blobs' digests in numpy arrays, never a set of digests, and the
sweep reads one pack's index at a time (:meth:`~quire.store.blobs.BlobStore.pack_rows`).

First, gc deletes the versions whose time to live ran out (with their aliases), never
one that a registry link points at (the catalog refuses that delete, so a link made
meanwhile keeps its source); their blobs then go like any others, after the grace period.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import (
    ArtifactNotFoundError,
    ConcurrentGCError,
    StoreError,
    ValidationError,
)
from ..store import Store
from ..store.blobs import Listing, blob_key
from ..store.catalog import Lease, now
from ..store.digests import is_digest
from ..store.objects import ObjectInfo
from ..store.packrows import PackRows, prefix_of
from ..store.packs import ListedPack
from . import lease as leases
from .gc_mark import LiveSet
from .gc_mark import log as progress
from .lease import Heartbeat, gc_lease, holder_name, log

if TYPE_CHECKING:
    import numpy as np

GRACE = 3600.0  #: seconds; nothing younger is deleted
REPACK_BELOW = 0.5  #: a pack whose live share of bytes is below this is rewritten
#: seconds a staging file or a pack without its index is left, whatever the grace period:
#: a live writer may be between writing the pack and its index, or filling the file
IN_FLIGHT = 3600.0
#: live blobs gathered from packs being rewritten before they are copied out (a batch)
REPACK_BATCH = 1 << 17
#: the names writers give packs and their indexes, and staging files (uuid4().hex)
_PACK_NAME = re.compile(r"packs/[0-9a-f]{32}\.(?:pack|idx)")
_TEMP_NAME = re.compile(r"[0-9a-f]{32}\.partial")
#: the objects of an upload in parts that ``quire server`` keeps (its key, its parts)
_UPLOAD_NAME = re.compile(r"uploads/([0-9a-f]{32})/(?:key|\d+)")


@dataclass
class GCReport:
    """What a gc deleted (or, with ``dry_run``, would delete)."""

    dry_run: bool
    deleted: list[tuple[str, str, int]] = field(default_factory=list)  #: (kind, key, bytes)
    repacked: list[tuple[str, int]] = field(default_factory=list)  #: (pack key, bytes)
    rewritten_bytes: int = 0  #: live blobs copied out of repacked packs
    young: int = 0  #: unreferenced objects kept because they are younger than the grace period
    live: int = 0  #: blobs and pages referenced by some version or contribution (a count)
    #: versions whose time to live ran out, deleted first (``project/name:vN``)
    expired: list[str] = field(default_factory=list)

    @property
    def freed(self) -> int:
        """Bytes freed: deleted objects and repacked packs, less what repacking wrote."""
        return sum(n for _, _, n in self.deleted) + sum(n for _, n in self.repacked) - self.rewritten_bytes

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "dry_run": self.dry_run,
            "freed_bytes": self.freed,
            "live": self.live,
            "young": self.young,
            "deleted": [{"kind": k, "key": key, "bytes": n} for k, key, n in self.deleted],
            "repacked": [{"key": key, "bytes": n} for key, n in self.repacked],
            "rewritten_bytes": self.rewritten_bytes,
            "expired_versions": list(self.expired),
        }


@dataclass(frozen=True)
class _Cutoffs:
    """Objects last written before these times may go (seconds since the Unix epoch)."""

    store: float  #: for the store's objects, on the object store's clock
    local: float  #: for staging files, on this machine's clock


def collect_garbage(
    store: Store,
    grace: float = GRACE,
    dry_run: bool = False,
    repack_below: float = REPACK_BELOW,
    lease: float | None = None,
) -> GCReport:
    """Delete what no version or contribution references and is older than ``grace`` s
    (and than the oldest live writer lease).

    With ``dry_run`` nothing is deleted: the report says what would be. ``lease``: the
    seconds the sweep's lease runs between renewals (default :func:`~quire.core.lease.gc_lease`).
    """
    if grace < 0:
        raise ValidationError(f"grace must be 0 or more seconds, not {grace}")
    lease = gc_lease() if lease is None else lease
    if not lease > 0:
        raise ValidationError(f"the gc lease must be above 0 seconds, not {lease}; e.g. 30s")
    seen = store.catalog.gc_epoch()
    if seen.sweeping:
        raise ConcurrentGCError(f"another gc is running in {store.url}; wait for it to finish")
    expired = _delete_expired(store, dry_run)
    cutoffs = _cutoffs(store, grace)  # before the listing: a writer's blobs come after its lease
    listing = store.blobs.listing()  # before the mark: a pack written since is not swept
    live = LiveSet(store)
    progress.info("gc: walking the manifests")
    live.add(store.catalog.roots())
    progress.info("gc: %d manifest pages walked; sweeping %d packs", len(live.pages), len(listing.packs))
    if dry_run:
        report = _sweep(store, listing, live, cutoffs, repack_below, dry_run=True)[0]
        report.expired = expired
        return report
    granted = time.monotonic()
    epoch = store.catalog.begin_sweep(seen, lease, holder_name("quire gc"))
    beat = Heartbeat(lambda: _renew(store, epoch, lease), lease, granted, "quire-gc-lease")

    def check() -> None:  # before each deletion: a writer may commit once the lease ran out
        if not beat.valid():
            raise StoreError(
                f"gc lost its lease on {store.url} (the catalog did not answer its renewals in time) "
                "and stopped deleting; run gc again"
            )

    try:
        live.add(store.catalog.roots())  # versions committed while we looked
        report, rewrite = _sweep(store, listing, live, cutoffs, repack_below, dry_run=False)
        report.expired = expired
        for _, key, _ in report.deleted:
            check()
            _delete(store, key)
        report.rewritten_bytes = _repack(store, rewrite, live, check)
        check()
        store.blobs.consolidate()  # one combined index over the packs that are left
        return report
    finally:
        beat.stop()
        store.catalog.end_sweep(epoch)


def _delete_expired(store: Store, dry_run: bool) -> list[str]:
    """Delete the versions whose time to live ran out, with their aliases (with
    ``dry_run``, only list them); returns their names. One linked meanwhile is kept: the
    catalog refuses to delete a version a link points at."""
    gone = []
    for version in store.catalog.expired_versions(now()):
        name = f"{version.project}/{version.collection}:{version.version}"
        if not dry_run:
            try:
                store.catalog.delete_version(version.id, delete_aliases=True)
            except ArtifactNotFoundError:
                continue  # deleted meanwhile
            except ValidationError:
                log.info("gc keeps expired %s: a registry link points at it now", name)
                continue
        gone.append(name)
    return gone


def _renew(store: Store, epoch: int, lease: float) -> bool:
    store.catalog.renew_sweep(epoch, lease)
    return True


def _cutoffs(store: Store, grace: float) -> _Cutoffs:
    """The grace period's cutoffs, moved back to the start of the oldest live writer
    lease (less the uncertainty of comparing the catalog's clock with the others)."""
    now = time.time()
    grace_cutoff = _Cutoffs(now - grace, now - grace)
    leases.settle()  # this process's released leases protect nothing
    _, live = store.catalog.live_leases()
    if not live:
        return grace_cutoff
    oldest: Lease = live[0]
    store_offset, local_offset, error = _clock_offsets(store)
    log.info("gc keeps what was written since the writer lease of %s began", oldest.holder)
    return _Cutoffs(
        min(grace_cutoff.store, oldest.started + store_offset - error),
        min(grace_cutoff.local, oldest.started + local_offset - error),
    )


def _clock_offsets(store: Store) -> tuple[float, float, float]:
    """How far the object store's clock and this machine's are ahead of the catalog's,
    and how far off both may be: a probe object is written between two readings of the
    catalog's clock and its time read back."""
    objects = store.blobs.objects
    key = f"gc-clock-{uuid.uuid4().hex}"  # beside objects/ and packs/, which gc lists
    before = store.catalog.clock()
    local = time.time()
    objects.put(key, b"")
    after = store.catalog.clock()
    try:
        path = objects.local_path(key)
        mtime = os.stat(path).st_mtime if path is not None else next(iter(objects.list(key))).mtime
    finally:
        objects.delete(key)
    middle = (before + after) / 2
    # Object stores keep whole seconds (S3's Last-Modified); filesystems' clocks tick coarsely.
    resolution = 1.0 if mtime == int(mtime) else 0.05
    return mtime - middle, local - middle, (after - before) / 2 + resolution


def _sweep(
    store: Store, listing: Listing, live: LiveSet, cutoffs: _Cutoffs, repack_below: float, dry_run: bool
) -> tuple[GCReport, list[ListedPack]]:
    """The report of what goes, and the packs to rewrite with their live blobs (the
    report's ``rewritten_bytes`` says how many bytes those are).

    Pack by pack: each index is read, compared with the live set and dropped before the
    next. Keys that are not Quire's (not a digest's key, not a pack's name) are left
    alone, and so are packs whose index is damaged: gc deletes only what it can account for."""
    report = GCReport(dry_run, live=len(live))
    in_flight = time.time() - IN_FLIGHT

    def old(info: ObjectInfo, cutoff: float = cutoffs.store) -> bool:
        if info.mtime < cutoff:
            return True
        report.young += 1
        return False

    blobs = [
        ("blob", info.key, info.size)
        for digest, info in store.blobs.large_blobs()
        if is_digest(digest) and info.key == blob_key(digest) and not live.holds_digest(digest) and old(info)
    ]
    report.deleted += sorted(blobs)
    rewrite: list[ListedPack] = []
    for n, pack in enumerate(listing.packs, 1):
        if n % 100 == 0:
            progress.info("gc: %d of %d packs swept", n, len(listing.packs))
        if not (_PACK_NAME.fullmatch(pack.info.key) and _PACK_NAME.fullmatch(pack.index.key)):
            continue
        try:
            rows = store.blobs.pack_rows(pack)
        except StoreError as exc:
            log.warning("gc leaves %s alone: %s", pack.info.key, exc)
            continue
        if rows is None:
            continue  # its index went since the listing: a stray for the next gc to judge
        held, counted = _held(rows, pack.marked, live)
        if (held == counted).all() or not old(pack.info):
            continue
        if not held.any():
            report.deleted.append(("pack", pack.info.key, pack.info.size + pack.index.size))
        elif (live_bytes := int(rows.lengths[held].sum())) < repack_below * pack.info.size:
            rewrite.append(pack)
            report.repacked.append((pack.info.key, pack.info.size + pack.index.size))
            report.rewritten_bytes += live_bytes
    progress.info("gc: %d packs swept", len(listing.packs))
    for info in listing.strays:
        if _PACK_NAME.fullmatch(info.key) and old(info, min(cutoffs.store, in_flight)):
            report.deleted.append(("stray", info.key, info.size))
    for info in _temp_files(store):
        if old(info, min(cutoffs.local, in_flight)):
            report.deleted.append(("temp", info.key, info.size))
    for upload in _uploads(store).values():  # a server's, whose client never completed it
        if all(old(info, min(cutoffs.store, in_flight)) for info in upload):
            report.deleted += [("upload", info.key, info.size) for info in upload]
    return report, rewrite


def _held(rows: PackRows, marked: frozenset[str], live: LiveSet) -> tuple[np.ndarray, np.ndarray]:
    """For each row of a pack: whether it is live, and whether it counts at all (a slot
    marked corrupt holds nothing worth keeping)."""
    import numpy as np

    counted = np.ones(len(rows), dtype=bool)
    if marked:
        prefixes = rows.prefixes
        for digest in marked:
            for row in np.flatnonzero(prefixes == prefix_of(digest)):
                if rows.digest(int(row)) == digest:
                    counted[row] = False
    return live.holds(rows.prefixes) & counted, counted


def _repack(store: Store, rewrite: list[ListedPack], live: LiveSet, check: Callable[[], None]) -> int:
    """Rewrite the packs ``rewrite`` with only their live blobs, a batch of packs at a time
    (the blobs to copy are held as digests: :data:`REPACK_BATCH` of them at most, past one
    pack's worth); returns the bytes written.

    The live blobs are those whose prefix is live: a garbage blob that shares a live one's
    prefix is copied too, never a live one left behind. A live blob that another pack
    holds as well is copied all the same (a duplicate costs bytes, not safety: telling
    would mean holding the digests of every pack kept)."""
    import numpy as np

    written = 0
    batch: list[ListedPack] = []
    keep: set[str] = set()
    for n, pack in enumerate(rewrite, 1):
        rows = store.blobs.pack_rows(pack)  # a pack and its index never change: as swept
        if rows is None:
            continue  # its index went meanwhile: leave the pack for the next gc
        held, _ = _held(rows, pack.marked, live)
        keep.update(rows.digest(int(row)) for row in np.flatnonzero(held))
        batch.append(pack)
        if len(keep) >= REPACK_BATCH or n == len(rewrite):
            check()
            written += store.blobs.repack(batch, keep, before_delete=check)
            progress.info("gc: %d of %d packs rewritten", n, len(rewrite))
            batch, keep = [], set()
    if batch:  # the last pack's index went: the batch before it is still to do
        check()
        written += store.blobs.repack(batch, keep, before_delete=check)
    return written


def _temp_files(store: Store) -> list[ObjectInfo]:
    """Staging files (``*.partial``) that writers leave when they are killed mid-upload."""
    folder = store.blobs.objects.temp_path().parent
    found = []
    for entry in os.scandir(folder):
        if _TEMP_NAME.fullmatch(entry.name):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # its writer finished meanwhile
            found.append(ObjectInfo(entry.path, st.st_size, st.st_mtime))
    return found


def _uploads(store: Store) -> dict[str, list[ObjectInfo]]:
    """The objects of each upload in parts a ``quire server`` began in this store (a
    client killed or gone before completing it leaves them behind), by upload id."""
    found: dict[str, list[ObjectInfo]] = {}
    for info in store.blobs.objects.list("uploads/"):
        if match := _UPLOAD_NAME.fullmatch(info.key):
            found.setdefault(match[1], []).append(info)
    return found


def _delete(store: Store, key: str) -> None:
    if os.path.isabs(key):  # a staging file, not an object of the store
        with contextlib.suppress(FileNotFoundError):
            os.unlink(key)
    else:
        store.blobs.delete(key)
