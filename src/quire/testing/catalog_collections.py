"""Part of the shipped catalog suite (mixed into :class:`quire.testing.CatalogTests`):
Collections beyond commits: read one, rename, describe, tag, retype, default TTL, delete."""

from __future__ import annotations


class CollectionCatalogTests:
    """Tests that take the fixtures of :class:`quire.testing.CatalogTests` (``catalog``,
    ``open_catalog``, ``backdoor``)."""
