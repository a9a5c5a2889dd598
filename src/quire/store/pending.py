"""Pending versions and their contributions: the catalog side of collaborative mode.

A pending version is keyed by (collection, distributed id). While it is ``open``, writers
add **contributions** to it (each one a writer's manifest, stored as a blob, plus who
wrote it). One finisher merges them and commits the result as a version of the
collection in the same transaction that marks the pending version ``committed``; or
someone marks it ``aborted``. Either way its distributed id is spent: a later upsert or
finish with it is refused, so a straggler never silently starts another version.

Every write here (add a contribution, commit, abort) locks the pending row first, so
they are serialised: an upsert racing a commit either lands before it, and is in the
version, or comes after it and is refused.

These are verbs over :class:`~quire.store.catalog.SQLCatalog` and run inside its
transactions (``_write``), next to its own verbs, so they share its retry rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import ArtifactNotFoundError, CollectionTypeError, PendingVersionError, ValidationError
from . import schema as t
from .catalog import (
    ContributionRecord,
    NewContribution,
    NewVersion,
    PendingRecord,
    VersionRecord,
    new_commit_id,
    now,
    pending_where,
)

if TYPE_CHECKING:
    from .sql import SQLCatalog

OPEN, COMMITTED, ABORTED = "open", "committed", "aborted"
STATES = (OPEN, COMMITTED, ABORTED)
where = pending_where


# -- writing ------------------------------------------------------------------------------


def check_open(catalog: SQLCatalog, project: str, name: str, type_: str, distributed_id: str) -> None:
    """Fail early, before a writer uploads anything, when its upsert or finish would be
    refused (the transaction checks again: this is only to spare the upload).

    Raises:
        CollectionTypeError: the collection holds another type.
        PendingVersionError: the id was committed or aborted.
    """
    query = (
        sa.select(t.collections.c.type, t.pending.c.id, t.pending.c.state)
        .join(t.projects, t.projects.c.id == t.collections.c.project_id)
        .outerjoin(t.pending, sa.and_(
            t.pending.c.collection_id == t.collections.c.id, t.pending.c.distributed_id == distributed_id
        ))
        .where(t.projects.c.name == project, t.collections.c.name == name)
    )

    def check(conn: sa.Connection) -> None:
        row = conn.execute(query).first()
        if row is None:
            return
        if row.type != type_:
            raise CollectionTypeError(f"{project}/{name}", row.type, type_)
        if row.state not in (None, OPEN):
            raise _spent(_records(conn, sa.true(), pending_id=row.id)[0])

    catalog._query(check)



def add_contribution(
    catalog: SQLCatalog, project: str, name: str, type_: str, distributed_id: str, new: NewContribution,
    gc_epoch: int | None = None,
) -> tuple[str, ContributionRecord, bool]:
    """Add ``new`` to the open pending version of ``project/name`` named ``distributed_id``
    (created, with its collection, on first use); returns the pending version's id, the
    contribution and whether it was added (False: the same one was there already).

    Raises:
        PendingVersionError: the id was committed or aborted.
        CollectionTypeError: the collection holds another type.
    """

    def add(conn: sa.Connection) -> tuple[str, ContributionRecord, bool]:
        catalog._check_gc_fence(conn, gc_epoch)  # its blobs were checked before any gc since
        coll = catalog._collection(conn, project, name, type_, lock=False)
        assert coll is not None
        row = _open_row(conn, coll.id, distributed_id)
        found = conn.execute(
            sa.select(t.contributions).where(
                t.contributions.c.pending_id == row.id, t.contributions.c.key == new.key
            )
        ).first()
        record = _contribution(found) if found is not None else _insert(conn, row.id, new)
        return row.id, record, found is None

    return catalog._write(add)


def commit(
    catalog: SQLCatalog,
    project: str,
    name: str,
    type_: str,
    distributed_id: str,
    own: NewContribution,
    build: Callable[[list[ContributionRecord], VersionRecord | None], NewVersion],
    aliases: list[str],
    tags: list[str],
    gc_epoch: int | None = None,
    commit_id: str | None = None,
) -> tuple[VersionRecord, bool, PendingRecord]:
    """Add the finisher's own contribution, then commit what ``build`` makes of all of
    them as a version, and mark the pending version committed: one transaction.

    ``build(contributions, latest)`` runs inside the transaction, with the pending row
    and the collection locked; contributions come sorted by key, so the result does not
    depend on the order they arrived in. If it raises (a merge conflict), nothing is
    written: the finisher's contribution is not kept either, so it can be retried with
    fixed files. The version gets the aliases of every contribution plus ``aliases``,
    and an output edge from every contributing run (the finisher's first).

    ``commit_id`` (default: a fresh one) is recorded on the pending version (and on
    the version, when it is new): a retry after a lost answer to COMMIT finds it and
    returns what that commit made, instead of finding the id spent.

    Returns:
        The version, whether it is new (False: the merged files equal a committed
        version, which is returned) and the now committed pending version.

    Raises:
        CommitOutcomeUnknownError: the connection was lost after COMMIT was sent and
            the catalog could not be asked again.
    """
    commit_id = commit_id or new_commit_id()

    def txn(conn: sa.Connection) -> tuple[str, bool, str]:
        done = _own_commit(conn, commit_id)
        if done is not None:  # an earlier attempt committed it; its answer was lost
            return done
        catalog._check_gc_fence(conn, gc_epoch)
        coll = catalog._collection(conn, project, name, type_, lock=True)
        assert coll is not None
        row = _open_row(conn, coll.id, distributed_id, commit_id)
        if row.state == COMMITTED:  # that attempt's COMMIT landed while this one waited for the lock
            return _own_commit(conn, commit_id)  # type: ignore[return-value]
        parts = _contributions(conn, row.id)
        if all(p.key != own.key for p in parts):
            parts.append(_insert(conn, row.id, own))
            parts.sort(key=lambda p: p.key)
        every_alias = [*aliases, *(a for p in parts for a in p.info.get("aliases", ()))]
        runs = [own.run_id, *(p.run_id for p in parts)]
        vid, created = catalog.commit_locked(
            conn, coll, lambda latest: build(parts, latest), list(dict.fromkeys(every_alias)),
            tags, [r for r in dict.fromkeys(runs) if r], commit_id,
        )
        conn.execute(
            t.pending.update().where(t.pending.c.id == row.id)
            .values(state=COMMITTED, version_id=vid, closed_at=now(), commit_id=commit_id)
        )
        return vid, created, row.id

    vid, created, pending_id = catalog._write(
        txn, unknown=lambda: catalog.outcome_unknown(
            commit_id, where(project, name, distributed_id), f"quire artifact pending show {distributed_id}",
            "finishing again commits it if it was not, or says which version it became",
        ),
    )
    return catalog.version_by_id(vid), created, pending_by_id(catalog, pending_id)


def _own_commit(conn: sa.Connection, commit_id: str) -> tuple[str, bool, str] | None:
    """What the finish ``commit_id`` committed, if it did: the version id, whether that
    version is new (made by this commit), the pending version's id."""
    row = conn.execute(
        sa.select(t.pending.c.id, t.pending.c.version_id, t.versions.c.commit_id)
        .outerjoin(t.versions, t.versions.c.id == t.pending.c.version_id)
        .where(t.pending.c.commit_id == commit_id)
    ).first()
    return None if row is None else (row.version_id, row.commit_id == commit_id, row.id)


def abort(catalog: SQLCatalog, pending_id: str) -> PendingRecord:
    """Mark an open pending version aborted: its contributions will never be committed
    (their blobs become collectable) and its distributed id is spent. Aborting an
    aborted one does nothing; a committed one cannot be aborted."""

    def txn(conn: sa.Connection) -> None:
        row = conn.execute(
            sa.select(t.pending).where(t.pending.c.id == pending_id).with_for_update()
        ).first()
        if row is None:
            raise _missing(pending_id)
        if row.state == COMMITTED:
            record = pending_by_id(catalog, pending_id, conn)
            raise PendingVersionError(
                f"{record.where} was committed as v{record.version_index} and cannot be aborted; "
                "delete that version instead if it is unwanted"
            )
        if row.state == OPEN:
            conn.execute(
                t.pending.update().where(t.pending.c.id == pending_id).values(state=ABORTED, closed_at=now())
            )

    catalog._write(txn)
    return pending_by_id(catalog, pending_id)


def _open_row(conn: sa.Connection, coll_id: int, distributed_id: str, commit_id: str | None = None) -> sa.Row:
    """The pending row of (collection, id), created when absent, locked; open (or
    committed by ``commit_id``), else an error."""
    query = sa.select(t.pending).where(
        t.pending.c.collection_id == coll_id, t.pending.c.distributed_id == distributed_id
    ).with_for_update()
    row = conn.execute(query).first()
    if row is None:
        # A concurrent creator makes this insert fail on the unique key; the catalog's
        # write retry then finds its row.
        conn.execute(
            t.pending.insert().values(
                id=uuid.uuid4().hex, collection_id=coll_id, distributed_id=distributed_id,
                state=OPEN, created_at=now(),
            )
        )
        row = conn.execute(query).one()
    if row.state != OPEN and not (commit_id is not None and row.commit_id == commit_id):
        raise _spent(_records(conn, sa.true(), pending_id=row.id)[0])
    return row


def _spent(record: PendingRecord) -> PendingVersionError:
    if record.state == COMMITTED:
        what = (f"was committed as {record.collection}:v{record.version_index}"
                if record.version_index is not None else "was committed (that version was deleted since)")
    else:
        what = "was aborted"
    return PendingVersionError(
        f"{record.where} {what} at {record.closed_at}; its distributed id is spent, so nothing "
        "can be upserted into or finished with it. To make a new version, use a new "
        "distributed_id (or a new run group)"
    )


def _insert(conn: sa.Connection, pending_id: str, new: NewContribution) -> ContributionRecord:
    record = ContributionRecord(
        id=uuid.uuid4().hex, key=new.key, run_id=new.run_id, root=new.root,
        file_count=new.file_count, size=new.size, info=new.info, created_at=now(),
    )
    conn.execute(
        t.contributions.insert().values(
            id=record.id, pending_id=pending_id, key=record.key, run_id=record.run_id,
            manifest=record.root, file_count=record.file_count, size=record.size,
            info=record.info, created_at=record.created_at,
        )
    )
    return record


# -- reading ------------------------------------------------------------------------------


def _contribution(r: sa.Row) -> ContributionRecord:
    return ContributionRecord(r.id, r.key, r.run_id, r.manifest, r.file_count, r.size, r.info, r.created_at)


def _contributions(conn: sa.Connection, pending_id: str) -> list[ContributionRecord]:
    rows = conn.execute(
        sa.select(t.contributions).where(t.contributions.c.pending_id == pending_id)
        .order_by(t.contributions.c.key)
    )
    return [_contribution(r) for r in rows]


def _records(conn: sa.Connection, where: Any, pending_id: str | None = None) -> list[PendingRecord]:
    c = t.contributions.c
    count = sa.select(sa.func.count()).where(c.pending_id == t.pending.c.id).scalar_subquery()
    files = sa.select(sa.func.coalesce(sa.func.sum(c.file_count), 0)).where(
        c.pending_id == t.pending.c.id
    ).scalar_subquery()
    query = (
        sa.select(
            t.pending, t.collections.c.name.label("cname"), t.collections.c.type,
            t.projects.c.name.label("pname"), t.versions.c.idx, count.label("n"), files.label("files"),
        )
        .join(t.collections, t.collections.c.id == t.pending.c.collection_id)
        .join(t.projects, t.projects.c.id == t.collections.c.project_id)
        .outerjoin(t.versions, t.versions.c.id == t.pending.c.version_id)
        .where(where)
        .order_by(t.pending.c.created_at, t.pending.c.id)
    )
    if pending_id is not None:
        query = query.where(t.pending.c.id == pending_id)
    return [
        PendingRecord(
            id=r.id, project=r.pname, collection=r.cname, type=r.type,
            distributed_id=r.distributed_id, state=r.state, version_id=r.version_id,
            version_index=r.idx, created_at=r.created_at, closed_at=r.closed_at,
            contribution_count=r.n, file_count=int(r.files),
        )
        for r in conn.execute(query)
    ]


def pending_by_id(catalog: SQLCatalog, pending_id: str, conn: sa.Connection | None = None) -> PendingRecord:
    """The pending version with this id."""
    if conn is None:
        return catalog._query(lambda conn: pending_by_id(catalog, pending_id, conn))
    found = _records(conn, sa.true(), pending_id=pending_id)
    if not found:
        raise _missing(pending_id)
    return found[0]


def _missing(pending_id: str) -> ArtifactNotFoundError:
    return ArtifactNotFoundError(
        f"no pending version {pending_id!r}; list them with `quire artifact pending ls`"
    )


def find(catalog: SQLCatalog, project: str, name: str, distributed_id: str) -> PendingRecord | None:
    """The pending version (any state) of ``project/name`` named ``distributed_id``, if any."""
    where = sa.and_(
        t.projects.c.name == project, t.collections.c.name == name,
        t.pending.c.distributed_id == distributed_id,
    )
    found = catalog._query(lambda conn: _records(conn, where))
    return found[0] if found else None


def pending_versions(
    catalog: SQLCatalog, project: str | None = None, state: str | None = OPEN
) -> list[PendingRecord]:
    """Pending versions, oldest first: of one project or all, in one state or all (None)."""
    if state is not None and state not in STATES:
        raise ValidationError(f"unknown pending state {state!r}: choose one of {', '.join(STATES)}")
    where = sa.true()
    if project is not None:
        where = sa.and_(where, t.projects.c.name == project)
    if state is not None:
        where = sa.and_(where, t.pending.c.state == state)
    return catalog._query(lambda conn: _records(conn, where))


def resolve(catalog: SQLCatalog, ref: str, project: str | None = None) -> PendingRecord:
    """The pending version ``ref`` names: its id, or a distributed id (open ones first)
    that is unambiguous within ``project`` (or the whole store)."""
    where = t.pending.c.distributed_id == ref
    if project is not None:
        where = sa.and_(where, t.projects.c.name == project)
    found = catalog._query(lambda conn: _records(conn, sa.true(), pending_id=ref) or _records(conn, where))
    if found and found[0].id == ref:
        return found[0]
    candidates = [p for p in found if p.state == OPEN] or found
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        scope = f" in project {project!r}" if project else ""
        raise ArtifactNotFoundError(
            f"no pending version with id or distributed id {ref!r}{scope}; "
            "list them with `quire artifact pending ls`"
        )
    names = ", ".join(f"{p.project}/{p.collection} ({p.id})" for p in candidates)
    raise ValidationError(f"distributed id {ref!r} names several pending versions: {names}; give the id")


def contributions(catalog: SQLCatalog, pending_id: str) -> list[ContributionRecord]:
    """The contributions of a pending version, sorted by key (the merge order)."""
    return catalog._query(lambda conn: _contributions(conn, pending_id))
