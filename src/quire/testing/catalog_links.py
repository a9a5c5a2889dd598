"""Part of the shipped catalog suite (mixed into :class:`quire.testing.CatalogTests`):
Projects with info (registries), links into registry collections, and time to live."""

from __future__ import annotations


class LinkCatalogTests:
    """Tests that take the fixtures of :class:`quire.testing.CatalogTests` (``catalog``,
    ``open_catalog``, ``backdoor``)."""
