"""Collections as the sdk shows them: ``artifact.collection``, ``Api().artifact_collection``."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store
from .artifact import Artifact
from .views import VIEWS


@dataclass
class ArtifactCollection:
    """A named series of versions of one type."""

    name: str
    type: str
    project: str
    description: str | None
    version_count: int
    _store: Store

    def versions(self) -> list[Artifact]:
        """Every version, oldest first."""
        return [Artifact._committed(r, self._store) for r in self._store.catalog.versions(self.project, self.name)]

    @property
    def aliases(self) -> list[str]:
        """Every alias in use in the collection."""
        return sorted({a for v in self.versions() for a in v.aliases})


def collection_of(artifact: Artifact) -> ArtifactCollection:
    """The collection of a committed version."""
    record = artifact._committed_record()
    store = artifact._committed_version().store
    c = store.catalog.collection(record.project, record.collection)
    return ArtifactCollection(c.name, c.type, c.project, c.description, c.version_count, store)


VIEWS.collection = collection_of
