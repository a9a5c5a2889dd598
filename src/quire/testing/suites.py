"""The suites as ``python -m quire.testing`` collects them: each class takes its
backend from the fixtures of :class:`quire.testing.runner.Backends`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .blobs import BlobStoreTests
from .catalog import CatalogTests
from .objects import ObjectStoreTests
from .oob import OutOfBand


class _ObjectBackend:
    """The object store under test, for both object suites."""

    @pytest.fixture
    def open_objects(self, suite_open_objects: Callable[[], Any]) -> Callable[[], Any]:
        return suite_open_objects

    @pytest.fixture
    def out_of_band(self, suite_out_of_band: OutOfBand | None) -> OutOfBand | None:
        return suite_out_of_band


class TestObjectStore(_ObjectBackend, ObjectStoreTests):
    pass


class TestBlobStore(_ObjectBackend, BlobStoreTests):
    pass


class TestCatalog(CatalogTests):
    @pytest.fixture
    def open_catalog(self, suite_open_catalog: Callable[[], Any]) -> Callable[[], Any]:
        return suite_open_catalog
