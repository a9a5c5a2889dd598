"""Conformance suites every backend must pass, shipped with Quire.

- :class:`CatalogTests`: the :class:`~quire.store.catalog.Catalog` protocol.
- :class:`ObjectStoreTests`: the :class:`~quire.store.objects.ObjectStore` protocol.
- :class:`BlobStoreTests`: content-addressed blobs on an object store.
- :class:`KeyRingTests`: the :class:`~quire.store.keys.KeyRing` protocol (a server's API keys).

Each is a pytest class: subclass it in a test module and supply the fixtures it names
(see each class); :mod:`quire.testing.oob` has the out-of-band helpers of the built-in
object stores (a folder, S3). ``python -m quire.testing`` runs them against a backend
given on the command line. Needs pytest (``pip install quire[test]``).
"""

import pytest

# The suites' asserts say what they compared, as in a test module of one's own.
pytest.register_assert_rewrite(
    "quire.testing.blobs", "quire.testing.catalog", "quire.testing.keys", "quire.testing.objects"
)

from .blobs import BlobStoreTests  # noqa: E402
from .catalog import CatalogBackdoor, CatalogTests  # noqa: E402
from .keys import KeyRingTests  # noqa: E402
from .objects import ObjectStoreTests  # noqa: E402
from .oob import FolderOutOfBand, OutOfBand, S3OutOfBand  # noqa: E402

__all__ = [
    "BlobStoreTests",
    "CatalogBackdoor",
    "CatalogTests",
    "FolderOutOfBand",
    "KeyRingTests",
    "ObjectStoreTests",
    "OutOfBand",
    "S3OutOfBand",
]
