"""The conformance suites on the team backends: S3 (moto_server) and PostgreSQL.

The fixtures ``open_s3_objects`` and ``open_postgres_catalog`` live in
``tests/backends.py``; a fresh bucket and a fresh schema per test.
"""

from __future__ import annotations

import pytest

from quire.testing import BlobStoreTests, ObjectStoreTests

from .sql_catalog import SQLCatalogTests


class TestS3Objects(ObjectStoreTests):
    pytestmark = pytest.mark.s3

    @pytest.fixture
    def open_objects(self, open_s3_objects):
        return open_s3_objects

    @pytest.fixture
    def out_of_band(self, s3_out_of_band):
        return s3_out_of_band


class TestS3Blobs(BlobStoreTests):
    pytestmark = pytest.mark.s3

    @pytest.fixture
    def open_objects(self, open_s3_objects):
        return open_s3_objects

    @pytest.fixture
    def out_of_band(self, s3_out_of_band):
        return s3_out_of_band


class TestPostgresCatalog(SQLCatalogTests):
    pytestmark = pytest.mark.postgres

    @pytest.fixture
    def open_catalog(self, open_postgres_catalog):
        return open_postgres_catalog
