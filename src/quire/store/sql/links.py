"""Links, registries (projects with info) and time to live, in SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..catalog import Committed, ProjectRecord, VersionRecord

if TYPE_CHECKING:
    from .txn import Transactions


class LinkVerbs:
    """Mixed into :class:`~quire.store.sql.SQLCatalog`, which provides ``tx``."""

    tx: Transactions
    url: str

    def project(self, name: str) -> ProjectRecord:
        """The project ``name`` (``ArtifactNotFoundError`` if it does not exist)."""
        raise NotImplementedError

    def create_project(self, name: str, info: dict[str, Any] | None = None) -> ProjectRecord:
        """Make a project (a registry); ``ValidationError`` if it exists."""
        raise NotImplementedError

    def update_project(self, name: str, info: dict[str, Any]) -> ProjectRecord:
        """Replace a project's info."""
        raise NotImplementedError

    def delete_project(self, name: str) -> None:
        """Delete a project and everything in it (a registry's links; never a source version)."""
        raise NotImplementedError

    def link(self, source_id: str, project: str, collection: str, aliases: list[str]) -> Committed:
        """Link a version into ``project/collection`` (see the protocol)."""
        raise NotImplementedError

    def links_to(self, source_id: str) -> list[VersionRecord]:
        """Every link pointing at a version."""
        raise NotImplementedError

    def expired_versions(self, at: str) -> list[VersionRecord]:
        """Versions whose time to live ran out by ``at``, oldest first; never a linked one."""
        raise NotImplementedError
