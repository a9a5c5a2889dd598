"""The catalog: projects, collections, versions, aliases, tags, runs and lineage, in SQL.

One implementation over SQLAlchemy Core serves SQLite (embedded) and PostgreSQL (team).
Every visible change is one transaction; version numbers and aliases are protected by
the collection row, locked for the length of a commit (``BEGIN IMMEDIATE`` on SQLite,
``SELECT … FOR UPDATE`` on PostgreSQL), never by client-side checks.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ...errors import (
    ArtifactNotFoundError,
    CollectionTypeError,
    CommitOutcomeUnknownError,
    QuireError,
    StoreError,
    ValidationError,
)
from .. import schema as t
from ..fence import GCFence
from ..catalog import (
    CollectionRecord,
    NewVersion,
    RunRecord,
    VersionRecord,
    new_commit_id,
    now,
)

T = TypeVar("T")
_INDEX = re.compile(r"v(\d+)")
#: the largest version number the catalog's ``idx`` column (a 32-bit SQL integer) holds
_MAX_INDEX = 2**31 - 1


def damaged_catalog(path: str, reason: str) -> StoreError:
    """The error for an embedded catalog file that is not a whole SQLite database."""
    return StoreError(
        f"the catalog {path} is damaged ({reason}), so no version in that store can be read "
        "or written; restore the file from a backup (the blobs beside it are not affected)"
    )


class SQLCatalog(GCFence):
    """The catalog on any SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(
        self, engine: sa.Engine, writer_turn: Callable[[], AbstractContextManager[object]] = nullcontext
    ) -> None:
        """``writer_turn()`` is held around every write transaction (the embedded store
        queues its writers on a file lock; see :func:`quire.store.writer_turn`); it may
        be replaced later (as the attribute ``writer_turn``)."""
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        self._is_sqlite = engine.dialect.name == "sqlite"
        self.writer_turn = writer_turn
        self._unrecorded: dict[str, RunRecord] = {}  # see defer_run
        self._unrecorded_lock = threading.Lock()
        ref = weakref.ref(self)  # a forked child must not record its parent's runs
        os.register_at_fork(after_in_child=lambda: (me := ref()) is not None and me._forget_unrecorded())
        self.migrate()

    def close(self) -> None:
        """Close the pooled connections (they reopen on next use)."""
        self.engine.dispose()

    # -- transactions -----------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A connection for reads, its driver errors translated. Not retried (the body
        cannot run twice): prefer :meth:`_query`."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa_exc.DBAPIError as exc:
            raise self._error("read", exc) from exc

    def _query(self, fn: Callable[[sa.Connection], T], attempts: int = 4) -> T:
        """``fn(conn)`` on a fresh connection, run again when the connection dropped or
        a lock timed out: a read right after a commit must not fail for the one broken
        connection the commit left behind."""
        for attempt in range(attempts):
            try:
                with self.engine.connect() as conn:
                    return fn(conn)
            except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
                if attempt == attempts - 1 or not _retryable(exc):
                    raise self._error("read", exc) from exc
                time.sleep(min(0.05 * 2**attempt, 1.0))
            except sa_exc.DBAPIError as exc:
                raise self._error("read", exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(
        self,
        fn: Callable[[sa.Connection], T],
        attempts: int = 8,
        unknown: Callable[[], CommitOutcomeUnknownError] | None = None,
        record_runs: bool = True,
    ) -> T:
        """Run ``fn`` in one write transaction, retried when a concurrent one wins a race
        or the connection drops (the transaction was then rolled back by the server, or,
        when the answer to COMMIT was lost, perhaps committed).

        ``fn`` may run more than once, so it must only touch ``conn`` (and write
        content-addressed blobs, which is idempotent), and find its own write first if
        an earlier run may have committed it: commits do, by their commit id. Such a
        caller passes ``unknown``, the error to raise when the catalog cannot be reached
        again after a lost answer to COMMIT (the outcome is then unknown). Runs waiting
        to be recorded by their first write are recorded with it, unless not
        ``record_runs`` (a lease).
        """
        lost_answer = False  # an attempt sent COMMIT and got no answer: it may have committed
        for attempt in range(attempts):
            runs = self._take_unrecorded() if record_runs else []
            committing = False
            try:
                # Connected before the turn is taken: a new connection's set-up (pragmas,
                # reading the schema) would otherwise hold up every queued writer.
                with self.engine.connect().execution_options(quire_write=True) as conn, self.writer_turn():
                    with conn.begin():
                        self._record_runs(conn, runs)
                        result = fn(conn)
                        committing = True  # what fails from here on is the COMMIT
                runs = []
                return result
            except (sa_exc.IntegrityError, sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
                # IntegrityError: another writer created the same row first; retry sees it.
                # OperationalError: a lock timeout, a serialisation failure or a dropped
                # connection; same remedy. After a lost answer to COMMIT, any connection
                # error is worth another try: the server may be back, and only it can say.
                if committing and not isinstance(exc, sa_exc.IntegrityError):
                    lost_answer = True
                retry = _retryable(exc) or (lost_answer and not isinstance(exc, sa_exc.IntegrityError))
                if attempt == attempts - 1 or not retry:
                    if lost_answer and unknown is not None:
                        raise unknown() from exc
                    if isinstance(exc, sa_exc.IntegrityError):
                        raise
                    raise self._error("write", exc) from exc
                time.sleep(min(0.05 * 2**attempt, 1.0))
            except sa_exc.DBAPIError as exc:  # a damaged catalog, a value the database refuses
                if lost_answer and unknown is not None:
                    raise unknown() from exc
                raise self._error("write", exc) from exc
            finally:
                self._give_back(runs)  # not committed (or not known to be): they go with the next write
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, action: str, exc: sa_exc.DBAPIError) -> QuireError:
        """A clear one-line error naming the catalog (its password hidden), for any driver
        error; chosen by the error's class (and SQLite's result code), not its text."""
        reason = " ".join(str(exc.orig).split())  # the driver's message, on one line
        if self._is_sqlite and _sqlite_code(exc) in _DAMAGED:
            return damaged_catalog(str(self.engine.url.database), reason)
        if isinstance(exc, sa_exc.DataError):  # a value the database cannot hold
            return ValidationError(f"the catalog at {self.url} refused a value: {reason}")
        if not self._is_sqlite and "connection failed" in reason:
            return StoreError(
                f"cannot reach the catalog at {self.url}: {reason.removeprefix('connection failed: ')}; "
                "check QUIRE_STORE and that the PostgreSQL server is running"
            )
        return StoreError(f"cannot {action} the catalog at {self.url}: {reason}")

    def migrate(self) -> None:
        """Apply the migrations this catalog has not recorded yet."""

        try:  # the common case, an up-to-date catalog, takes no write lock (one query)
            with self.engine.connect() as conn:
                if {name for name, _ in t.MIGRATIONS} <= set(conn.scalars(sa.select(t.migrations_table.c.name))):
                    return
        except sa_exc.DBAPIError:
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

        self._write(apply)

    # -- projects and collections -----------------------------------------------------

    def _project_id(self, conn: sa.Connection, project: str, create: bool) -> int | None:
        pid = conn.scalar(sa.select(t.projects.c.id).where(t.projects.c.name == project))
        if pid is None and create:
            pid = conn.execute(
                t.projects.insert().values(name=project, created_at=now())
            ).inserted_primary_key[0]
        return pid

    def _collection(
        self, conn: sa.Connection, project: str, name: str, type_: str | None, lock: bool
    ) -> sa.Row | None:
        """The collection row (created when ``type_`` is given), locked when asked."""
        pid = self._project_id(conn, project, create=type_ is not None)
        if pid is None:
            return None
        query = sa.select(t.collections).where(
            t.collections.c.project_id == pid, t.collections.c.name == name
        )
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None and type_ is not None:
            conn.execute(
                t.collections.insert().values(project_id=pid, name=name, type=type_, created_at=now())
            )
            row = conn.execute(query.with_for_update() if lock else query).first()
        if row is not None and type_ is not None and row.type != type_:
            raise CollectionTypeError(f"{project}/{name}", row.type, type_)
        return row

    def collection_type(self, project: str, name: str) -> str | None:
        """The type of ``project/name``, or None when there is no such collection."""
        row = self._query(lambda conn: self._collection(conn, project, name, None, lock=False))
        return row.type if row is not None else None

    def collections(self, project: str, type_: str | None = None) -> list[CollectionRecord]:
        """The collections of a project, optionally of one type, by name."""
        count = (
            sa.select(sa.func.count())
            .where(t.versions.c.collection_id == t.collections.c.id)
            .scalar_subquery()
        )
        query = (
            sa.select(t.collections, count.label("n"))
            .join(t.projects, t.projects.c.id == t.collections.c.project_id)
            .where(t.projects.c.name == project)
            .order_by(t.collections.c.name)
        )
        if type_ is not None:
            query = query.where(t.collections.c.type == type_)
        return self._query(lambda conn: [
            CollectionRecord(project, r.name, r.type, r.description, r.n, r.created_at)
            for r in conn.execute(query)
        ])

    def projects(self) -> list[str]:
        """Every project name."""
        return self._query(lambda conn: list(conn.scalars(sa.select(t.projects.c.name).order_by(t.projects.c.name))))

    # -- versions ---------------------------------------------------------------------

    def commit_version(
        self,
        project: str,
        name: str,
        type_: str,
        build: Callable[[VersionRecord | None], NewVersion],
        aliases: list[str] = (),  # type: ignore[assignment]
        tags: list[str] = (),  # type: ignore[assignment]
        run_id: str | None = None,
        gc_epoch: int | None = None,
        commit_id: str | None = None,
    ) -> tuple[VersionRecord, bool]:
        """Commit a version of ``project/name``; returns it and whether it is new.

        ``build`` receives the collection's latest version inside the transaction (after
        the collection is locked), so a version made from it loses no concurrent update.
        A version whose digest equals a committed one of the collection is not made
        again: that one gets the aliases and the output edge.

        ``gc_epoch``: the writer's :meth:`gc_epoch` (a gc since: ``ConcurrentGCError``).
        ``commit_id``: this commit's client-made id (default: a fresh one), recorded on
        the version it makes; a retry after a lost answer returns that version.

        Raises:
            CommitOutcomeUnknownError: the connection was lost after COMMIT was sent and
                the catalog could not be asked again.
        """
        commit_id = commit_id or new_commit_id()

        def commit(conn: sa.Connection) -> tuple[str, bool]:
            done = self._own_version(conn, commit_id)
            if done is not None:  # an earlier attempt committed it; its answer was lost
                return done, True
            self._check_gc_fence(conn, gc_epoch)
            coll = self._collection(conn, project, name, type_, lock=True)
            assert coll is not None
            return self.commit_locked(conn, coll, build, aliases, tags, [run_id] if run_id else [], commit_id)

        vid, created = self._write(
            commit, unknown=lambda: self.outcome_unknown(
                commit_id, f"a version of {project}/{name}", f"quire artifact versions {project}/{name}",
                "logging the same files again is safe: it makes no second version",
            ),
        )
        return self.version_by_id(vid), created

    def outcome_unknown(self, commit_id: str, what: str, check: str, again: str) -> CommitOutcomeUnknownError:
        """The error for a commit of ``what`` whose answer was lost: ``check`` is the
        command that shows whether it arrived, ``again`` what repeating the call does."""
        return CommitOutcomeUnknownError(
            f"the connection to the catalog at {self.url} was lost after committing {what} "
            f"(commit id {commit_id}) and the catalog did not answer again, so whether it was "
            f"committed is unknown; once it answers, check with `{check}` ({again})",
            commit_id,
        )

    def _own_version(self, conn: sa.Connection, commit_id: str) -> str | None:
        """The version the commit ``commit_id`` made, if it made one."""
        return conn.scalar(sa.select(t.versions.c.id).where(t.versions.c.commit_id == commit_id))

    def commit_locked(
        self,
        conn: sa.Connection,
        coll: sa.Row,
        build: Callable[[VersionRecord | None], NewVersion],
        aliases: list[str],
        tags: list[str],
        run_ids: list[str],
        commit_id: str | None = None,
    ) -> tuple[str, bool]:
        """The body of :meth:`commit_version`, for a caller that already holds a write
        transaction and the lock on ``coll`` (a collaborative commit marks its pending
        version committed in the same transaction). Returns the version id and whether
        it is new (a new one records ``commit_id``)."""
        latest_id = self._alias_target(conn, coll.id, "latest")
        latest = self._load(conn, [latest_id])[0] if latest_id else None
        new = build(latest)
        same = conn.scalar(
            sa.select(t.versions.c.id).where(
                t.versions.c.collection_id == coll.id, t.versions.c.digest == new.digest
            ).limit(1)
        )
        created = same is None
        if created:
            vid = uuid.uuid4().hex
            stamp = now()
            conn.execute(
                t.versions.insert().values(
                    id=vid, collection_id=coll.id, idx=coll.next_index, digest=new.digest,
                    manifest=new.root, size=new.size, file_count=new.file_count,
                    metadata=new.metadata, description=new.description,
                    parent_id=new.parent_id, run_id=run_ids[0] if run_ids else None,
                    created_at=stamp, updated_at=stamp, commit_id=commit_id,
                )
            )
            conn.execute(
                t.collections.update()
                .where(t.collections.c.id == coll.id)
                .values(next_index=coll.next_index + 1)
            )
            self._point(conn, coll.id, "latest", vid)
        else:
            vid = same
        for alias in aliases:
            self._point(conn, coll.id, alias, vid)
        self._add_tags(conn, vid, tags)
        self._edges(conn, run_ids, vid, "output")
        return vid, created

    def _alias_target(self, conn: sa.Connection, coll_id: int, alias: str) -> str | None:
        return conn.scalar(
            sa.select(t.aliases.c.version_id).where(
                t.aliases.c.collection_id == coll_id, t.aliases.c.alias == alias
            )
        )

    def _point(self, conn: sa.Connection, coll_id: int, alias: str, vid: str) -> None:
        conn.execute(
            t.aliases.delete().where(t.aliases.c.collection_id == coll_id, t.aliases.c.alias == alias)
        )
        conn.execute(t.aliases.insert().values(collection_id=coll_id, alias=alias, version_id=vid))

    def _add_tags(self, conn: sa.Connection, vid: str, new_tags: list[str]) -> None:
        have = set(conn.scalars(sa.select(t.tags.c.tag).where(t.tags.c.version_id == vid)))
        for tag in dict.fromkeys(new_tags):
            if tag not in have:
                conn.execute(t.tags.insert().values(version_id=vid, tag=tag))

    def _edges(self, conn: sa.Connection, run_ids: list[str], vid: str, direction: str) -> None:
        """Lineage edges from each run to ``vid`` (those not there yet), in one insert."""
        have = set(conn.scalars(sa.select(t.lineage.c.run_id).where(
            t.lineage.c.version_id == vid, t.lineage.c.direction == direction
        )))
        new = [{"run_id": r, "version_id": vid, "direction": direction}
               for r in dict.fromkeys(run_ids) if r not in have]
        if new:
            conn.execute(t.lineage.insert(), new)

    def _load(self, conn: sa.Connection, ids: list[str]) -> list[VersionRecord]:
        """Full records of the given version ids, in the given order."""
        if not ids:
            return []
        query = (
            sa.select(t.versions, t.collections.c.name.label("cname"), t.collections.c.type,
                      t.projects.c.name.label("pname"))
            .join(t.collections, t.collections.c.id == t.versions.c.collection_id)
            .join(t.projects, t.projects.c.id == t.collections.c.project_id)
            .where(t.versions.c.id.in_(ids))
        )
        found = {}
        for r in conn.execute(query):
            found[r.id] = VersionRecord(
                id=r.id, project=r.pname, collection=r.cname, type=r.type, index=r.idx,
                digest=r.digest, root=r.manifest, size=r.size, file_count=r.file_count,
                metadata=r.metadata, description=r.description, parent_id=r.parent_id,
                run_id=r.run_id, created_at=r.created_at, updated_at=r.updated_at,
            )
        for vid, alias in conn.execute(
            sa.select(t.aliases.c.version_id, t.aliases.c.alias)
            .where(t.aliases.c.version_id.in_(ids))
            .order_by(t.aliases.c.alias)
        ):
            found[vid].aliases.append(alias)
        for vid, tag in conn.execute(
            sa.select(t.tags.c.version_id, t.tags.c.tag).where(t.tags.c.version_id.in_(ids)).order_by(t.tags.c.tag)
        ):
            found[vid].tags.append(tag)
        return [found[i] for i in ids if i in found]

    def version_by_id(self, vid: str) -> VersionRecord:
        """The version with this id."""
        found = self._query(lambda conn: self._load(conn, [vid]))
        if not found:
            raise ArtifactNotFoundError(f"no version with id {vid!r} in {self.url}")
        return found[0]

    def version_exists(self, vid: str) -> bool:
        """Whether the version with this id exists."""
        return self._query(lambda conn: conn.scalar(sa.select(sa.func.count()).where(t.versions.c.id == vid)) > 0)

    def version(self, project: str, name: str, version: str = "latest") -> VersionRecord:
        """The version of ``project/name`` named ``vN`` or by an alias."""
        return self._query(lambda conn: self._version(conn, project, name, version))

    def _version(self, conn: sa.Connection, project: str, name: str, version: str) -> VersionRecord:
        coll = self._collection(conn, project, name, None, lock=False)
        if coll is None:
            names = [c.name for c in self.collections(project)]
            raise ArtifactNotFoundError(f"no artifact {project}/{name}", names)
        m = _INDEX.fullmatch(version)
        if m and (len(m.group(1)) > 10 or int(m.group(1)) > _MAX_INDEX):
            vid = None  # no such version, and no SQL integer to look for it with
        elif m:
            vid = conn.scalar(
                sa.select(t.versions.c.id).where(
                    t.versions.c.collection_id == coll.id, t.versions.c.idx == int(m.group(1))
                )
            )
        else:
            vid = self._alias_target(conn, coll.id, version)
        if vid is None:
            have = [f"v{i}" for i in conn.scalars(
                sa.select(t.versions.c.idx).where(t.versions.c.collection_id == coll.id).order_by(t.versions.c.idx)
            )]
            have += sorted(conn.scalars(sa.select(t.aliases.c.alias).where(t.aliases.c.collection_id == coll.id)))
            raise ArtifactNotFoundError(f"no version {version!r} of {project}/{name}", have)
        return self._load(conn, [vid])[0]

    def versions(self, project: str, name: str) -> list[VersionRecord]:
        """Every version of a collection, oldest first."""

        def read(conn: sa.Connection) -> list[VersionRecord]:
            coll = self._collection(conn, project, name, None, lock=False)
            if coll is None:
                names = [c.name for c in self.collections(project)]
                raise ArtifactNotFoundError(f"no artifact {project}/{name}", names)
            ids = list(conn.scalars(
                sa.select(t.versions.c.id).where(t.versions.c.collection_id == coll.id).order_by(t.versions.c.idx)
            ))
            return self._load(conn, ids)

        return self._query(read)

    def update_version(
        self,
        vid: str,
        *,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> VersionRecord:
        """Replace the aliases, tags, description or metadata given (``None``: unchanged).

        ``latest`` is managed by the catalog: it is kept where it is, whatever ``aliases`` says.
        """

        def update(conn: sa.Connection) -> None:
            coll_id = conn.scalar(sa.select(t.versions.c.collection_id).where(t.versions.c.id == vid))
            if coll_id is None:
                raise ArtifactNotFoundError(f"version {vid} was deleted")
            conn.execute(  # lock the collection: aliases move under it
                sa.select(t.collections.c.id).where(t.collections.c.id == coll_id).with_for_update()
            )
            if aliases is not None:
                conn.execute(
                    t.aliases.delete().where(t.aliases.c.version_id == vid, t.aliases.c.alias != "latest")
                )
                for alias in dict.fromkeys(aliases):
                    if alias != "latest":
                        self._point(conn, coll_id, alias, vid)
            if tags is not None:
                conn.execute(t.tags.delete().where(t.tags.c.version_id == vid))
                self._add_tags(conn, vid, tags)
            values: dict[str, Any] = {"updated_at": now()}
            if description is not None:
                values["description"] = description
            if metadata is not None:
                values["metadata"] = metadata
            conn.execute(t.versions.update().where(t.versions.c.id == vid).values(**values))

        self._write(update)
        return self.version_by_id(vid)

    def delete_version(self, vid: str, delete_aliases: bool = False) -> None:
        """Delete a version; ``latest`` moves back to the newest one left."""

        def delete(conn: sa.Connection) -> None:
            rec = self._load(conn, [vid])
            if not rec:
                raise ArtifactNotFoundError(f"version {vid} does not exist")
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
                sa.select(t.versions.c.id).where(t.versions.c.collection_id == coll_id)
                .order_by(t.versions.c.idx.desc()).limit(1)
            )
            if newest is not None and "latest" in rec[0].aliases:
                self._point(conn, coll_id, "latest", newest)

        self._write(delete)

    # -- runs and lineage -------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        """Record a new run now."""
        self._write(lambda conn: self._record_runs(conn, [run]))

    def defer_run(self, run: RunRecord) -> None:
        """Record a new run with this catalog's next write (or its :meth:`finish_run`).

        A run costs no transaction of its own: collaborative writers are dozens of short
        processes, each of which would otherwise queue three times on the catalog to
        write one contribution. A run that never writes appears when it finishes. For
        fresh random ids: one chosen by a user may be taken meanwhile (``create_run``).
        """
        with self._unrecorded_lock:
            self._unrecorded[run.id] = run

    def finish_run(self, run_id: str, state: str) -> None:
        """Record how a run ended (``finished`` or ``crashed``)."""
        stamp = now()
        with self._unrecorded_lock:
            run = self._unrecorded.get(run_id)
            if run is not None:  # never written: recorded finished, in the next write
                run.state, run.finished_at = state, stamp
        self._write(
            lambda conn: conn.execute(
                t.runs.update().where(t.runs.c.id == run_id).values(state=state, finished_at=stamp)
            )
        )

    def _forget_unrecorded(self) -> None:
        self._unrecorded, self._unrecorded_lock = {}, threading.Lock()

    def _take_unrecorded(self) -> list[RunRecord]:
        with self._unrecorded_lock:
            runs, self._unrecorded = list(self._unrecorded.values()), {}
        return runs

    def _give_back(self, runs: list[RunRecord]) -> None:
        if runs:
            with self._unrecorded_lock:
                self._unrecorded.update({r.id: r for r in runs if r.id not in self._unrecorded})

    def _record_runs(self, conn: sa.Connection, runs: list[RunRecord]) -> None:
        for run in runs:
            # Checked, not left to the key: _write retries integrity errors (a concurrent
            # writer's row), which for a taken id only delays the same failure by seconds.
            made = conn.scalar(sa.select(t.runs.c.created_at).where(t.runs.c.id == run.id))
            if made == run.created_at:  # this very run, recorded by a write whose answer was lost
                continue
            if made is not None:
                raise ValidationError(
                    f"a run with id {run.id!r} exists already in {self.url}; "
                    "give another id, or none for a fresh one"
                )
            conn.execute(
                t.runs.insert().values(
                    id=run.id, project_id=self._project_id(conn, run.project, create=True),
                    name=run.name, group_name=run.group, job_type=run.job_type, config=run.config,
                    state=run.state, created_at=run.created_at, finished_at=run.finished_at,
                )
            )

    def run(self, run_id: str) -> RunRecord:
        """The run with this id."""
        runs = self._runs(sa.select(t.runs.c.id).where(t.runs.c.id == run_id))
        if not runs:
            raise ArtifactNotFoundError(f"no run {run_id!r} in {self.url}")
        return runs[0]

    def _runs(self, ids: sa.Select) -> list[RunRecord]:
        query = (
            sa.select(t.runs, t.projects.c.name.label("pname"))
            .join(t.projects, t.projects.c.id == t.runs.c.project_id)
            .where(t.runs.c.id.in_(ids))
            .order_by(t.runs.c.created_at)
        )
        return self._query(lambda conn: [
            RunRecord(r.id, r.pname, r.name, r.group_name, r.job_type, r.config, r.state,
                      r.created_at, r.finished_at)
            for r in conn.execute(query)
        ])

    def use_version(self, run_id: str, vid: str) -> None:
        """Record that a run used a version (an input edge)."""

        def use(conn: sa.Connection) -> None:
            # Checked, not left to the foreign key: _write would retry that for seconds.
            if conn.scalar(sa.select(t.versions.c.id).where(t.versions.c.id == vid)) is None:
                raise ArtifactNotFoundError(
                    f"version {vid} is not in the catalog at {self.url}: it was deleted, or it "
                    "belongs to another store; use a version of this run's store"
                )
            self._edges(conn, [run_id], vid, "input")

        self._write(use)

    def runs_of(self, vid: str, direction: str) -> list[RunRecord]:
        """The runs that used (``input``) or made (``output``) a version."""
        return self._runs(
            sa.select(t.lineage.c.run_id).where(
                t.lineage.c.version_id == vid, t.lineage.c.direction == direction
            )
        )

    def versions_of(self, run_id: str, direction: str) -> list[VersionRecord]:
        """The versions a run used (``input``) or made (``output``)."""
        ids = sa.select(t.lineage.c.version_id).where(
            t.lineage.c.run_id == run_id, t.lineage.c.direction == direction
        )
        return self._query(lambda conn: self._load(conn, list(conn.scalars(ids))))

    def roots(self) -> set[str]:
        """The manifest digest of every version and of every contribution to an open
        pending version (what gc must keep)."""
        open_contributions = (
            sa.select(t.contributions.c.manifest)
            .join(t.pending, t.pending.c.id == t.contributions.c.pending_id)
            .where(t.pending.c.state == "open")
        )
        return self._query(
            lambda conn: set(conn.scalars(sa.select(t.versions.c.manifest))) | set(conn.scalars(open_contributions))
        )


#: SQLite's primary result codes for a file that is not (or no longer) a whole database
_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def _sqlite_code(exc: sa_exc.DBAPIError) -> int | None:
    """SQLite's primary result code of a driver error (None for other drivers)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _retryable(exc: sa_exc.DBAPIError) -> bool:
    if isinstance(exc, sa_exc.IntegrityError) or exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    text = str(exc.orig).lower()
    return code in {"40001", "40P01", "55P03"} or "locked" in text or "busy" in text
