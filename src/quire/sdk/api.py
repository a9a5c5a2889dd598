"""``quire.Api``: read and manage what a store holds, outside any run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.cache import cache_for
from ..core.gc import GRACE, GCReport, collect_garbage
from ..core.names import DEFAULT_PROJECT, check_name, parse_address
from ..errors import ArtifactNotFoundError, ValidationError
from ..store import Store, open_store
from ..store.catalog import pending_state
from . import compat
from .artifact import Artifact
from .collaborative import PendingVersion
from .collections import (
    VERSION_ORDER,
    ArtifactCollection,
    ArtifactType,
    Paginated,
    Project,
    check_per_page,
    collection_listing,
    find_collection,
    sort_key,
    type_listing,
    version_listing,
)
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
        project = (overrides or {}).get("project") or os.environ.get("QUIRE_PROJECT") or DEFAULT_PROJECT
        #: W&B's settings: ``project`` is the one used when an address names none
        #: (``entity`` is always None: Quire has no entities)
        self.settings: dict[str, Any] = {"project": check_name(project, "project name"), "entity": None}

    @property
    def default_project(self) -> str:
        """The project used when an address names none."""
        return str(self.settings["project"])

    @property
    def default_entity(self) -> None:
        """Always None: Quire has no entities."""
        return None

    def project(self, name: str, entity: str | None = None) -> Project:
        """The project ``name`` (``entity`` is accepted and ignored: Quire has no entities)."""
        return Project(check_name(name, "project name"), self.store)

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """The version an address names: ``[project/]name[:vN|:alias]`` (default ``latest``)."""
        return Artifact._committed(resolve(self.store, name, self.default_project, type), self.store)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        """Whether the address names a committed version."""
        try:
            self.artifact(name, type)
        except ArtifactNotFoundError:
            return False
        return True

    def artifact_versions(
        self, type_name: str, name: str, per_page: int = 50, tags: str | list[str] | None = None
    ) -> Paginated[Artifact]:
        """Every version of a collection, oldest first (W&B's older name of :meth:`artifacts`)."""
        return self.artifacts(type_name, name, per_page=per_page, tags=tags)

    def artifacts(
        self,
        type_name: str,
        name: str,
        order: str | None = None,
        per_page: int = 50,
        tags: str | list[str] | None = None,
        start: str | None = None,
    ) -> Paginated[Artifact]:
        """The versions of the collection ``[entity/][project/]name``: those holding every
        tag in ``tags``, oldest first unless ``order`` says otherwise (``"-created_at"``,
        ``"version"``, ``"+size"``, ...).

        Raises:
            ArtifactNotFoundError: no such collection, or it holds another type.
            ValidationError: ``per_page`` is not a positive integer, or ``order`` names
                no field versions are ordered by.
        """
        check_per_page(per_page)
        sort_key(order, VERSION_ORDER)  # refused before anything is read
        project, collection = self._collection_address(name)
        find_collection(self.store, project, collection, type_name)
        return version_listing(self.store, project, collection, per_page, tags, order, start)

    def artifact_collections(
        self,
        project_name: str | None = None,
        type_name: str | None = None,
        order: str | None = None,
        per_page: int = 50,
        start: str | None = None,
    ) -> Paginated[ArtifactCollection]:
        """The collections of a project (``[entity/]project``; optionally of one type), by
        name unless ``order`` says otherwise (``"name"``, ``"-created_at"``)."""
        return collection_listing(self.store, self._project_of(project_name), type_name, order, per_page, start)

    def artifact_collection(
        self,
        type_name: str | None = None,
        name: str | None = None,
        *,
        type: str | None = None,
        collection: str | None = None,
    ) -> ArtifactCollection:
        """The collection ``[entity/][project/]name`` of type ``type_name``.

        ``type=`` and ``collection=`` are taken for ``type_name`` and ``name``: W&B's guide
        to updating a collection calls it so.

        Raises:
            ArtifactNotFoundError: there is none, or it holds another type.
        """
        type_name, name = type_name or type, name or collection
        if type_name is None or name is None:
            raise ValidationError("artifact_collection needs a type (type_name) and a name ([project/]name)")
        project, coll = self._collection_address(name)
        return find_collection(self.store, project, coll, type_name)

    def artifact_collection_exists(self, name: str, type: str) -> bool:
        """Whether the project holds the collection ``[entity/][project/]name`` of type ``type``."""
        try:
            self.artifact_collection(type, name)
        except ArtifactNotFoundError:
            return False
        return True

    def artifact_type(self, type_name: str, project: str | None = None) -> ArtifactType:
        """The collections of type ``type_name`` in a project (``[entity/]project``).

        Raises:
            ArtifactNotFoundError: no collection of the project holds that type.
        """
        name = self._project_of(project)
        types = [t.name for t in type_listing(self.store, name)]
        if type_name not in types:
            raise ArtifactNotFoundError(f"no artifact type {type_name!r} in project {name!r}", types)
        return ArtifactType(name, type_name, self.store)

    def artifact_types(self, project: str | None = None, start: str | None = None) -> Paginated[ArtifactType]:
        """The types of a project's collections (``[entity/]project``), by name."""
        return type_listing(self.store, self._project_of(project))

    def projects(self, entity: str | None = None, per_page: int = 200) -> Paginated[Project]:
        """Every project of the store, by name (``entity`` is accepted and ignored)."""
        per_page = check_per_page(per_page)
        return Paginated.of((Project(n, self.store) for n in self.store.catalog.projects()), per_page)

    def _project_of(self, path: str | None) -> str:
        """The project a ``[entity/]project`` path names (none: the Api's project)."""
        if path is None:
            return self.default_project
        parts = path.split("/") if isinstance(path, str) else [path]
        if len(parts) > 2:
            raise ValidationError(f"invalid project path {path!r}: expected [entity/]project")
        return check_name(parts[-1], "project name")

    def _collection_address(self, name: str) -> tuple[str, str]:
        """The project and collection ``[entity/][project/]name`` names (no ``:vN`` or alias)."""
        if isinstance(name, str) and ":" in name:
            raise ValidationError(
                f"invalid collection name {name!r}: give [entity/][project/]name, without ':vN' or ':alias'"
            )
        addr = parse_address(name, self.default_project)
        return addr.project, addr.name

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
