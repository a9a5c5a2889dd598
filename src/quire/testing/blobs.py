"""BlobStoreTests (to be filled)."""


class BlobStoreTests:
    """Placeholder."""
