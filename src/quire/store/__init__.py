"""Storage: the catalog (versions, aliases, runs, lineage) and the blob store (bytes).

:func:`open_store` turns a location into a :class:`Store`:

- a directory → the embedded store: ``catalog.db`` (SQLite) and ``blobs/`` inside it;
- ``postgresql://…`` → a PostgreSQL catalog, blobs from ``QUIRE_BLOBS`` (``s3://``,
  ``gs://``, ``az://`` or a shared ``file://`` folder); the local cache then goes to
  ``$QUIRE_CACHE_DIR``, else ``~/.cache/quire``.

Which catalog and which object store a location names is looked up in the registries
of :mod:`quire.store.registry`, where other backends can join.

A blob store belongs to one catalog: it records the catalog's id (object
:data:`OWNER_KEY`) on first use, and opening it with another catalog is refused, so
that a second catalog's gc can never delete the first one's bytes as garbage.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ObjectNotFoundError, StoreError
from .blobs import BlobStore
from .catalog import Catalog
from .objects import LocalObjects
from .registry import (
    CATALOGS,
    WHOLE_STORES,
    open_objects,
    register_catalog,
    register_object_store,
    register_store,
    scheme_of,
)

if TYPE_CHECKING:
    from .sql.engines import postgres_engine, sqlite_engine, writer_turn

#: names of :mod:`quire.store.sql.engines` served from here, imported on first use: they
#: need SQLAlchemy, which a process pays for only when it opens a catalog
_ENGINES = {"postgres_engine", "sqlite_engine", "writer_turn"}

__all__ = [
    "OWNER_KEY",
    "STORES",
    "OpenStores",
    "Store",
    "check_owner",
    "close_stores",
    "on_close",
    "open_objects",
    "open_store",
    "postgres_engine",
    "register_catalog",
    "register_object_store",
    "register_store",
    "sqlite_engine",
    "store_location",
    "writer_turn",
]

DEFAULT_STORE = Path("~/.quire")
OWNER_KEY = "catalog-id"  #: the object naming the catalog a blob store belongs to


@dataclass
class Store:
    """A catalog and the blob store its versions point into."""

    url: str  #: the location, fit to show: a PostgreSQL URL's password is hidden
    catalog: Catalog
    blobs: BlobStore
    #: a directory on this machine that belongs to the store (the embedded store's own),
    #: where the local cache goes by default; None for remote stores.
    local_dir: Path | None = None
    #: the location as given, to open the same store again (may hold a password)
    location: str = ""

    def __post_init__(self) -> None:
        self.location = self.location or self.url


class OpenStores:
    """The stores this process opened, one per location (each holds connections and a
    pack index worth keeping), and what must run before they close."""

    def __init__(self) -> None:
        self._stores: dict[tuple[int, str, str], Store] = {}
        self._lock = threading.Lock()
        self._before_close: list[Callable[[], None]] = []

    def get(self, key: tuple[int, str, str], make: Callable[[], Store]) -> Store:
        """The store kept under ``key``, made by ``make()`` the first time."""
        with self._lock:
            if key not in self._stores:
                self._stores[key] = make()
            return self._stores[key]

    def before_close(self, fn: Callable[[], None]) -> None:
        """Have :meth:`close` call ``fn()`` first, while the connections are open."""
        self._before_close.append(fn)

    def close(self) -> None:
        """Close every store's connections and forget the stores (they reopen on use)."""
        for fn in self._before_close:
            fn()
        with self._lock:
            for store in self._stores.values():
                store.catalog.close()
            self._stores.clear()

    def forget(self) -> None:
        """Forget the stores without closing them: the next open makes a fresh one
        (benchmarks use it to measure a first open)."""
        with self._lock:
            self._stores.clear()


#: the open stores of this process
STORES = OpenStores()


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
    scheme = scheme_of(where)
    if scheme in WHOLE_STORES:
        # keyed by the API key too: a server answers each key as another caller (the key
        # stays in this process's memory)
        return STORES.get((os.getpid(), where, os.environ.get("QUIRE_API_KEY", "")), lambda: _whole(where))
    remote = scheme != "file"
    blobs = os.environ.get("QUIRE_BLOBS", "") if remote else ""
    # Keyed by process too: a forked child must not share its parent's connections.
    return STORES.get((os.getpid(), where, blobs), lambda: _remote(where, blobs) if remote else _embedded(where))


def on_close(fn: Callable[[], None]) -> None:
    """Have :func:`close_stores` call ``fn()`` first, while the connections are open
    (:mod:`quire.core.lease` drops this process's writer leases there)."""
    STORES.before_close(fn)


def close_stores() -> None:
    """Close the connections of every store this process opened (they reopen on use)."""
    STORES.close()


def _remote(url: str, blobs: str) -> Store:
    """A team store: the catalog in a database (PostgreSQL), the blobs in a bucket (or shared folder)."""
    from .sql.engines import hide_password  # SQLAlchemy parses the URL: loaded when a catalog opens

    shown = hide_password(url)
    open_catalog = CATALOGS.factory(url, shown)  # first: an unknown scheme is named as such
    if not blobs:
        raise StoreError(
            f"QUIRE_STORE names a remote catalog ({shown}) but QUIRE_BLOBS is "
            "not set; set it to where the blobs go, e.g. QUIRE_BLOBS=s3://bucket/prefix"
        )
    objects = open_objects(blobs)  # before the catalog: a wrong bucket URL fails before any connection
    store = Store(shown, open_catalog(url), BlobStore(objects), location=url)
    _checked(store, f"QUIRE_BLOBS={blobs}")
    return store


def _whole(url: str) -> Store:
    """A store whose one URL names its catalog and its blobs (see ``register_store``).

    Their owner is not checked here: a server checked that its blobs belong to its
    catalog when it opened the store behind it (two requests fewer per process: a warm
    download through a server asks only for the version)."""
    catalog, objects = WHOLE_STORES.factory(url)(url)
    return Store(url, catalog, BlobStore(objects), location=url)


def _embedded(root: str) -> Store:
    """The embedded store in the directory ``root``: ``catalog.db`` and ``blobs/``."""
    catalog = CATALOGS.factory(root)(root)
    store = Store(root, catalog, BlobStore(LocalObjects(Path(root) / "blobs")), local_dir=Path(root))
    _checked(store, f"{Path(root) / 'blobs'}")
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
    except ObjectNotFoundError:
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


def __getattr__(name: str) -> Any:
    if name in _ENGINES:
        from .sql import engines

        return getattr(engines, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
