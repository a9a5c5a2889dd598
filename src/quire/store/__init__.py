"""Storage: the catalog (versions, aliases, runs, lineage) and the blob store (bytes).

:func:`open_store` turns a location into a :class:`Store`:

- a directory → the embedded store: ``catalog.db`` (SQLite) and ``blobs/`` inside it;
- ``postgresql://…`` → a PostgreSQL catalog, blobs from ``QUIRE_BLOBS`` (``s3://``,
  ``gs://``, ``az://`` or a shared ``file://`` folder); the local cache then goes to
  ``$QUIRE_CACHE_DIR``, else ``~/.cache/quire``.

A blob store belongs to one catalog: it records the catalog's id (object
:data:`OWNER_KEY`) on first use, and opening it with another catalog is refused, so
that a second catalog's gc can never delete the first one's bytes as garbage.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

import sqlalchemy as sa
import sqlalchemy.dialects.sqlite  # noqa: F401  # imported with quire, not by each process's first open
from sqlalchemy import event

from ..errors import ArtifactNotFoundError, MissingExtraError, StoreError
from .blobs import BlobStore
from .sql import SQLCatalog, damaged_catalog
from .objects import LocalObjects, ObjectStore

DEFAULT_STORE = Path("~/.quire")
POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")
CLOUD_SCHEMES = ("s3://", "gs://", "az://")
OWNER_KEY = "catalog-id"  #: the object naming the catalog a blob store belongs to


@dataclass
class Store:
    """A catalog and the blob store its versions point into."""

    url: str  #: the location, fit to show: a PostgreSQL URL's password is hidden
    catalog: SQLCatalog
    blobs: BlobStore
    #: a directory on this machine that belongs to the store (the embedded store's own),
    #: where the local cache goes by default; None for remote stores.
    local_dir: Path | None = None
    #: the location as given, to open the same store again (may hold a password)
    location: str = ""

    def __post_init__(self) -> None:
        self.location = self.location or self.url


_open: dict[tuple[int, str], Store] = {}
_open_lock = threading.Lock()


def store_location(location: str | os.PathLike[str] | None = None) -> str:
    """The store to use: ``location``, else ``$QUIRE_STORE``, else ``~/.quire``."""
    loc = location if location is not None else os.environ.get("QUIRE_STORE") or DEFAULT_STORE
    text = os.fspath(loc)
    if "://" in text and not text.startswith("file://"):
        return text
    text = text.removeprefix("file://")
    return str(Path(text).expanduser().resolve())


def open_store(location: str | os.PathLike[str] | None = None) -> Store:
    """Open (creating when needed) the store at ``location``; one instance per process."""
    where = store_location(location)
    blobs = os.environ.get("QUIRE_BLOBS", "") if where.startswith(POSTGRES_SCHEMES) else ""
    # Keyed by process too: a forked child must not share its parent's connections.
    key = (os.getpid(), where, blobs)
    with _open_lock:
        if key not in _open:
            _open[key] = _remote(where, blobs) if where.startswith(POSTGRES_SCHEMES) else _make(where)
        return _open[key]


_closing: list[Callable[[], None]] = []


def on_close(fn: Callable[[], None]) -> None:
    """Have :func:`close_stores` call ``fn()`` first, while the connections are open
    (:mod:`quire.core.lease` drops this process's writer leases there)."""
    _closing.append(fn)


def close_stores() -> None:
    """Close the connections of every store this process opened (they reopen on use)."""
    for fn in _closing:
        fn()
    with _open_lock:
        for store in _open.values():
            store.catalog.close()
        _open.clear()


def _remote(url: str, blobs: str) -> Store:
    """A team store: the catalog in PostgreSQL, the blobs in a bucket (or shared folder)."""
    if not blobs:
        raise StoreError(
            f"QUIRE_STORE names a PostgreSQL catalog ({_hide_password(url)}) but QUIRE_BLOBS is "
            "not set; set it to where the blobs go, e.g. QUIRE_BLOBS=s3://bucket/prefix"
        )
    objects = open_objects(blobs)  # first: a wrong bucket URL fails before any connection
    catalog = SQLCatalog(postgres_engine(url))
    store = Store(_hide_password(url), catalog, BlobStore(objects), location=url)
    _checked(store, f"QUIRE_BLOBS={blobs}")
    return store


def open_objects(url: str) -> ObjectStore:
    """The object store at ``url``: ``s3://``, ``gs://``, ``az://`` or ``file://``."""
    if url.startswith("file://"):
        path = Path(url.removeprefix("file://")).expanduser()
        if not path.is_absolute():
            raise StoreError(f"QUIRE_BLOBS={url} must be an absolute path, e.g. file:///shared/blobs")
        return LocalObjects(path)
    if url.startswith(CLOUD_SCHEMES):
        from .s3 import CloudObjects  # obstore is an optional dependency

        return CloudObjects(url)
    raise StoreError(f"unknown blob location {url!r}: use s3://, gs://, az:// or file:///path")


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
        raise StoreError(f"invalid PostgreSQL URL {_hide_password(url)}: {exc}") from exc
    # Plain postgresql:// means psycopg2 to SQLAlchemy; Quire speaks psycopg 3 only.
    parsed = parsed.set(drivername="postgresql+psycopg")
    connect: dict[str, object] = {"connect_timeout": 10}
    if "application_name" not in parsed.query:  # shows in pg_stat_activity
        connect["application_name"] = "quire"
    engine = sa.create_engine(parsed, pool_pre_ping=True, pool_recycle=1800, connect_args=connect)
    # A forked child must never talk on its parent's connections: it forgets them
    # (without closing, which would end them for the parent too) and opens its own.
    ref = weakref.ref(engine)
    os.register_at_fork(after_in_child=lambda: (alive := ref()) is not None and alive.dispose(close=False))
    return engine


def _hide_password(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]


def _make(key: str) -> Store:
    if "://" in key:
        raise StoreError(f"unknown store location {key!r}: give a directory or a postgresql:// URL")
    root = Path(key)
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
                SQLCatalog(sqlite_engine(new)).engine.dispose()  # the last close removes the WAL
                if wal.exists():  # its writes would stay behind
                    raise StoreError(f"could not finish creating the catalog {db}; try again")
                os.rename(new, db)
    _check_not_emptied(db)
    catalog = SQLCatalog(sqlite_engine(db), lambda: writer_turn(lock))
    store = Store(key, catalog, BlobStore(LocalObjects(root / "blobs")), local_dir=root)
    _checked(store, f"{root / 'blobs'}")
    return store


def _checked(store: Store, where: str) -> None:
    try:
        check_owner(store, where)
    except BaseException:
        store.catalog.close()  # the store is not kept: nothing else would close it
        raise


def check_owner(store: Store, where: str) -> None:
    """Make sure the blobs ``where`` belong to the store's catalog: record its id there
    on first use (put-if-absent, so of two catalogs racing, one wins), refuse another's.

    One small read when the store is opened; ``StoreError`` says whose blobs they are.
    """
    objects, mine = store.blobs.objects, store.catalog.catalog_id
    try:
        raw = objects.get(OWNER_KEY)
    except ArtifactNotFoundError:
        objects.put(OWNER_KEY, json.dumps({"catalog_id": mine, "catalog": store.catalog.url}).encode())
        raw = objects.get(OWNER_KEY)  # another catalog's, if it got there first
    try:
        owner = json.loads(raw)
        theirs, named = str(owner["catalog_id"]), str(owner.get("catalog", "another catalog"))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise StoreError(
            f"the blob store {where} has a damaged {OWNER_KEY} object (it names the catalog the "
            "blobs belong to); restore it from a backup, or check that this is a Quire blob store"
        ) from None
    if theirs != mine:
        if store.local_dir is not None:
            raise StoreError(
                f"{store.local_dir / 'catalog.db'} is not the catalog its blobs belong to (its id "
                f"is {mine}, theirs {theirs}): catalog.db was lost or replaced. Restore it "
                "from a backup, or move blobs/ away to start an empty store"
            )
        raise StoreError(
            f"the blobs at {where} belong to another catalog ({named}, id {theirs}), not to "
            f"{store.url} (id {mine}); give each catalog its own QUIRE_BLOBS"
        )


def _check_not_emptied(db: Path) -> None:
    """Refuse a ``catalog.db`` of no bytes: Quire never leaves one (it is created whole,
    under another name), and SQLite would take it for a new, empty catalog and go on as
    if the store held no version. (Other damage SQLite reports itself; the catalog turns
    that into the same error, see ``SQLCatalog._error``.)"""
    wal = db.with_name(db.name + "-wal")
    if db.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        raise damaged_catalog(str(db), "the file is empty")


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
    os.register_at_fork(before=lambda: (alive := ref()) is not None and alive.dispose())

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
        write = conn.get_execution_options().get("quire_write")
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
    got, guard, gave_up = threading.Event(), threading.Lock(), []

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
