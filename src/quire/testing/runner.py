"""Run the shipped suites against backends named by URL (``python -m quire.testing``).

The backends are opened through the registries of :mod:`quire.store.registry`, so any
registered scheme works. Every test gets empty storage of its own: a fresh prefix below
the object store URL (deleted again afterwards), a fresh directory below a catalog
directory, a fresh schema in a PostgreSQL database (dropped afterwards). The
out-of-band helpers exist for the built-in object stores (``file://``; ``s3://`` when
boto3 is installed); for other schemes the tests that need one are skipped.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..store.registry import CATALOGS, OBJECT_STORES, open_catalog, open_objects, scheme_of
from .blobs import BlobStoreTests
from .catalog import CatalogTests
from .objects import ObjectStoreTests
from .oob import OutOfBand, for_url

SUITES = Path(__file__).with_name("suites.py")  #: the module pytest collects
_POSTGRES = ("postgresql", "postgresql+psycopg", "postgres")


class Backends:
    """A pytest plugin: the fixtures the suites ask for, built from the URLs given."""

    def __init__(self, objects: str | None, catalog: str | None) -> None:
        self.objects = objects.rstrip("/") if objects else None
        self.catalog = catalog

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Leave out the suites of backends that were not given."""
        wanted, dropped = [], []
        for item in items:
            cls = getattr(item, "cls", None)
            objects_suite = cls is not None and issubclass(cls, ObjectStoreTests | BlobStoreTests)
            catalog_suite = cls is not None and issubclass(cls, CatalogTests)
            if (objects_suite and self.objects is None) or (catalog_suite and self.catalog is None):
                dropped.append(item)
            else:
                wanted.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = wanted

    @pytest.fixture
    def suite_objects_url(self) -> Iterator[str]:
        """A fresh, empty object store below the URL given (emptied again afterwards)."""
        assert self.objects is not None
        url = f"{self.objects}/quire-suite-{uuid.uuid4().hex[:12]}"
        yield url
        if scheme_of(url) == "file":  # its folders too, not only its objects
            shutil.rmtree(url.removeprefix("file://"), ignore_errors=True)
            return
        store = open_objects(url)
        for info in list(store.list()):
            store.delete(info.key)

    @pytest.fixture
    def suite_open_objects(self, suite_objects_url: str) -> Callable[[], Any]:
        return lambda: open_objects(suite_objects_url)

    @pytest.fixture
    def suite_out_of_band(self, suite_objects_url: str) -> OutOfBand | None:
        return for_url(suite_objects_url)

    @pytest.fixture
    def suite_open_catalog(self) -> Iterator[Callable[[], Any]]:
        """Handles on a fresh, empty catalog at the location given."""
        assert self.catalog is not None
        opened: list[Any] = []
        with _fresh_catalog(self.catalog) as location:

            def make() -> Any:
                catalog = open_catalog(location)
                opened.append(catalog)
                return catalog

            yield make
            for catalog in opened:
                catalog.close()


class _fresh_catalog:  # used as a context manager, like contextlib's
    """A location for an empty catalog of the kind ``base`` names: a new directory below
    a directory, a new schema in a PostgreSQL database (dropped on exit), else ``base``."""

    def __init__(self, base: str) -> None:
        self.base, self.schema = base, f"quire_suite_{uuid.uuid4().hex[:12]}"
        self.scheme = scheme_of(base)

    def __enter__(self) -> str:
        if self.scheme == "file":
            return str(Path(self.base.removeprefix("file://")) / self.schema)
        if self.scheme in _POSTGRES:
            self._sql(f"CREATE SCHEMA {self.schema}")
            sep = "&" if "?" in self.base else "?"
            return f"{self.base}{sep}options=-csearch_path%3D{self.schema}"
        return self.base  # another backend: the location given must be empty

    def __exit__(self, *_: object) -> None:
        if self.scheme in _POSTGRES:
            self._sql(f"DROP SCHEMA {self.schema} CASCADE")

    def _sql(self, statement: str) -> None:
        from ..store.sql.engines import postgres_engine

        engine = postgres_engine(self.base)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(statement)
        finally:
            engine.dispose()


def run(objects: str | None, catalog: str | None, pytest_args: list[str]) -> int:
    """Run the suites of the backends given; returns pytest's exit code."""
    for url, registry in ((objects, OBJECT_STORES), (catalog, CATALOGS)):
        if url is not None:
            registry.factory(url)  # an unknown scheme fails here, with the known ones named
    with tempfile.TemporaryDirectory(prefix="quire-suites-") as scratch:
        ini = Path(scratch) / "pytest.ini"
        ini.write_text("[pytest]\n")  # the suites' own settings, not those of the current folder
        args = [str(SUITES), "-c", str(ini), "--rootdir", scratch, "-p", "no:cacheprovider", *pytest_args]
        return int(pytest.main(args, plugins=[Backends(objects, catalog)]))
