"""``quire.Api``: read and manage what a store holds, outside any run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.cache import cache_for
from ..core.gc import GRACE, GCReport, collect_garbage
from ..core.names import DEFAULT_PROJECT, check_name, parse_address
from ..errors import ArtifactNotFoundError
from ..store import Store, open_store
from ..store.catalog import pending_state
from . import compat
from .artifact import Artifact
from .collaborative import PendingVersion
from .collections import ArtifactCollection
from .public_run import RunApi
from .registry import RegistryApi
from .run import resolve


class LocalCache:
    """The local cache of downloaded files that a store's downloads go through
    (``$QUIRE_CACHE_DIR``, else the store's own folder, else ``~/.cache/quire``).

    Attributes:
        root: the cache's folder.
    """

    def __init__(self, store: Store) -> None:
        self._cache = cache_for(store.local_dir)
        self.root: Path = self._cache.root

    def cleanup(self, max_bytes: int) -> tuple[int, int]:
        """Remove the least recently used cached files until at most ``max_bytes`` stay
        (downloaded folders keep their files: only the cache's copies go).

        Returns:
            How many files were removed, and how many bytes they held.
        """
        return self._cache.cleanup(max_bytes)


class Api(RunApi, RegistryApi):
    """The public read API over one store (``store``, else ``$QUIRE_STORE``, else ~/.quire).

    ``overrides={"project": ...}`` sets the project used when an address names none
    (default ``$QUIRE_PROJECT``, else ``uncategorized``, as for runs).
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | None = None,
        overrides: dict[str, Any] | None = None,
        timeout: int | None = None,
    ) -> None:
        self.store = open_store(store)
        self.project = check_name(
            (overrides or {}).get("project") or os.environ.get("QUIRE_PROJECT") or DEFAULT_PROJECT, "project name"
        )

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """The version an address names: ``[project/]name[:vN|:alias]`` (default ``latest``)."""
        return Artifact._committed(resolve(self.store, name, self.project, type), self.store)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        """Whether the address names a committed version."""
        try:
            self.artifact(name, type)
        except ArtifactNotFoundError:
            return False
        return True

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> list[Artifact]:
        """Every version of a collection, oldest first."""
        addr = parse_address(name, self.project)
        records = self.store.catalog.versions(addr.project, addr.name)
        if records and records[0].type != type_name:
            raise ArtifactNotFoundError(f"{addr.project}/{addr.name} is of type {records[0].type!r}, not {type_name!r}")
        return [Artifact._committed(r, self.store) for r in records]

    artifacts = artifact_versions

    def artifact_collections(
        self, project_name: str | None = None, type_name: str | None = None
    ) -> list[ArtifactCollection]:
        """The collections of a project (optionally of one type)."""
        project = check_name(project_name or self.project, "project name")
        return [
            ArtifactCollection(c.name, c.type, c.project, c.description, c.version_count, self.store)
            for c in self.store.catalog.collections(project, type_name)
        ]

    def artifact_collection(self, type_name: str, name: str) -> ArtifactCollection:
        """One collection."""
        addr = parse_address(name, self.project)
        for c in self.artifact_collections(addr.project, type_name):
            if c.name == addr.name:
                return c
        raise ArtifactNotFoundError(f"no {type_name} collection {addr.project}/{addr.name}")

    def pending_versions(self, project: str | None = None, state: str | None = "open") -> list[PendingVersion]:
        """Pending versions of collaborative mode, oldest first.

        Args:
            project: one project (default: every project).
            state: ``open`` (default), ``committed``, ``aborted``, or None for all.
        """
        project = check_name(project, "project name") if project is not None else None
        return [
            PendingVersion(r, self.store) for r in self.store.catalog.pending_versions(project, pending_state(state))
        ]

    def pending_version(self, ref: str, project: str | None = None) -> PendingVersion:
        """One pending version, by its id or by its distributed id (if unambiguous)."""
        return PendingVersion(self.store.catalog.resolve_pending(ref, project), self.store)

    def projects(self) -> list[str]:
        """Every project in the store."""
        return self.store.catalog.projects()

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    @property
    def cache(self) -> LocalCache:
        """The local cache this store's downloads go through."""
        return LocalCache(self.store)

    def gc(self, grace: float = GRACE, dry_run: bool = False, lease: float | None = None) -> GCReport:
        """Delete the blobs and manifest pages that no version and no pending contribution
        references; packs holding mostly garbage are rewritten with their live blobs.

        Safe while others write: nothing younger than ``grace``, or written since a live
        writer began staging, is touched, and commits made meanwhile are kept. Objects
        that are not Quire's are never deleted.

        Args:
            grace: seconds; keep everything younger (uploads in progress are younger).
            dry_run: delete nothing; the report says what would go.
            lease: seconds the sweep holds writers' commits off between renewals
                (default 30, or ``$QUIRE_GC_LEASE``): a gc that dies holds them off this long.

        Returns:
            What was deleted and rewritten (``report.freed``: bytes; ``report.to_dict()``).

        Raises:
            ValidationError: ``grace`` is negative or ``lease`` not above 0.
            ConcurrentGCError: another gc is running on the store.
        """
        return collect_garbage(self.store, grace=grace, dry_run=dry_run, lease=lease)
