"""Collections in SQL beyond what a commit makes of them: reading one, renaming it,
changing its description, tags, type or default TTL, deleting it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..catalog import CollectionRecord

if TYPE_CHECKING:
    from .txn import Transactions


class CollectionVerbs:
    """Mixed into :class:`~quire.store.sql.SQLCatalog`, which provides ``tx``."""

    tx: Transactions
    url: str

    def collection(self, project: str, name: str) -> CollectionRecord:
        """One collection (``ArtifactNotFoundError`` if absent)."""
        raise NotImplementedError

    def update_collection(
        self,
        project: str,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        type_: str | None = None,
        ttl: int | Literal["never"] | None = None,
    ) -> CollectionRecord:
        """Rename it, or replace its description, tags, type or default TTL (None: unchanged)."""
        raise NotImplementedError

    def delete_collection(self, project: str, name: str) -> None:
        """Delete a collection with every version and alias in it."""
        raise NotImplementedError
