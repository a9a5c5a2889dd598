"""The catalog in SQL: :class:`SQLCatalog`, for SQLite (embedded) and PostgreSQL (team).

The SQL lives in small modules of functions of a connection (``versions``, ``runs``,
``pending``, ``fence``, ``schema``), run inside transactions of one shared runner
(:class:`~quire.store.sql.txn.Transactions`: retries and error translation). This
class is the :class:`~quire.store.catalog.Catalog` protocol over them; every method is
one transaction (or one read), and no callback crosses it.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import sqlalchemy as sa

from ...errors import ArtifactNotFoundError, ValidationError
from ..catalog import (
    OPEN,
    TTL,
    Committed,
    Direction,
    RunRecord,
    VersionCommit,
    VersionOrder,
    VersionRecord,
    check_after,
    check_page,
    check_version_order,
    now,
)
from . import fence, links, runs, versions
from . import schema as t
from .collections import CollectionVerbs
from .fence import FenceVerbs
from .links import LinkVerbs
from .pending import PendingVerbs
from .runs import RunVerbs
from .txn import Transactions


def _forget(tx: Transactions | None) -> None:
    if tx is not None:
        tx.forget_deferred()


#: the migrations recorded, each with the catalog's id (one query for what opening a store reads)
_MIGRATED = sa.select(
    t.migrations_table.c.name, sa.select(t.identity.c.catalog_id).scalar_subquery().label("catalog_id")
)


class SQLCatalog(FenceVerbs, PendingVerbs, RunVerbs, CollectionVerbs, LinkVerbs):
    """The catalog on any SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(
        self, engine: sa.Engine, writer_turn: Callable[[], AbstractContextManager[object]] = nullcontext
    ) -> None:
        """``writer_turn()`` is held around every write transaction (the embedded store
        queues its writers on a file lock; see :func:`quire.store.writer_turn`)."""
        self.engine = engine
        self.tx = Transactions(engine, writer_turn)
        self.url = self.tx.url
        tx = weakref.ref(self.tx)  # a forked child must not record its parent's runs
        os.register_at_fork(after_in_child=lambda: _forget(tx()))
        self.migrate()

    @property
    def writer_turn(self) -> Callable[[], AbstractContextManager[object]]:
        """What is held around every write transaction."""
        return self.tx.writer_turn

    @writer_turn.setter
    def writer_turn(self, turn: Callable[[], AbstractContextManager[object]]) -> None:
        self.tx.writer_turn = turn

    def close(self) -> None:
        """Release connections (the engine reopens them on next use)."""
        self.engine.dispose()

    def handle(self) -> SQLCatalog:
        """Another handle on this catalog: the same engine (and known id), its own
        deferred runs; nothing is read to make it."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.tx = Transactions(self.engine, self.tx.writer_turn)
        return twin

    def migrate(self) -> None:
        """Apply the migrations this catalog has not recorded yet."""
        try:  # the common case, an up-to-date catalog, takes no write lock (one query)
            with self.engine.connect() as conn:
                rows = conn.execute(_MIGRATED).all()
            if {name for name, _ in t.MIGRATIONS} <= {row.name for row in rows}:
                # Read along (every store's opening checks it against its blob store's):
                # a catalog's id never changes.
                self.__dict__["_catalog_id"] = rows[0].catalog_id
                return
        except sa.exc.DBAPIError:
            pass  # a new catalog (no table yet), or unreadable: the write below says why

        def apply(conn: sa.Connection) -> None:
            if self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727172)")  # one migrator
            t.migrations_table.create(conn, checkfirst=True)
            done = set(conn.scalars(sa.select(t.migrations_table.c.name)))
            for name, step in t.MIGRATIONS:
                if name not in done:
                    step(conn)
                    conn.execute(t.migrations_table.insert().values(name=name, applied_at=now()))

        # Runs wait: their table may be one a migration has yet to make.
        self.tx.write(apply, record_runs=False)

    # -- versions ---------------------------------------------------------------------

    def commit(self, request: VersionCommit) -> Committed:
        """Commit ``request.version`` as the collection's next version (see the protocol).

        A retry after a lost answer to COMMIT finds the version by the commit id.

        Raises:
            MovedOnError: ``expect_latest`` is not the latest version any more.
            ConcurrentGCError: a gc began since ``gc_epoch``.
            CollectionTypeError: the collection holds another type.
            CommitOutcomeUnknownError: the answer was lost and the catalog did not answer again.
        """
        r = request
        what = f"a version of {r.project}/{r.collection}"

        def commit(conn: sa.Connection) -> tuple[str, bool]:
            done = versions.own_version(conn, r.commit_id)
            if done is not None:  # an earlier attempt committed it; its answer was lost
                return done, True
            fence.check(conn, r.gc_epoch, self.url)
            coll = versions.collection(conn, r.project, r.collection, r.type, lock=True)
            assert coll is not None
            versions.check_latest(conn, coll, r.expect_latest, what)
            return versions.add_version(conn, coll, r.version, r.aliases, r.tags, r.run_ids, r.commit_id)

        vid, created = self.tx.write(
            commit,
            unknown=lambda: self.tx.outcome_unknown(
                r.commit_id,
                what,
                f"quire artifact versions {r.project}/{r.collection}",
                "logging the same files again is safe: it makes no second version",
            ),
        )
        return Committed(self.version_by_id(vid), created)

    def version_by_id(self, vid: str) -> VersionRecord:
        """The version with this id."""
        found = self.tx.read(lambda conn: versions.load(conn, [vid]))
        if not found:
            raise ArtifactNotFoundError(f"no version with id {vid!r} in {self.url}")
        return found[0]

    def version_exists(self, vid: str) -> bool:
        """Whether the version with this id exists."""
        query = sa.select(t.versions.c.id).where(t.versions.c.id == vid)
        return self.tx.read(lambda conn: conn.scalar(query) is not None)

    def version(self, project: str, name: str, version: str = "latest") -> VersionRecord:
        """The version of ``project/name`` named ``vN`` or by an alias."""
        return self.tx.read(lambda conn: versions.named(conn, project, name, version))

    def versions(
        self,
        project: str,
        name: str,
        *,
        order: VersionOrder = "index",
        descending: bool = False,
        tags: list[str] | None = None,
        after: tuple[Any, int] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[VersionRecord]:
        """A page of a collection's versions (default: every one, oldest first; see the protocol)."""
        order = check_version_order(order)
        after = check_after(after, order)
        check_page(limit, offset)
        return self.tx.read(
            lambda conn: versions.of_collection(
                conn,
                project,
                name,
                order=order,
                descending=bool(descending),
                tags=tags,
                after=after,
                limit=limit,
                offset=offset,
            )
        )

    def count_versions(self, project: str, name: str, *, tags: list[str] | None = None) -> int:
        """How many versions of a collection hold every tag in ``tags``."""
        return self.tx.read(lambda conn: versions.count_of_collection(conn, project, name, tags))

    def update_version(
        self,
        vid: str,
        *,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        ttl: TTL | None = None,
    ) -> VersionRecord:
        """Replace the aliases, tags, description, metadata or TTL given (``None``: unchanged).

        ``aliases`` holding ``latest`` moves it here (until the next commit moves it on);
        ``aliases`` without it leave it where it is: ``latest`` is moved, never removed, so
        a collection with versions always has one (what incremental commits build on).
        """

        def update(conn: sa.Connection) -> None:
            coll_id = conn.scalar(sa.select(t.versions.c.collection_id).where(t.versions.c.id == vid))
            if coll_id is None:
                raise ArtifactNotFoundError(f"version {vid} was deleted")
            conn.execute(  # lock the collection: aliases move under it
                sa.select(t.collections.c.id).where(t.collections.c.id == coll_id).with_for_update()
            )
            if aliases is not None:
                conn.execute(t.aliases.delete().where(t.aliases.c.version_id == vid, t.aliases.c.alias != "latest"))
                for alias in dict.fromkeys(aliases):
                    versions.point(conn, coll_id, alias, vid)
            if tags is not None:
                conn.execute(t.tags.delete().where(t.tags.c.version_id == vid))
                versions.add_tags(conn, vid, tags)
            values: dict[str, Any] = {"updated_at": now()}
            if description is not None:
                values["description"] = description
            if metadata is not None:
                values["metadata"] = metadata
            if ttl is not None:
                values.update(versions.ttl_columns(ttl))
            conn.execute(t.versions.update().where(t.versions.c.id == vid).values(**values))

        self.tx.write(update)
        return self.version_by_id(vid)

    def delete_version(self, vid: str, delete_aliases: bool = False) -> None:
        """Delete a version; ``latest`` moves back to the newest one left."""

        def delete(conn: sa.Connection) -> None:
            rec = versions.load(conn, [vid])
            if not rec:
                raise ArtifactNotFoundError(f"version {vid} does not exist")
            links.check_unlinked(conn, [vid], f"{rec[0].project}/{rec[0].collection}:{rec[0].version}")
            held = [a for a in rec[0].aliases if a != "latest"]
            if held and not delete_aliases:
                raise ValidationError(
                    f"{rec[0].project}/{rec[0].collection}:{rec[0].version} has aliases "
                    f"{held}; pass delete_aliases=True to delete it with them"
                )
            coll_id = conn.scalar(sa.select(t.versions.c.collection_id).where(t.versions.c.id == vid))
            conn.execute(sa.select(t.collections.c.id).where(t.collections.c.id == coll_id).with_for_update())
            for table in (t.aliases, t.tags, t.lineage):
                conn.execute(table.delete().where(table.c.version_id == vid))
            conn.execute(t.versions.delete().where(t.versions.c.id == vid))
            newest = conn.scalar(
                sa.select(t.versions.c.id)
                .where(t.versions.c.collection_id == coll_id)
                .order_by(t.versions.c.idx.desc())
                .limit(1)
            )
            if newest is not None and coll_id is not None and "latest" in rec[0].aliases:
                versions.point(conn, coll_id, "latest", newest)

        self.tx.write(delete)

    # -- runs and lineage -------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        """Record a new run now."""
        runs.check_run(run)
        self.tx.write(lambda conn: runs.record(conn, [run], self.url))

    def defer_run(self, run: RunRecord) -> None:
        """Record a new run with this catalog's next write (or its :meth:`finish_run`).

        A run costs no transaction of its own: collaborative writers are dozens of short
        processes, each of which would otherwise queue three times on the catalog to
        write one contribution. A run that never writes appears when it finishes. For
        fresh random ids: one chosen by a user may be taken meanwhile (``create_run``).
        """
        runs.check_run(run)  # now: refused by the next write, it would fail that write
        self.tx.defer_run(run)

    def finish_run(self, run_id: str, state: str) -> None:
        """Record how a run ended (``finished`` or ``crashed``)."""
        stamp = now()
        self.tx.mark_finished(run_id, state, stamp)  # never written: recorded finished, in this write
        self.tx.write(
            lambda conn: conn.execute(
                t.runs.update().where(t.runs.c.id == run_id).values(state=state, finished_at=stamp)
            )
        )

    def run(self, run_id: str) -> RunRecord:
        """The run with this id."""
        found = self.tx.read(lambda conn: runs.load(conn, sa.select(t.runs.c.id).where(t.runs.c.id == run_id)))
        if not found:
            raise ArtifactNotFoundError(f"no run {run_id!r} in {self.url}")
        return found[0]

    def use_version(self, run_id: str, vid: str) -> None:
        """Record that a run used a version (an input edge)."""

        def use(conn: sa.Connection) -> None:
            # Checked, not left to the foreign key: a write is retried on integrity errors.
            if conn.scalar(sa.select(t.versions.c.id).where(t.versions.c.id == vid)) is None:
                raise ArtifactNotFoundError(
                    f"version {vid} is not in the catalog at {self.url}: it was deleted, or it "
                    "belongs to another store; use a version of this run's store"
                )
            runs.edges(conn, [run_id], vid, "input")

        self.tx.write(use)

    def runs_of(self, vid: str, direction: Direction) -> list[RunRecord]:
        """The runs that used (``input``) or made (``output``) a version."""
        ids = sa.select(t.lineage.c.run_id).where(t.lineage.c.version_id == vid, t.lineage.c.direction == direction)
        return self.tx.read(lambda conn: runs.load(conn, ids))

    def versions_of(self, run_id: str, direction: Direction) -> list[VersionRecord]:
        """The versions a run used (``input``) or made (``output``)."""
        ids = sa.select(t.lineage.c.version_id).where(t.lineage.c.run_id == run_id, t.lineage.c.direction == direction)
        return self.tx.read(lambda conn: versions.load(conn, list(conn.scalars(ids))))

    def roots(self) -> set[str]:
        """The root of every version and of every contribution to an open pending
        version (what gc must keep)."""
        open_contributions = (
            sa.select(t.contributions.c.root)
            .join(t.pending_versions, t.pending_versions.c.id == t.contributions.c.pending_id)
            .where(t.pending_versions.c.state == OPEN)
        )
        return self.tx.read(
            lambda conn: set(conn.scalars(sa.select(t.versions.c.root))) | set(conn.scalars(open_contributions))
        )
