"""Pending versions and their contributions, in SQL: the catalog side of collaborative mode.

A pending version is keyed by (collection, distributed id). While it is ``open``, writers
add **contributions** to it (each one a writer's manifest, stored as pages beforehand,
plus who wrote it). One finisher merges them (outside any transaction, in
``quire.core.commit``) and commits the result as a version of the collection in the same
transaction that marks the pending version ``committed``; or someone marks it
``aborted``. Either way its distributed id is spent: a later upsert or finish with it is
refused, so a straggler never silently starts another version.

Every write here (add a contribution, finish, abort) locks the pending row first, so
they are serialised: an upsert racing a finish either lands before it, and the finish
(which says which contributions it merged) moves on and merges again, or comes after it
and is refused.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from ...errors import (
    ArtifactNotFoundError,
    CollectionTypeError,
    MovedOnError,
    PendingVersionError,
    ValidationError,
)
from ..catalog import (
    ABORTED,
    COMMITTED,
    OPEN,
    PENDING_STATES,
    Added,
    ContributionRecord,
    Epoch,
    FinishCommit,
    Finished,
    NewContribution,
    PendingRecord,
    PendingState,
    now,
    pending_where,
)
from . import fence, versions
from . import schema as t
from .txn import Transactions

P = t.pending_versions


class PendingVerbs:
    """The pending-version verbs of the catalog protocol (mixed into
    :class:`~quire.store.sql.SQLCatalog`, which provides ``tx`` and ``version_by_id``)."""

    tx: Transactions

    def check_pending(self, project: str, name: str, type_: str, distributed_id: str) -> None:
        """Fail early, before a writer uploads anything, when its upsert or finish would be
        refused (the transaction checks again: this is only to spare the upload).

        Raises:
            CollectionTypeError: the collection holds another type.
            PendingVersionError: the id was committed or aborted.
        """
        query = (
            sa.select(t.collections.c.type, P.c.id, P.c.state)
            .join(t.projects, t.projects.c.id == t.collections.c.project_id)
            .outerjoin(P, sa.and_(P.c.collection_id == t.collections.c.id, P.c.distributed_id == distributed_id))
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

        self.tx.read(check)

    def add_contribution(
        self,
        project: str,
        name: str,
        type_: str,
        distributed_id: str,
        new: NewContribution,
        gc_epoch: Epoch,
        lease: str | None = None,
    ) -> Added:
        """Add ``new`` to the open pending version of ``project/name`` named ``distributed_id``
        (created, with its collection, on first use). ``lease``: the writer lease its blobs
        were staged under, ended in the same transaction (sparing the writer one of its own).

        Raises:
            PendingVersionError: the id was committed or aborted.
            CollectionTypeError: the collection holds another type.
            ConcurrentGCError: a gc began since ``gc_epoch``.
        """

        def add(conn: sa.Connection) -> Added:
            fence.check(conn, gc_epoch, self.tx.url)  # its blobs were checked before any gc since
            coll = versions.collection(conn, project, name, type_, lock=False)
            assert coll is not None
            row = _open_row(conn, coll.id, distributed_id)
            found = conn.execute(
                sa.select(t.contributions).where(
                    t.contributions.c.pending_id == row.id, t.contributions.c.key == new.key
                )
            ).first()
            record = _contribution(found) if found is not None else _insert(conn, row.id, new)
            if lease is not None:
                fence.end_lease(conn, lease)
            return Added(row.id, record, found is None)

        return self.tx.write(add)

    def finish(self, request: FinishCommit) -> Finished:
        """Add the finisher's own contribution, commit ``request.version`` and mark the
        pending version committed: one transaction.

        ``request.merged`` names the contributions the version was merged from; if the
        pending version holds any other (a writer upserted since they were read), nothing
        is written and ``MovedOnError`` says to merge again. ``request.commit_id`` is
        recorded on the pending version (and on the version, when it is new): a retry
        after a lost answer to COMMIT returns what that commit made.

        Raises:
            MovedOnError: the contributions are not (only) ``merged`` any more.
            CommitOutcomeUnknownError: the connection was lost after COMMIT was sent and
                the catalog could not be asked again.
        """
        r = request
        where = pending_where(r.project, r.collection, r.distributed_id)

        def txn(conn: sa.Connection) -> tuple[str, bool, str]:
            done = _own_commit(conn, r.commit_id)
            if done is not None:  # an earlier attempt committed it; its answer was lost
                return done
            fence.check(conn, r.gc_epoch, self.tx.url)
            coll = versions.collection(conn, r.project, r.collection, r.type, lock=True)
            assert coll is not None
            row = _open_row(conn, coll.id, r.distributed_id, r.commit_id)
            if row.state == COMMITTED:  # that attempt's COMMIT landed while this one waited for the lock
                found = _own_commit(conn, r.commit_id)
                assert found is not None
                return found
            held = {
                key
                for key in conn.scalars(sa.select(t.contributions.c.key).where(t.contributions.c.pending_id == row.id))
            }
            held.discard(r.own.key)
            if held != set(r.merged):
                raise MovedOnError(
                    f"{where} holds {len(held)} contributions other than the finisher's, not the "
                    f"{len(r.merged)} merged: a writer upserted meanwhile; nothing was committed"
                )
            if (
                conn.scalar(
                    sa.select(t.contributions.c.id).where(
                        t.contributions.c.pending_id == row.id, t.contributions.c.key == r.own.key
                    )
                )
                is None
            ):
                _insert(conn, row.id, r.own)
            vid, created = versions.add_version(
                conn, coll, r.version, r.aliases, r.tags, [i for i in dict.fromkeys(r.run_ids) if i], r.commit_id
            )
            conn.execute(
                P.update()
                .where(P.c.id == row.id)
                .values(state=COMMITTED, version_id=vid, closed_at=now(), commit_id=r.commit_id)
            )
            return vid, created, row.id

        vid, created, pending_id = self.tx.write(
            txn,
            unknown=lambda: self.tx.outcome_unknown(
                r.commit_id,
                where,
                f"quire artifact pending show {r.distributed_id}",
                "finishing again commits it if it was not, or says which version it became",
            ),
        )
        version = self.tx.read(lambda conn: versions.load(conn, [vid]))[0]
        return Finished(version, created, self.pending(pending_id))

    def abort_pending(self, pending_id: str) -> PendingRecord:
        """Mark an open pending version aborted: its contributions will never be committed
        (their blobs become collectable) and its distributed id is spent. Aborting an
        aborted one does nothing; a committed one cannot be aborted."""

        def txn(conn: sa.Connection) -> None:
            row = conn.execute(sa.select(P).where(P.c.id == pending_id).with_for_update()).first()
            if row is None:
                raise _missing(pending_id)
            if row.state == COMMITTED:
                record = _one(conn, pending_id)
                raise PendingVersionError(
                    f"{record.where} was committed as v{record.version_index} and cannot be aborted; "
                    "delete that version instead if it is unwanted"
                )
            if row.state == OPEN:
                conn.execute(P.update().where(P.c.id == pending_id).values(state=ABORTED, closed_at=now()))

        self.tx.write(txn)
        return self.pending(pending_id)

    # -- reading --------------------------------------------------------------------------

    def pending(self, pending_id: str) -> PendingRecord:
        """The pending version with this id."""
        return self.tx.read(lambda conn: _one(conn, pending_id))

    def find_pending(self, project: str, name: str, distributed_id: str) -> PendingRecord | None:
        """The pending version (any state) of ``project/name`` named ``distributed_id``, if any."""
        where = sa.and_(
            t.projects.c.name == project,
            t.collections.c.name == name,
            P.c.distributed_id == distributed_id,
        )
        found = self.tx.read(lambda conn: _records(conn, where))
        return found[0] if found else None

    def pending_versions(self, project: str | None = None, state: PendingState | None = OPEN) -> list[PendingRecord]:
        """Pending versions, oldest first: of one project or all, in one state or all (None)."""
        if state is not None and state not in PENDING_STATES:
            raise ValidationError(f"unknown pending state {state!r}: choose one of {', '.join(PENDING_STATES)}")
        where: sa.ColumnElement[bool] = sa.true()
        if project is not None:
            where = sa.and_(where, t.projects.c.name == project)
        if state is not None:
            where = sa.and_(where, P.c.state == state)
        return self.tx.read(lambda conn: _records(conn, where))

    def resolve_pending(self, ref: str, project: str | None = None) -> PendingRecord:
        """The pending version ``ref`` names: its id, or a distributed id (open ones first)
        that is unambiguous within ``project`` (or the whole store)."""
        where: sa.ColumnElement[bool] = P.c.distributed_id == ref
        if project is not None:
            where = sa.and_(where, t.projects.c.name == project)
        found = self.tx.read(lambda conn: _records(conn, sa.true(), pending_id=ref) or _records(conn, where))
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

    def contributions(self, pending_id: str) -> list[ContributionRecord]:
        """The contributions of a pending version, sorted by key (the merge order)."""
        return self.tx.read(lambda conn: _contributions(conn, pending_id))


def _own_commit(conn: sa.Connection, commit_id: str) -> tuple[str, bool, str] | None:
    """What the finish ``commit_id`` committed, if it did: the version id, whether that
    version is new (made by this commit), the pending version's id."""
    row = conn.execute(
        sa.select(P.c.id, P.c.version_id, t.versions.c.commit_id)
        .outerjoin(t.versions, t.versions.c.id == P.c.version_id)
        .where(P.c.commit_id == commit_id)
    ).first()
    return None if row is None else (row.version_id, row.commit_id == commit_id, row.id)


