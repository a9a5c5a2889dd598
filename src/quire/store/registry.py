"""Backends by URL scheme: which object store or catalog a location names.

Two registries, looked up by the scheme of a URL (a plain path counts as ``file``):

- object stores: ``file://`` (a local or shared folder), ``s3://``, ``gs://``, ``az://``;
- catalogs: a directory (``file``: the embedded SQLite catalog) and ``postgresql://``,
  ``postgresql+psycopg://``, ``postgres://``.

A backend outside Quire joins with :func:`register_object_store` / :func:`register_catalog`,
or by naming a function that calls them in the ``quire.backends`` entry-point group
(in its ``pyproject.toml``: ``[project.entry-points."quire.backends"] mine = "pkg.mod:register"``);
the group is loaded only when a scheme is not found among the registered ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ..errors import StoreError
from .objects import LocalObjects, ObjectStore

if TYPE_CHECKING:
    from .catalog import Catalog

#: opens the object store at a URL (of the scheme it was registered for)
ObjectStoreFactory = Callable[[str], ObjectStore]
#: opens the catalog at a URL (a directory, for the ``file`` scheme)
CatalogFactory = Callable[[str], "Catalog"]
#: opens a whole store (its catalog and the object store of its blobs) at one URL: a
#: server, whose location names both
StoreFactory = Callable[[str], "tuple[Catalog, ObjectStore]"]
ENTRY_POINT_GROUP = "quire.backends"

F = TypeVar("F")


def scheme_of(location: str) -> str:
    """The scheme of ``location``, lowercase: ``s3`` for ``s3://b/p``, ``file`` for a path."""
    scheme, sep, _ = location.partition("://")
    return scheme.lower() if sep else "file"


class Plugins:
    """The ``quire.backends`` entry points, loaded at most once per process, on demand."""

    def __init__(self) -> None:
        self._loaded = False
        self._lock = threading.Lock()

    def load(self) -> None:
        """Call every registered entry point's function (once)."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # first: a plugin that fails is not retried on every lookup
            # here, not at the top: importlib.metadata costs more than the rest of the store's
            # imports, and only a scheme none of the built-in backends knows needs it
            from importlib.metadata import entry_points

            for point in entry_points(group=ENTRY_POINT_GROUP):
                point.load()()


class Registry(Generic[F]):
    """Factories of one kind of backend, by URL scheme."""

    def __init__(self, kind: str, plugins: Plugins, local: str) -> None:
        self.kind = kind  #: what the backends are, for messages ("object store", "catalog")
        self.local = local  #: how a location of the ``file`` scheme is written, for messages
        self._factories: dict[str, F] = {}
        self._plugins = plugins

    def register(self, scheme: str, factory: F) -> None:
        """Open URLs of ``scheme`` (``"s3"``, not ``"s3://"``) with ``factory``; a scheme
        registered again gets the new factory."""
        if not scheme or "://" in scheme or scheme != scheme.lower():
            raise ValueError(f"a scheme is lowercase and has no '://' (e.g. 's3'), not {scheme!r}")
        self._factories[scheme] = factory

    def __contains__(self, scheme: object) -> bool:
        """Whether ``scheme`` is registered (no entry point is loaded to find out)."""
        return scheme in self._factories

    def schemes(self) -> list[str]:
        """The registered schemes, sorted."""
        return sorted(self._factories)

    def factory(self, location: str, what: str = "") -> F:
        """The factory for ``location``'s scheme; ``StoreError`` listing the known schemes
        when there is none (``what`` names the setting the location came from)."""
        scheme = scheme_of(location)
        if scheme not in self._factories:
            self._plugins.load()
        if scheme not in self._factories:
            known = ", ".join(f"{s}://" if s != "file" else self.local for s in self.schemes())
            raise StoreError(f"unknown {self.kind} location {what or location!r}: give one of {known}")
        return self._factories[scheme]


PLUGINS = Plugins()
OBJECT_STORES: Registry[ObjectStoreFactory] = Registry("object store", PLUGINS, "file:///path")
CATALOGS: Registry[CatalogFactory] = Registry("catalog", PLUGINS, "a directory")
#: schemes whose URL names a whole store (a server's, whose one location holds both its
#: catalog and its blobs); a location of one needs no ``QUIRE_BLOBS``
WHOLE_STORES: Registry[StoreFactory] = Registry("store", PLUGINS, "a directory")


def register_object_store(scheme: str, factory: ObjectStoreFactory) -> None:
    """Have :func:`open_objects` (and ``QUIRE_BLOBS``) open ``scheme://…`` with ``factory(url)``."""
    OBJECT_STORES.register(scheme, factory)


def register_catalog(scheme: str, factory: CatalogFactory) -> None:
    """Have :func:`open_catalog` (and ``QUIRE_STORE``) open ``scheme://…`` with ``factory(url)``."""
    CATALOGS.register(scheme, factory)


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Have ``QUIRE_STORE=scheme://…`` open a whole store with ``factory(url)``."""
    WHOLE_STORES.register(scheme, factory)


def open_objects(url: str) -> ObjectStore:
    """The object store at ``url`` (``file:///path``, ``s3://bucket/prefix``, ...)."""
    return OBJECT_STORES.factory(url)(url)


def open_catalog(location: str) -> Catalog:
    """The catalog at ``location``: a directory (the embedded catalog) or a URL."""
    return CATALOGS.factory(location)(location)


# -- the built-in backends ------------------------------------------------------------


def _local_objects(url: str) -> ObjectStore:
    path = Path(url.removeprefix("file://")).expanduser()
    if not path.is_absolute():
        raise StoreError(f"the blob location {url} must be an absolute path, e.g. file:///shared/blobs")
    return LocalObjects(path)


def _cloud_objects(url: str) -> ObjectStore:
    from .s3 import CloudObjects  # obstore is an optional dependency

    return CloudObjects(url)


def _embedded_catalog(location: str) -> Catalog:
    from .embedded import embedded_catalog  # SQLAlchemy: imported by the store, not by the registry

    return embedded_catalog(location)


def _postgres_catalog(url: str) -> Catalog:
    from .sql import SQLCatalog
    from .sql.engines import postgres_engine

    return SQLCatalog(postgres_engine(url))


def _server(url: str) -> tuple[Catalog, ObjectStore]:
    from .http import connect  # httpx: loaded when a server's store opens

    return connect(url)


register_object_store("file", _local_objects)
for _scheme in ("s3", "gs", "az"):
    register_object_store(_scheme, _cloud_objects)
register_catalog("file", _embedded_catalog)
for _scheme in ("postgresql", "postgresql+psycopg", "postgres"):
    register_catalog(_scheme, _postgres_catalog)
for _scheme in ("http", "https"):
    register_store(_scheme, _server)
