"""Backends for the conformance suites.

Each fixture here opens one backend: it returns a function that opens a *new handle* on
the same, initially empty storage each time it is called (a second handle stands for
another process). A backend joins the suites with one fixture here and one small
subclass per suite (see ``test_local.py``); an object store also gives the suites an
out-of-band view of its keys (``out_of_band``, see :mod:`quire.testing.oob`)::

    class TestS3Objects(ObjectStoreTests):
        pytestmark = pytest.mark.s3

        @pytest.fixture
        def open_objects(self, open_s3_objects):
            return open_s3_objects

        @pytest.fixture
        def out_of_band(self, s3_out_of_band):
            return s3_out_of_band
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from backends import S3_OBJECTS_PREFIX
from quire.store.objects import LocalObjects, ObjectStore
from quire.store.sql import SQLCatalog
from quire.store.sql.engines import sqlite_engine
from quire.testing import FolderOutOfBand, S3OutOfBand


@pytest.fixture
def local_objects_root(tmp_path: Path) -> Path:
    """The folder of one local-directory object store."""
    return tmp_path / "objects"


@pytest.fixture
def open_local_objects(local_objects_root: Path) -> Callable[[], ObjectStore]:
    """Handles on one local-directory object store."""
    return lambda: LocalObjects(local_objects_root)


@pytest.fixture
def local_out_of_band(local_objects_root: Path) -> FolderOutOfBand:
    """The keys of ``open_local_objects``'s store, as the files in its folder."""
    return FolderOutOfBand(local_objects_root)


@pytest.fixture
def open_sqlite_catalog(tmp_path: Path) -> Callable[[], SQLCatalog]:
    """Handles on one embedded (SQLite) catalog."""
    path = tmp_path / "catalog.db"
    return lambda: SQLCatalog(sqlite_engine(path))


@pytest.fixture
def s3_out_of_band(s3_bucket: str, s3_client) -> S3OutOfBand:  # type: ignore[no-untyped-def]
    """The keys of ``open_s3_objects``'s store, read and written with boto3 behind its back."""
    return S3OutOfBand(f"s3://{s3_bucket}/{S3_OBJECTS_PREFIX}", s3_client)
