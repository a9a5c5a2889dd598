"""Committing a draft: the one place that builds a version outside any transaction and
asks the catalog to compare-and-swap it in, retrying when it moved on.

Every commit goes the same way: upload the bytes the store lacks (checked under a gc
epoch noted first, see :mod:`quire.core.fence`), store the manifest's pages, flush (so
all of it is durable), then one short catalog transaction. The catalog refuses with

- ``MovedOnError`` when what the version was built on changed meanwhile: a patch's
  latest version (``expect_latest``), a finish's contributions (``merged``). The version
  is built again from what is there now and committed again;
- ``ConcurrentGCError`` when a gc began since the epoch was noted: the writer waits for
  the sweep, checks its blobs again (uploading what went) and commits again.

:func:`retrying` is that one bounded loop, with jittered backoff. The commit id is made
once, before the first attempt, so a lost answer to COMMIT is resolved by it whichever
attempt sent it.
"""

from __future__ import annotations

import random
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from ..errors import ArtifactNotFoundError, ConcurrentGCError, MovedOnError
from ..store import Store
from ..store.blobs import BlobWriter
from ..store.catalog import (
    ANY_LATEST,
    Added,
    Committed,
    Epoch,
    FinishCommit,
    Finished,
    NewContribution,
    NewVersion,
    VersionCommit,
    VersionRecord,
    new_commit_id,
    pending_where,
    writer_label,
)
from . import lease as leases
from .draft import Draft
from .fence import NOTHING_NOTED, Note, writer_epoch
from .manifest import Manifest, load_manifest, overlay, save_manifest
from .merge import merge

T = TypeVar("T")
GC_ATTEMPTS = 8  #: commits a gc may interrupt before a writer gives up
#: commits that may lose the race to another before a writer gives up: each round some
#: writer wins, so this many writers committing onto one version at once all get in
RACE_ATTEMPTS = 64


@dataclass
class Staged:
    """Where a draft's bytes are staged: the blob writer it staged into (None: nothing
    yet), in which store, and what it noted of the gc fence before it first checked
    what that store holds."""

    store: Store | None = None
    writer: BlobWriter | None = None
    note: Note = NOTHING_NOTED

    def epoch(self, store: Store) -> Epoch:
        """The gc epoch to commit into ``store`` under."""
        return self.note.epoch(store)

    def holds(self) -> tuple[leases.Hold, ...]:
        """The holds on the writer lease that keep gc off what was staged (the
        transaction that references it may end the lease, see :func:`leases.ending`)."""
        return ()


def retrying(store: Store, epoch: Epoch, attempt: Callable[[Epoch], T], base: VersionRecord | None = None) -> T:
    """``attempt(epoch)`` until the catalog takes it: again after ``MovedOnError`` (it
    rebuilds from what is there now), and after ``ConcurrentGCError`` under the epoch
    noted once the sweep is over (it checks what the store holds again). Bounded.

    ``base``: a version whose pages the new one shares; once a gc has run, it must
    still exist (else its pages may be gone), so ``epoch`` must then be the one noted
    before the base's manifest was read. Holds this process's writer lease meanwhile
    (:func:`~quire.core.lease.committing`): what ``attempt`` stages is not garbage.
    """
    with leases.committing(store):
        if base is not None and store.catalog.gc_epoch() != epoch:
            _check_base(store, base)  # before the commit reads or writes pages that may be gone
        gc_left, race_left = GC_ATTEMPTS, RACE_ATTEMPTS
        while True:
            try:
                return attempt(epoch)
            except ConcurrentGCError:
                gc_left -= 1
                if gc_left == 0:
                    raise
                epoch = writer_epoch(store, wait=True)
                if base is not None:
                    _check_base(store, base)
            except MovedOnError as exc:
                race_left -= 1
                if race_left == 0:
                    raise MovedOnError(
                        f"gave up after {RACE_ATTEMPTS} attempts to commit into {store.url}, each "
                        f"overtaken by another commit ({exc}); nothing of this one was committed: "
                        "try again when fewer writers commit onto the same version"
                    ) from exc
                # Jittered: writers that lost the same round must not collide again in step.
                time.sleep(min(0.005 * 2 ** min(RACE_ATTEMPTS - race_left, 8), 0.5) * random.uniform(0.5, 1.5))


