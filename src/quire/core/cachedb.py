"""``cache.db``: the local cache's SQLite file, with one owner.

Two tables live in it: ``used`` (when each cached file was last used, for the cache's LRU
cleanup) and ``stat_v2`` (the stat cache's remembered digests). :class:`CacheDB` is the
only code that opens the file: it holds one connection per thread (sqlite3 connections
must stay in the thread that made them) and per process (a forked child must not share
its parent's), sets the pragmas once and makes the schema. The table ``stat`` of older
versions (keyed without the ctime) is left as it is and never read, so an old
``cache.db`` keeps working.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS used (digest TEXT PRIMARY KEY, at REAL) WITHOUT ROWID",
    # One row per inode: a changed file's new digest replaces its old one.
    (
        "CREATE TABLE IF NOT EXISTS stat_v2 (dev INTEGER, ino INTEGER, size INTEGER,"
        " mtime_ns INTEGER, ctime_ns INTEGER, digest TEXT NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID"
    ),
)


class CacheDB:
    """The SQLite file at ``path``; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (in autocommit mode: see :meth:`transaction`).

        Opened again when the file is not the one it was opened on (the cache folder
        was removed, or replaced, since): writes to a removed file would vanish unseen.
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        pid, ident = os.getpid(), _identity(self.path)
        if conn is not None and (self._local.pid, self._local.ident) == (pid, ident):
            return conn
        if conn is not None and self._local.pid == pid:
            conn.close()  # of a file that is gone (a forked child's copy is left alone)
        conn = self._open()
        self._local.conn, self._local.pid, self._local.ident = conn, pid, _identity(self.path)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection inside one transaction, committed when the block ends
        (rolled back if it raises)."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (another use opens it again)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            # Processes opening a new cache.db at once: switching the mode takes the
            # database alone and does not wait (SQLite answers "locked"); one of them
            # switches it, and the others work in the mode they find.
            with contextlib.suppress(sqlite3.OperationalError):
                conn.execute("PRAGMA journal_mode = WAL")
        # A cache: a power loss may forget the last rows, never corrupt them, so commits
        # need not wait for the disk (one fsync less per process that adds or downloads).
        conn.execute("PRAGMA synchronous = NORMAL")
        for statement in _SCHEMA:
            conn.execute(statement)
        return conn


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
