"""The conformance suites on the server backend: the catalog and the object store of a
``quire server``, in process (its app through starlette's test client) and as a real
subprocess on a loopback port, each over a fresh embedded store.

The object store suite runs with an admin key: it writes keys of its own choosing, which
a server takes only from an admin (a write key may write only the key forms whose bytes
the server checks; ``tests/test_server_objects.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quire.store.http import connect
from quire.testing import BlobStoreTests, CatalogTests, FolderOutOfBand, ObjectStoreTests
from servers import InProcessServer, ServerProcess

from .sql_catalog import SQLBackdoor


@pytest.fixture(params=["in-process", pytest.param("process", marks=pytest.mark.slow)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A server over a fresh embedded store in ``tmp_path/behind``."""
    if request.param == "in-process":
        yield InProcessServer(str(tmp_path / "behind"))
        return
    proc = ServerProcess(str(tmp_path / "behind"))
    yield proc
    proc.stop()


def _opener(server: Any) -> Callable[[], Any]:
    if isinstance(server, InProcessServer):
        return lambda: connect(server.url, server.admin, client=server.client)
    return lambda: connect(server.url, server.admin)


@pytest.fixture
def open_server_objects(server: Any) -> Callable[[], Any]:
    return lambda: _opener(server)()[1]


@pytest.fixture
def server_out_of_band(tmp_path: Path) -> FolderOutOfBand:
    return FolderOutOfBand(tmp_path / "behind" / "blobs")


class TestServerObjects(ObjectStoreTests):
    @pytest.fixture
    def open_objects(self, open_server_objects):
        return open_server_objects

    @pytest.fixture
    def out_of_band(self, server_out_of_band):
        return server_out_of_band


class TestServerBlobs(BlobStoreTests):
    @pytest.fixture
    def open_objects(self, open_server_objects):
        return open_server_objects

    @pytest.fixture
    def out_of_band(self, server_out_of_band):
        return server_out_of_band


class TestServerCatalog(CatalogTests):
    @pytest.fixture
    def open_catalog(self, server: Any) -> Callable[[], Any]:
        return lambda: _opener(server)()[0]

    @pytest.fixture
    def catalog_backdoor(self, tmp_path: Path) -> SQLBackdoor:
        from quire.store.sql.engines import sqlite_engine

        return SQLBackdoor(sqlite_engine(tmp_path / "behind" / "catalog.db"))