def _check_base(store: Store, base: VersionRecord) -> None:
    """A gc ran since a draft read its base's manifest: the base must still exist."""
    if not store.catalog.version_exists(base.id):
        raise ArtifactNotFoundError(
            f"{base.collection}:{base.version}, which this draft was made from, was deleted and "
            "gc may have removed its files; make the draft again from a version that exists"
        )


# -- uploading ------------------------------------------------------------------------------


def upload(draft: Draft, staged: Staged, store: Store) -> BlobWriter:
    """Give a writer every stored entry's bytes the store lacks (a patch's: only its
    changed ones); returns the writer, durable once the caller flushes it."""
    own = staged.writer
    writer = own if own is not None and staged.store is store else store.blobs.writer()
    elsewhere = own if own is not writer else None  # staged in another store
    if elsewhere is not None:
        elsewhere.flush()
    by_digest = {e.digest: e for e in draft.manifest.fresh_entries() if e.stored}
    sizes = {d: e.size or 0 for d, e in by_digest.items()}
    for digest in store.blobs.missing(sizes) if sizes else ():
        entry = by_digest[digest]
        if writer.holds(digest, sizes[digest]):
            continue
        if elsewhere is not None and elsewhere.holds(digest, sizes[digest]):
            writer.add_bytes(elsewhere.blobs.read(digest), digest)
        elif entry.local_path:
            writer.add_file(entry.local_path, expected=digest)
        else:
            raise ArtifactNotFoundError(f"the bytes of {entry.path!r} are in no store and no local file; add it again")
    return writer


def stage_contribution(draft: Draft, staged: Staged, store: Store) -> str:
    """Upload what the store lacks and the manifest, durably; returns the manifest's digest."""
    writer = upload(draft, staged, store)
    # One blob (format 1), in the same pack as the files: a contribution is read whole.
    digest = writer.add_bytes(draft.manifest.to_bytes())
    writer.flush()
    return digest


def _new_version(store: Store, draft: Draft, root: str, parent_id: str | None, metadata: dict[str, Any]) -> NewVersion:
    manifest = load_manifest(store.blobs, root)  # its root page holds the totals
    return NewVersion(
        digest=manifest.digest,
        root=root,
        size=manifest.size,
        file_count=len(manifest),
        metadata=metadata,
        description=draft.description,
        parent_id=parent_id,
        ttl=draft.ttl,
    )


def _latest(store: Store, project: str, name: str) -> VersionRecord | None:
    try:
        return store.catalog.version(project, name, "latest")
    except ArtifactNotFoundError:
        return None  # no such collection, or every version of it was deleted


# -- the commits ----------------------------------------------------------------------------


def commit_draft(
    store: Store,
    draft: Draft,
    staged: Staged,
    project: str,
    aliases: list[str],
    tags: list[str],
    run_ids: list[str],
) -> Committed:
    """Upload, store the manifest and commit ``draft``; an incremental one (patch mode)
    is overlaid on the collection's latest version, again on each race it loses. That is
    the version ``latest`` names, which may be older than the newest (the rule for
    ``latest``, docs/design.md): an append lands on what users read as latest.

    ``run_ids``: the runs that get an output edge, the first the version's run."""
    commit_id = new_commit_id()
    saved: dict[Epoch, str | None] = {}  # the root stored under the epoch its bytes were checked under

    def attempt(epoch: Epoch) -> Committed:
        if epoch not in saved:  # first, or a gc ran since: check what the store holds again
            writer = upload(draft, staged, store)
            # An incremental draft's manifest is made from the latest, below.
            whole = None if draft.incremental else save_manifest(store.blobs, draft.manifest, writer)
            writer.flush()  # the files and the manifest pages in one pack, durable
            saved.clear()
            saved[epoch] = whole
        root = saved[epoch]
        expect: str | None = ANY_LATEST
        parent_id = draft.parent.id if draft.parent else None
        if draft.incremental:
            latest = _latest(store, project, draft.collection)
            expect = latest.id if latest else None
            if latest is not None:  # only the pages the draft touches are written (durably)
                root, parent_id = overlay(store.blobs, latest.root, draft.removed, draft.manifest), latest.id
            else:
                root = save_manifest(store.blobs, draft.manifest)
        assert root is not None
        request = VersionCommit(
            project,
            draft.collection,
            draft.type,
            _new_version(store, draft, root, parent_id, draft.metadata),
            commit_id,
            epoch,
            expect_latest=expect,
            aliases=aliases,
            tags=tags,
            run_ids=run_ids,
        )
        return store.catalog.commit(request)

    return retrying(store, staged.epoch(store), attempt, draft.parent)