def _open_row(conn: sa.Connection, coll_id: int, distributed_id: str, commit_id: str | None = None) -> sa.Row[Any]:
    """The pending row of (collection, id), created when absent, locked; open (or
    committed by ``commit_id``), else an error."""
    query = sa.select(P).where(P.c.collection_id == coll_id, P.c.distributed_id == distributed_id).with_for_update()
    row = conn.execute(query).first()
    if row is None:
        # A concurrent creator makes this insert fail on the unique key; the catalog's
        # write retry then finds its row.
        conn.execute(
            P.insert().values(
                id=uuid.uuid4().hex,
                collection_id=coll_id,
                distributed_id=distributed_id,
                state=OPEN,
                created_at=now(),
            )
        )
        row = conn.execute(query).one()
    if row.state != OPEN and not (commit_id is not None and row.commit_id == commit_id):
        raise _spent(_records(conn, sa.true(), pending_id=row.id)[0])
    return row


def _spent(record: PendingRecord) -> PendingVersionError:
    if record.state == COMMITTED:
        what = (
            f"was committed as {record.collection}:v{record.version_index}"
            if record.version_index is not None
            else "was committed (that version was deleted since)"
        )
    else:
        what = "was aborted"
    return PendingVersionError(
        f"{record.where} {what} at {record.closed_at}; its distributed id is spent, so nothing "
        "can be upserted into or finished with it. To make a new version, use a new "
        "distributed_id (or a new run group)"
    )


