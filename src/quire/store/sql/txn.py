"""Transactions on the catalog's engine: the one place that retries, and that turns
SQLAlchemy and driver errors into Quire errors, each by its class (or result code).

:class:`Transactions` is the small runner every part of :class:`~quire.store.sql.SQLCatalog`
shares: ``read(fn)`` and ``write(fn)`` run ``fn(conn)`` on a fresh connection, ``write``
in one transaction (with the writers' turn held, and the runs waiting to be recorded).
``fn`` may run more than once, so it only touches ``conn``: no blob I/O happens inside a
transaction (``quire.core.commit`` builds versions before it asks).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ...errors import CommitOutcomeUnknownError, QuireError, StoreError, UnreachableError, ValidationError
from ..catalog import RunRecord
from . import runs as run_rows

T = TypeVar("T")

#: SQLite's primary result codes: another connection holds the lock (transient)...
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
#: ... and a file that is not (or no longer) a whole database
_SQLITE_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
#: PostgreSQL's SQLSTATEs of a transaction that lost a race and may simply run again
_PG_TRANSIENT = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
}
#: a unique key taken by a concurrent creator of the same row (SQLite's extended codes
#: SQLITE_CONSTRAINT_PRIMARYKEY and _UNIQUE, PostgreSQL's unique_violation): the next
#: run of the transaction finds that row
_SQLITE_TAKEN = {1555, 2067}
_PG_TAKEN = "23505"
_READ_ATTEMPTS = 4
_WRITE_ATTEMPTS = 8


def damaged_catalog(path: str, reason: str) -> StoreError:
    """The error for an embedded catalog file that is not a whole SQLite database."""
    return StoreError(
        f"the catalog {path} is damaged ({reason}), so no version in that store can be read "
        "or written; restore the file from a backup (the blobs beside it are not affected)"
    )


def sqlite_code(exc: sa_exc.DBAPIError) -> int | None:
    """SQLite's primary result code of a driver error (None for other drivers)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def sqlstate(exc: sa_exc.DBAPIError) -> str | None:
    """PostgreSQL's SQLSTATE of a driver error (None for other drivers, and for a
    connection that failed before the server said anything)."""
    code = getattr(exc.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


def is_disconnect(exc: sa_exc.DBAPIError) -> bool:
    """The connection dropped or could not be made (SQLAlchemy says so for a connection
    it had; a new one that fails is psycopg's ``OperationalError`` without a SQLSTATE, or
    class 08, connection exception)."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa_exc.OperationalError) or sqlite_code(exc) is not None:
        return False
    state = sqlstate(exc)
    return state is None or state.startswith("08")


def is_taken(exc: sa_exc.DBAPIError) -> bool:
    """A unique key was taken by a concurrent writer (not a broken constraint)."""
    return getattr(exc.orig, "sqlite_errorcode", None) in _SQLITE_TAKEN or sqlstate(exc) == _PG_TAKEN


def is_transient(exc: sa_exc.DBAPIError) -> bool:
    """Whether running the same transaction again may succeed: it lost a race for a lock
    or a row (a concurrent creator of the same row: the next run sees it), or the
    connection dropped."""
    if isinstance(exc, sa_exc.IntegrityError):
        return is_taken(exc)
    return sqlite_code(exc) in _SQLITE_BUSY or sqlstate(exc) in _PG_TRANSIENT or is_disconnect(exc)


def _backoff(attempt: int) -> None:
    # Jittered, so that writers that lost the same race do not collide again in step.
    time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.0))


class Transactions:
    """Runs reads and write transactions on one engine (see the module's docstring).

    Attributes:
        engine: the SQLAlchemy engine.
        url: where the catalog is, fit to show (no password).
        writer_turn: held around every write transaction (the embedded store queues its
            writers on a file lock); may be replaced.
    """

    def __init__(
        self, engine: sa.Engine, writer_turn: Callable[[], AbstractContextManager[object]] = nullcontext
    ) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.writer_turn = writer_turn
        self._unrecorded: dict[str, RunRecord] = {}  # see defer_run
        self._unrecorded_lock = threading.Lock()

    # -- runs recorded with the next write ----------------------------------------------

    def defer_run(self, run: RunRecord) -> None:
        """Record ``run`` with the next write transaction."""
        with self._unrecorded_lock:
            self._unrecorded[run.id] = run

    def mark_finished(self, run_id: str, state: str, stamp: str) -> None:
        """A deferred run that never wrote is recorded as finished."""
        with self._unrecorded_lock:
            run = self._unrecorded.get(run_id)
            if run is not None:
                run.state, run.finished_at = state, stamp

    def forget_deferred(self) -> None:
        """Drop the deferred runs (a forked child must not record its parent's)."""
        self._unrecorded, self._unrecorded_lock = {}, threading.Lock()

    def _take_deferred(self) -> list[RunRecord]:
        with self._unrecorded_lock:
            runs, self._unrecorded = list(self._unrecorded.values()), {}
        return runs

    def _give_back(self, runs: list[RunRecord]) -> None:
        if runs:
            with self._unrecorded_lock:
                self._unrecorded.update({r.id: r for r in runs if r.id not in self._unrecorded})

    # -- running ------------------------------------------------------------------------

    def read(self, fn: Callable[[sa.Connection], T]) -> T:
        """``fn(conn)`` on a fresh connection, run again when the connection dropped or
        a lock timed out: a read right after a commit must not fail for the one broken
        connection the commit left behind."""
        for attempt in range(_READ_ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    return fn(conn)
            except sa_exc.DBAPIError as exc:
                transient = is_transient(exc) and not isinstance(exc, sa_exc.IntegrityError)
                if attempt == _READ_ATTEMPTS - 1 or not transient:
                    raise self.error("read", exc) from exc
                _backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def write(
        self,
        fn: Callable[[sa.Connection], T],
        unknown: Callable[[], CommitOutcomeUnknownError] | None = None,
        record_runs: bool = True,
        flush: bool = True,
    ) -> T:
        """Run ``fn`` in one write transaction, again when it lost a race or the
        connection dropped (the transaction was then rolled back by the server, or,
        when the answer to COMMIT was lost, perhaps committed).

        A caller whose ``fn`` may have committed already finds its own write first (a
        commit does, by its commit id) and passes ``unknown``: the error to raise when
        the catalog cannot be reached again after a lost answer to COMMIT. Deferred runs
        are recorded with the write, unless not ``record_runs`` (a lease). Not ``flush``:
        the commit need not survive a crash of the machine (a lease), so SQLite does not
        fsync it.
        """
        lost_answer = False  # an attempt sent COMMIT and got no answer: it may have committed
        for attempt in range(_WRITE_ATTEMPTS):
            runs = self._take_deferred() if record_runs else []
            committing = False
            try:
                # Connected before the turn is taken: a new connection's set-up (pragmas,
                # reading the schema) would otherwise hold up every queued writer.
                connection = self.engine.connect().execution_options(quire_write=True, quire_flush=flush)
                with connection as conn, self.writer_turn(), conn.begin():
                    run_rows.record(conn, runs, self.url)
                    result = fn(conn)
                    committing = True  # what fails from here on is the COMMIT
                runs = []
                return result
            except sa_exc.DBAPIError as exc:
                integrity = isinstance(exc, sa_exc.IntegrityError)
                if committing and not integrity:
                    lost_answer = True
                # After a lost answer to COMMIT, only the server can say what happened:
                # any error short of a refused value is worth asking again.
                asking = isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
                retry = is_transient(exc) or (lost_answer and asking)
                if attempt == _WRITE_ATTEMPTS - 1 or not retry:
                    if lost_answer and unknown is not None:
                        raise unknown() from exc
                    raise self.error("write", exc) from exc
                _backoff(attempt)
            finally:
                self._give_back(runs)  # not committed (or not known to be): they go with the next write
        raise AssertionError("unreachable")  # pragma: no cover

    def error(self, action: str, exc: sa_exc.DBAPIError) -> QuireError:
        """A clear one-line error naming the catalog (its password hidden), for a driver
        error; chosen by the error's class and code, not its text."""
        reason = " ".join(str(exc.orig).split())  # the driver's message, on one line
        if sqlite_code(exc) in _SQLITE_DAMAGED:
            return damaged_catalog(str(self.engine.url.database), reason)
        if isinstance(exc, sa_exc.DataError):  # a value the database cannot hold
            return ValidationError(f"the catalog at {self.url} refused a value: {reason}")
        if not self.is_sqlite and is_disconnect(exc):
            return UnreachableError(
                f"cannot reach the catalog at {self.url}: {reason.removeprefix('connection failed: ')}; "
                "check QUIRE_STORE and that the PostgreSQL server is running"
            )
        return StoreError(f"cannot {action} the catalog at {self.url}: {reason}")

    def outcome_unknown(self, commit_id: str, what: str, check: str, again: str) -> CommitOutcomeUnknownError:
        """The error for a commit of ``what`` whose answer was lost: ``check`` is the
        command that shows whether it arrived, ``again`` what repeating the call does."""
        return CommitOutcomeUnknownError(
            f"the connection to the catalog at {self.url} was lost after committing {what} "
            f"(commit id {commit_id}) and the catalog did not answer again, so whether it was "
            f"committed is unknown; once it answers, check with `{check}` ({again})",
            commit_id,
        )
