"""The conformance suites on the server backend: the catalog and the object store of a
``quire server``, in process (its app through starlette's test client) and as a real
subprocess on a loopback port, each over a fresh embedded store.

The catalog suite runs in process only: its 120-odd tests would each start a server
process, and what a process adds (sockets, streaming) is the object suites' to show;
every end-to-end test under ``store_kind`` runs on a real server process as well.

The object store suite runs with an admin key: it writes keys of its own choosing, which
a server takes only from an admin (a write key may write only the key forms whose bytes
the server checks; ``tests/test_server_objects.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


@pytest.fixture
def open_server(server: Any) -> Iterator[Callable[[], Any]]:
    """Opens a new (catalog, objects) pair on the server, each over a session of its own;
    every one is closed at the end."""
    opened: list[Any] = []

    def open_pair() -> Any:
        maker = server.client if isinstance(server, InProcessServer) else None
        pair = connect(server.url, server.admin, client=maker)
        opened.append(pair[0])
        return pair

    yield open_pair
    for catalog in opened:
        catalog.close()


@pytest.fixture
def open_server_objects(open_server: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: open_server()[1]


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
    def server(self, tmp_path: Path) -> Any:
        return InProcessServer(str(tmp_path / "behind"))

    @pytest.fixture
    def open_catalog(self, open_server: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: open_server()[0]

    @pytest.fixture
    def catalog_backdoor(self, tmp_path: Path) -> SQLBackdoor:
        from quire.store.sql.engines import sqlite_engine

        return SQLBackdoor(sqlite_engine(tmp_path / "behind" / "catalog.db"))
