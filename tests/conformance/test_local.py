"""The conformance suites on the embedded backends: a local directory and SQLite."""

from __future__ import annotations

import pytest

from quire.testing import BlobStoreTests, ObjectStoreTests

from .sql_catalog import SQLCatalogTests


class TestLocalObjects(ObjectStoreTests):
    @pytest.fixture
    def open_objects(self, open_local_objects):
        return open_local_objects

    @pytest.fixture
    def out_of_band(self, local_out_of_band):
        return local_out_of_band


class TestLocalBlobs(BlobStoreTests):
    @pytest.fixture
    def open_objects(self, open_local_objects):
        return open_local_objects

    @pytest.fixture
    def out_of_band(self, local_out_of_band):
        return local_out_of_band


class TestSQLiteCatalog(SQLCatalogTests):
    @pytest.fixture
    def open_catalog(self, open_sqlite_catalog):
        return open_sqlite_catalog
