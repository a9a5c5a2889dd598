"""Backends for the conformance suites.

Each fixture here opens one backend: it returns a function that opens a *new handle* on
the same, initially empty storage each time it is called (a second handle stands for
another process). A backend joins the suites with one fixture here and one small
subclass per suite (see ``test_local.py``)::

    class TestS3Objects(ObjectStoreTests):
        pytestmark = pytest.mark.s3

        @pytest.fixture
        def open_objects(self, open_s3_objects):
            return open_s3_objects
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from quire.store.sql.engines import sqlite_engine
from quire.store.sql import SQLCatalog
from quire.store.objects import LocalObjects, ObjectStore


@pytest.fixture
def open_local_objects(tmp_path: Path) -> Callable[[], ObjectStore]:
    """Handles on one local-directory object store."""
    root = tmp_path / "objects"
    return lambda: LocalObjects(root)


@pytest.fixture
def open_sqlite_catalog(tmp_path: Path) -> Callable[[], SQLCatalog]:
    """Handles on one embedded (SQLite) catalog."""
    path = tmp_path / "catalog.db"
    return lambda: SQLCatalog(sqlite_engine(path))
