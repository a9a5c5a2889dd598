"""The conformance suites on the embedded backends: a local directory and SQLite."""

from __future__ import annotations

import pytest

from .blobs_suite import BlobStoreTests
from .objects_suite import ObjectStoreTests
from .sql_catalog import SQLCatalogTests


class TestLocalObjects(ObjectStoreTests):
    @pytest.fixture
    def open_objects(self, open_local_objects):
        return open_local_objects


class TestLocalBlobs(BlobStoreTests):
    @pytest.fixture
    def open_objects(self, open_local_objects):
        return open_local_objects


class TestSQLiteCatalog(SQLCatalogTests):
    @pytest.fixture
    def open_catalog(self, open_sqlite_catalog):
        return open_sqlite_catalog
