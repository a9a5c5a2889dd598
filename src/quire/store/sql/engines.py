"""SQLAlchemy engines for the two SQL catalogs, and the embedded store's writer queue.

- :func:`sqlite_engine`: the embedded catalog (``catalog.db`` in a store directory);
- :func:`postgres_engine`: a team catalog in PostgreSQL, through psycopg 3;
- :func:`writer_turn`: the file lock the embedded store's writers queue on.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

import sqlalchemy as sa
import sqlalchemy.dialects.sqlite  # imported with quire, not by each process's first open
from sqlalchemy import event

from ...errors import MissingExtraError, StoreError


def postgres_engine(url: str) -> sa.Engine:
    """An engine for a PostgreSQL catalog through psycopg 3 (``quire[postgres]``).

    Connections are checked before use (``pool_pre_ping``), so one dropped while idle in
    the pool (a server restart, a load balancer's timeout) is replaced, not reported.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise MissingExtraError("a PostgreSQL catalog", "postgres") from None
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"invalid PostgreSQL URL {hide_password(url)}: {exc}") from exc
    # Plain postgresql:// means psycopg2 to SQLAlchemy; Quire speaks psycopg 3 only.
    parsed = parsed.set(drivername="postgresql+psycopg")
    connect: dict[str, object] = {"connect_timeout": 10}
    if "application_name" not in parsed.query:  # shows in pg_stat_activity
        connect["application_name"] = "quire"
    engine = sa.create_engine(parsed, pool_pre_ping=True, pool_recycle=1800, connect_args=connect)
    # A forked child must never talk on its parent's connections: it forgets them
    # (without closing, which would end them for the parent too) and opens its own.
    ref = weakref.ref(engine)

    def forget() -> None:
        if (alive := ref()) is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=forget)
    return engine


def hide_password(url: str) -> str:
    """``url`` fit to show: its password (if any) replaced by ``***``."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]


def sqlite_engine(path: Path) -> sa.Engine:
    """An engine for the embedded catalog: WAL, a long busy timeout, ``BEGIN IMMEDIATE``
    for writes (so concurrent writers queue instead of failing half-way)."""
    # Connections stay open between transactions: closing the last one checkpoints and
    # deletes the WAL, which made every transaction of a lone writer twice as slow.
    # A URL object, not a string: parsing one compiles SQLAlchemy's URL regex in every process.
    engine = sa.create_engine(sa.engine.URL.create("sqlite", database=str(path)), poolclass=sa.pool.QueuePool)
    # A forked child must not inherit open SQLite connections (SQLite's per-process lock
    # bookkeeping would be wrong there): close the idle ones before every fork.
    ref = weakref.ref(engine)

    def close_idle() -> None:
        if (alive := ref()) is not None:
            alive.dispose()

    os.register_at_fork(before=close_idle)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 120000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        options = conn.get_execution_options()
        write = options.get("quire_write")
        if write:
            # A write that need not survive a crash (a writer's lease, see sql.fence)
            # commits without an fsync; SQLite takes the setting only between transactions,
            # and it is set back before any other write on this connection.
            level = "FULL" if options.get("quire_flush", True) else "NORMAL"
            if conn.info.get("quire_synchronous", "FULL") != level:
                conn.exec_driver_sql(f"PRAGMA synchronous = {level}")
                conn.info["quire_synchronous"] = level
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


#: how long a writer waits for its turn before giving up (SQLite's busy timeout, too)
WRITER_WAIT = 120.0


@contextmanager
def writer_turn(lock: Path, wait: float = WRITER_WAIT) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` for one write transaction.

    SQLite makes a writer that finds the database locked sleep and try again (sleeps
    growing to 100 ms), so with dozens of processes writing at once (collaborative
    writers) the database sat idle between transactions most of the time. Writers that
    queue on this lock are woken by the kernel the moment it is free.
    """
    if fcntl is None:  # pragma: no cover - no flock (Windows): SQLite's own locking only
        yield
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    if not _lock_within(fd, wait):  # the waiting thread now owns fd and closes it
        raise StoreError(
            f"waited {wait:.0f} s for the other processes writing the catalog in "
            f"{lock.parent}; is one of them stuck? Stop it and try again"
        )
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def _lock_within(fd: int, wait: float) -> bool:
    """Lock ``fd`` exclusively within ``wait`` seconds; False when that ran out.

    The wait blocks in the kernel, not in a polling loop: 30 writers polling every
    millisecond took a third of a core from the one holding the lock. A blocking
    ``flock`` cannot time out, so it runs in a thread; one that gives up leaves ``fd``
    to that thread, which closes it (releasing the lock at once) if it ever gets it.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    got, guard, gave_up = threading.Event(), threading.Lock(), list[bool]()

    def block() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with guard:
            got.set()
            if gave_up:
                os.close(fd)

    threading.Thread(target=block, name="quire-writer-turn", daemon=True).start()
    if got.wait(wait):
        return True
    with guard:
        if got.is_set():
            return True
        gave_up.append(True)
    return False
