"""ObjectStoreTests (to be filled)."""


class ObjectStoreTests:
    """Placeholder."""
