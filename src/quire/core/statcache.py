"""The stat cache: digests remembered by (device, inode, size, mtime_ns, ctime_ns).

Re-adding a file that has not changed since it was hashed costs one ``stat`` instead of a
read. The mtime alone does not prove that: tools set it back on purpose (``os.utime``,
``tar -x``, ``cp -p``, ``rsync -t``, builds with ``SOURCE_DATE_EPOCH``), and a file
deleted and made again can get the same inode number. The inode change time cannot be
set by anyone and moves on every write, rename into place or ``utime``, so it is in the
key too, as in git's index. A file changed in the same clock tick as it was hashed could
keep both times, so digests of files changed less than :data:`RACY_SECONDS` ago (by
mtime or ctime) are not remembered (git's "racy clean" rule).

Rows live in the table ``stat_v2`` of ``cache.db`` (see :mod:`quire.core.cachedb`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .cachedb import CacheDB

RACY_SECONDS = 2.0


Key = tuple[int, int, int, int, int]


def stat_key(st: os.stat_result) -> Key:
    """What identifies an unchanged file: (device, inode, size, mtime_ns, ctime_ns)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class StatCache:
    """Remembered digests in ``cache.db``; safe to share between threads and processes."""

    def __init__(self, db: CacheDB | Path) -> None:
        # A path: a stat cache of its own (a test's, a tool's); the local cache passes its CacheDB.
        self.db = db if isinstance(db, CacheDB) else CacheDB(db)
        self._pending: list[tuple[int, int, int, int, int, str]] = []

    def get(self, st: os.stat_result) -> str | None:
        """The remembered digest of the file ``st`` describes, or None."""
        row = (
            self.db.connection()
            .execute(
                "SELECT digest FROM stat_v2 WHERE dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=?",
                stat_key(st),
            )
            .fetchone()
        )
        return row[0] if row else None

    def get_many(self, stats: list[os.stat_result]) -> list[str | None]:
        """:meth:`get` for many files at once (one indexed query per 500 files)."""
        found: dict[Key, str] = {}
        conn = self.db.connection()
        by_dev: dict[int, list[int]] = {}
        for st in stats:
            by_dev.setdefault(st.st_dev, []).append(st.st_ino)
        for dev, inodes in by_dev.items():
            for i in range(0, len(inodes), 500):
                batch = inodes[i : i + 500]
                # (dev, ino) is the primary key: an index search per inode, where a
                # row-value IN over all five columns would scan the table.
                rows = conn.execute(
                    "SELECT ino, size, mtime_ns, ctime_ns, digest FROM stat_v2"
                    f" WHERE dev = ? AND ino IN ({','.join('?' * len(batch))})",
                    [dev, *batch],
                )
                for ino, size, mtime_ns, ctime_ns, digest in rows:
                    found[(dev, ino, size, mtime_ns, ctime_ns)] = digest
        return [found.get(stat_key(st)) for st in stats]

    def put(self, st: os.stat_result, digest: str) -> None:
        """Remember a digest (written by :meth:`save`)."""
        # The ctime too: a file made now with an old mtime (tar -x, cp -p) is as young as
        # any other, and could change again within this ctime tick.
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_SECONDS * 1e9:
            self._pending.append((*stat_key(st), digest))

    def save(self) -> None:
        """Write what :meth:`put` gathered, in one transaction."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        with self.db.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO stat_v2 VALUES (?, ?, ?, ?, ?, ?)", rows)