def _insert(conn: sa.Connection, pending_id: str, new: NewContribution) -> ContributionRecord:
    record = ContributionRecord(
        id=uuid.uuid4().hex,
        key=new.key,
        run_id=new.run_id,
        root=new.root,
        file_count=new.file_count,
        size=new.size,
        info=new.info,
        created_at=now(),
    )
    conn.execute(
        t.contributions.insert().values(
            id=record.id,
            pending_id=pending_id,
            key=record.key,
            run_id=record.run_id,
            root=record.root,
            file_count=record.file_count,
            size=record.size,
            info=record.info,
            created_at=record.created_at,
        )
    )
    return record


# -- reading ------------------------------------------------------------------------------


def _contribution(r: sa.Row[Any]) -> ContributionRecord:
    return ContributionRecord(r.id, r.key, r.run_id, r.root, r.file_count, r.size, r.info, r.created_at)


def _contributions(conn: sa.Connection, pending_id: str) -> list[ContributionRecord]:
    rows = conn.execute(
        sa.select(t.contributions).where(t.contributions.c.pending_id == pending_id).order_by(t.contributions.c.key)
    )
    return [_contribution(r) for r in rows]


def _records(conn: sa.Connection, where: Any, pending_id: str | None = None) -> list[PendingRecord]:
    c = t.contributions.c
    count = sa.select(sa.func.count()).where(c.pending_id == P.c.id).scalar_subquery()
    files = sa.select(sa.func.coalesce(sa.func.sum(c.file_count), 0)).where(c.pending_id == P.c.id).scalar_subquery()
    query = (
        sa.select(
            P,
            t.collections.c.name.label("cname"),
            t.collections.c.type,
            t.projects.c.name.label("pname"),
            t.versions.c.idx,
            count.label("n"),
            files.label("files"),
        )
        .join(t.collections, t.collections.c.id == P.c.collection_id)
        .join(t.projects, t.projects.c.id == t.collections.c.project_id)
        .outerjoin(t.versions, t.versions.c.id == P.c.version_id)
        .where(where)
        .order_by(P.c.created_at, P.c.id)
    )
    if pending_id is not None:
        query = query.where(P.c.id == pending_id)
    return [
        PendingRecord(
            id=r.id,
            project=r.pname,
            collection=r.cname,
            type=r.type,
            distributed_id=r.distributed_id,
            state=r.state,
            version_id=r.version_id,
            version_index=r.idx,
            created_at=r.created_at,
            closed_at=r.closed_at,
            contribution_count=r.n,
            file_count=int(r.files),
        )
        for r in conn.execute(query)
    ]


def _one(conn: sa.Connection, pending_id: str) -> PendingRecord:
    found = _records(conn, sa.true(), pending_id=pending_id)
    if not found:
        raise _missing(pending_id)
    return found[0]


def _missing(pending_id: str) -> ArtifactNotFoundError:
    return ArtifactNotFoundError(f"no pending version {pending_id!r}; list them with `quire artifact pending ls`")
