"""The embedded catalog: ``catalog.db`` (SQLite) in a store directory on this machine."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError
from .sql import SQLCatalog, damaged_catalog
from .sql.engines import sqlite_engine, writer_turn


def embedded_catalog(location: str) -> SQLCatalog:
    """The catalog of the store directory ``location`` (a path or ``file://`` URL),
    creating the directory and the catalog when needed.

    Its writers queue on ``catalog.lock`` beside it (see :func:`~quire.store.sql.engines.writer_turn`).
    """
    root = Path(location.removeprefix("file://")).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the store directory {root}: {exc.strerror}") from exc
    if not root.is_dir():
        raise StoreError(f"the store location {root} is not a directory")
    if not os.access(root, os.W_OK | os.X_OK):
        raise StoreError(f"the store directory {root} is not writable; choose another with QUIRE_STORE")
    db, lock = root / "catalog.db", root / "catalog.lock"
    if not db.exists():
        # The first processes to open a new store would all switch it to WAL and create
        # its tables at once, sleeping in SQLite's busy handler: one does it, the others
        # wait for their turn and find it done. It is made under another name and renamed
        # into place whole, so that no process ever opens a catalog without its tables.
        with writer_turn(lock):
            if not db.exists():
                new, wal = root / "catalog.db.new", root / "catalog.db.new-wal"
                for leftover in (new, wal, root / "catalog.db.new-shm"):
                    leftover.unlink(missing_ok=True)  # of a creator that crashed
                SQLCatalog(sqlite_engine(new)).close()  # the last close removes the WAL
                if wal.exists():  # its writes would stay behind
                    raise StoreError(f"could not finish creating the catalog {db}; try again")
                os.rename(new, db)
    _check_not_emptied(db)
    return SQLCatalog(sqlite_engine(db), lambda: writer_turn(lock))


def _check_not_emptied(db: Path) -> None:
    """Refuse a ``catalog.db`` of no bytes: Quire never leaves one (it is created whole,
    under another name), and SQLite would take it for a new, empty catalog and go on as
    if the store held no version. (Other damage SQLite reports itself; the catalog turns
    that into the same error, see ``SQLCatalog._error``.)"""
    wal = db.with_name(db.name + "-wal")
    if db.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        raise damaged_catalog(str(db), "the file is empty")
