"""Part of the shipped catalog suite (mixed into :class:`quire.testing.CatalogTests`):
Runs beyond creating one: updates, listings, history (resume, config, summary)."""

from __future__ import annotations


class RunCatalogTests:
    """Tests that take the fixtures of :class:`quire.testing.CatalogTests` (``catalog``,
    ``open_catalog``, ``backdoor``)."""