def add_contribution(
    store: Store,
    draft: Draft,
    staged: Staged,
    project: str,
    distributed_id: str,
    run_id: str | None,
    info: dict[str, Any],
) -> Added:
    """Upload the draft's bytes and manifest, then add them to the pending version as one
    contribution (``info``: who wrote it, its aliases, metadata and role)."""

    def attempt(epoch: Epoch) -> Added:
        own = _staged_contribution(draft, staged, store, run_id, info)
        with leases.ending(store, *staged.holds()) as lease:  # referenced from this transaction on
            return store.catalog.add_contribution(
                project, draft.collection, draft.type, distributed_id, own, epoch, lease=lease
            )

    return retrying(store, staged.epoch(store), attempt)


def _staged_contribution(
    draft: Draft, staged: Staged, store: Store, run_id: str | None, info: dict[str, Any]
) -> NewContribution:
    """The draft as one contribution, its bytes and manifest staged (durable) first."""
    root = stage_contribution(draft, staged, store)
    return NewContribution(run_id, root, len(draft.manifest), draft.manifest.size, info)


class _Merging(NamedTuple):
    """A contribution as a finish merges it (sorted by key): a stored one, or the
    finisher's own, which the catalog has not seen yet."""

    key: str
    writer: str  #: who wrote it, for conflict messages
    root: str
    run_id: str | None
    info: dict[str, Any]


def finish(
    store: Store,
    draft: Draft,
    staged: Staged,
    project: str,
    distributed_id: str,
    run_id: str | None,
    info: dict[str, Any],
    aliases: list[str],
) -> Finished:
    """Add the draft as the finisher's contribution, merge every contribution and commit
    the result, marking the pending version committed.

    The contributions are read and merged outside any transaction; the catalog checks
    that no other arrived meanwhile (else it merges again). A merge conflict raises
    ``ConflictError`` before anything is written: the finisher's contribution is not
    kept either, so it can be retried with fixed files.
    """
    commit_id = new_commit_id()
    where = pending_where(project, draft.collection, distributed_id)
    manifests: dict[str, Manifest] = {}
    staged_under: dict[Epoch, NewContribution] = {}

    def attempt(epoch: Epoch) -> Finished:
        own = staged_under.get(epoch)
        if own is None:  # first, or a gc ran since: check what the store holds again
            own = _staged_contribution(draft, staged, store, run_id, info)
            staged_under.clear()
            staged_under[epoch] = own
            manifests[own.root] = draft.manifest
        found = store.catalog.find_pending(project, draft.collection, distributed_id)
        others = [c for c in store.catalog.contributions(found.id) if c.key != own.key] if found else []
        mine = _Merging(own.key, writer_label(own.run_id, info.get("writer") or {}), own.root, own.run_id, info)
        # By key: the result does not depend on the order they arrived in.
        contributions = sorted(
            [_Merging(c.key, c.writer, c.root, c.run_id, c.info) for c in others] + [mine], key=lambda c: c.key
        )
        for c in contributions:  # either manifest format: one blob, or pages
            if c.root not in manifests:
                manifests[c.root] = load_manifest(store.blobs, c.root)
        merged = merge([(c.writer, manifests[c.root]) for c in contributions], where, shlex.quote(distributed_id))
        metadata: dict[str, Any] = {}
        for c in contributions:
            metadata.update(c.info.get("metadata") or {})
        metadata.update(draft.metadata)  # the finisher has the last word
        every_alias = [*aliases, *(a for c in contributions for a in c.info.get("aliases", ()))]
        runs = [r for r in dict.fromkeys([run_id, *(c.run_id for c in contributions)]) if r]
        root = save_manifest(store.blobs, merged)
        version = NewVersion(
            digest=merged.digest,
            root=root,
            size=merged.size,
            file_count=len(merged),
            metadata=metadata,
            description=draft.description,
            parent_id=draft.parent.id if draft.parent else None,
            ttl=draft.ttl,
        )
        return store.catalog.finish(
            FinishCommit(
                project,
                draft.collection,
                draft.type,
                distributed_id,
                own,
                [c.key for c in others],
                version,
                commit_id,
                epoch,
                aliases=list(dict.fromkeys(every_alias)),
                tags=[],
                run_ids=runs,
            )
        )

    return retrying(store, staged.epoch(store), attempt)
