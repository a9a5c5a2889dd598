"""CatalogTests (to be filled)."""


class CatalogTests:
    """Placeholder."""
