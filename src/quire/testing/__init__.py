"""Conformance suites every backend must pass, shipped with Quire.

- :class:`CatalogTests`: the :class:`~quire.store.catalog.Catalog` protocol.
- :class:`ObjectStoreTests`: the :class:`~quire.store.objects.ObjectStore` protocol.
- :class:`BlobStoreTests`: content-addressed blobs on an object store.

Each is a pytest class: subclass it in a test module and supply the fixtures it names
(see each class). ``python -m quire.testing`` runs them against a backend given on the
command line. Needs pytest (``pip install quire[test]``).
"""

from .blobs import BlobStoreTests
from .catalog import CatalogTests
from .objects import ObjectStoreTests

__all__ = ["BlobStoreTests", "CatalogTests", "ObjectStoreTests"]
