"""Links into registries and time to live, as the ``Artifact`` facade shows them
(mixed into :class:`~quire.sdk.artifact.Artifact`).

A link is a version of a registry collection (``wandb-registry-<registry>/<name>``, or
the legacy ``model-registry/<name>``) that points at a logged version, its **source**: it
has its own number and aliases, copies no byte, and reads the source's files. The
source lists its links (``linked_artifacts``), a link names its source (``source_*``).

A version's time to live (``ttl``) is a ``timedelta`` from its creation, ``None``
(never expires) or :attr:`ArtifactTTL.INHERIT` (its collection's default, the default):
``quire gc`` deletes the versions whose TTL ran out, never one a link points at.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from ..core.names import check_alias, check_name
from ..errors import ArtifactNotLoggedError, ValidationError
from ..store.catalog import INHERIT, NEVER, TTL, VersionRecord
from .context import CONTEXT
from .views import VIEWS

if TYPE_CHECKING:
    from ..store import Store
    from .artifact import Artifact
    from .collections import ArtifactCollection

#: the prefix of a registry's project, as W&B names it
REGISTRY_PREFIX = "wandb-registry-"
#: the project of W&B's legacy model registry (``run.link_model`` links there)
MODEL_REGISTRY = "model-registry"
#: the registries every W&B organization has: usable before anyone creates them
CORE_REGISTRIES = ("model", "dataset")


class ArtifactTTL(Enum):
    """``artifact.ttl = ArtifactTTL.INHERIT``: the collection's default TTL applies."""

    INHERIT = 0


def registry_info(description: str | None = None, visibility: str = "organization", **fields: Any) -> dict[str, Any]:
    """What a registry's project records (its ``ProjectRecord.info``)."""
    types = list(fields.get("artifact_types") or [])
    return {
        "registry": True,
        "description": description,
        "visibility": visibility,
        "artifact_types": types,
        "allow_all_artifact_types": fields.get("allow_all_artifact_types", not types),
        "organization": fields.get("organization"),
    }


def is_registry_project(project: str) -> bool:
    """Whether a project is a registry's (``wandb-registry-*`` or ``model-registry``)."""
    return project == MODEL_REGISTRY or (project.startswith(REGISTRY_PREFIX) and project != REGISTRY_PREFIX)


@dataclass(frozen=True)
class Target:
    """Where a link goes: a registry collection."""

    project: str
    collection: str


def parse_target(target_path: object) -> Target:
    """``[org/]wandb-registry-<registry>/<collection>`` or ``[entity/]model-registry/<collection>``.

    Raises:
        ValidationError: not a registry collection's path.
    """
    shape = "wandb-registry-<registry>/<collection> (or model-registry/<collection>)"
    if not isinstance(target_path, str) or not target_path:
        raise ValidationError(f"a link's target_path is a string {shape}, not {target_path!r}")
    if ":" in target_path:
        raise ValidationError(
            f"target_path {target_path!r} names a version; link into a collection, {shape} "
            "(aliases=[...] name the link)"
        )
    parts = target_path.split("/")
    if len(parts) not in (2, 3) or not is_registry_project(parts[-2]):
        raise ValidationError(
            f"cannot link into {target_path!r}: Quire links into registry collections only, {shape}; "
            "create a registry with quire.Api().create_registry(name, visibility='organization')"
        )
    return Target(check_name(parts[-2], "registry name"), check_name(parts[-1], "collection name"))


def registry_of(store: Store, project: str) -> dict[str, Any]:
    """The info of the registry whose project is ``project``; the core registries and the
    legacy model registry exist before first use.

    Raises:
        ValidationError: no such registry (W&B does not make one on a link either).
    """
    if project in store.catalog.projects():
        info = store.catalog.project(project).info
        if info.get("registry") or project == MODEL_REGISTRY:
            return info or registry_info()
        raise ValidationError(f"project {project!r} is not a registry (it was made by logging into it)")
    if project == MODEL_REGISTRY or project.removeprefix(REGISTRY_PREFIX) in CORE_REGISTRIES:
        return registry_info()
    name = project.removeprefix(REGISTRY_PREFIX)
    raise ValidationError(
        f"no registry {name!r} in {store.url}: create it first, "
        f"quire.Api().create_registry({name!r}, visibility='organization')"
    )


def check_type_allowed(info: dict[str, Any], registry: str, type_: str) -> None:
    """Refuse a type the registry does not allow (W&B's ``artifact_types``)."""
    allowed = list(info.get("artifact_types") or [])
    if not info.get("allow_all_artifact_types", not allowed) and type_ not in allowed:
        raise ValidationError(
            f"registry {registry!r} allows artifacts of type {', '.join(map(repr, allowed))}, not {type_!r}; "
            "add the type to registry.artifact_types and registry.save(), or link into another registry"
        )


def check_link(store: Store, type_: str, target_path: object) -> tuple[Target, dict[str, Any]]:
    """The target of a link of a ``type_`` version, and its registry's info, checked
    (before a draft is logged: a refused link logs nothing)."""
    target = parse_target(target_path)
    info = registry_of(store, target.project)
    check_type_allowed(info, target.project.removeprefix(REGISTRY_PREFIX), type_)
    return target, info


def link_version(store: Store, record: VersionRecord, target_path: str, aliases: Iterable[str] | None) -> VersionRecord:
    """Link a committed version into a registry collection; returns the link."""
    names = [a if a == "latest" else check_alias(a) for a in _strings(aliases, "aliases")]
    target, info = check_link(store, record.type, target_path)
    if target.project not in store.catalog.projects():
        # a core registry, made on first use (another linker may make it meanwhile)
        with contextlib.suppress(ValidationError):
            store.catalog.create_project(target.project, info)
    return store.catalog.link(record.id, target.project, target.collection, [a for a in names if a != "latest"]).version


def _strings(values: Iterable[str] | str | None, what: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    found = list(values)
    if not all(isinstance(v, str) for v in found):
        raise ValidationError(f"{what} must be strings, got {found!r}")
    return found


def ttl_value(value: object) -> TTL:
    """A TTL as the catalog holds it, from what ``artifact.ttl = ...`` takes.

    Raises:
        ValidationError: not a positive ``timedelta`` of at least a second, ``None`` or
            :attr:`ArtifactTTL.INHERIT`.
    """
    if value is ArtifactTTL.INHERIT:
        return INHERIT
    if value is None:
        return NEVER
    if not isinstance(value, timedelta):
        raise ValidationError(
            f"artifact.ttl takes a datetime.timedelta, None (never expires) or quire.ArtifactTTL.INHERIT, "
            f"not {type(value).__name__} ({value!r:.80}); e.g. artifact.ttl = timedelta(days=30)"
        )
    seconds = int(value.total_seconds())
    if seconds <= 0:
        raise ValidationError(
            f"an artifact's TTL must be positive (at least one second), not {value.total_seconds()} seconds; "
            "None means it never expires"
        )
    return seconds


def check_ttl(store: Store, record: VersionRecord, ttl: TTL) -> None:
    """Refuse a TTL on a link or a duration on a version a registry link points at (W&B
    refuses both: a registry's versions must not expire under it)."""
    what = f"{record.project}/{record.collection}:{record.version}"
    if record.source_id is not None:
        raise ValidationError(
            f"cannot set the TTL of {what}: it is a link; set it on its source (artifact.source_artifact) once unlinked"
        )
    if isinstance(ttl, int):
        links = store.catalog.links_to(record.id)
        if links:
            names = ", ".join(f"{r.project}/{r.collection}:{r.version}" for r in links[:5])
            raise ValidationError(
                f"cannot set a TTL on {what}: registry links point at it ({names}) and a linked version "
                "never expires; unlink it first (artifact.unlink() on each link)"
            )


def _artifact(mixin: LinkMixin) -> Artifact:
    """The ``Artifact`` a mixin method runs on (only ``Artifact`` mixes this in)."""
    return cast("Artifact", mixin)


class LinkMixin:
    """``link``, ``unlink``, ``is_link``, ``linked_artifacts``, ``source_*``, ``ttl``."""

    # -- links ------------------------------------------------------------------------

    @property
    def is_link(self) -> bool:
        """Whether this is a link in a registry collection (False for a draft)."""
        record = _artifact(self)._record
        return record is not None and record.source_id is not None

    def _source_record(self, what: str) -> VersionRecord:
        art = _artifact(self)
        record = art._committed_record(what)
        if record.source_id is None:
            return record
        return art._committed_version(what).store.catalog.version_by_id(record.source_id)

    @property
    def source_artifact(self) -> Artifact:
        """The logged version a link points at (a version that is no link: itself)."""
        art = _artifact(self)
        record = art._committed_record("source_artifact")
        if record.source_id is None:
            return art
        return type(art)._committed(
            self._source_record("source_artifact"), art._committed_version("source_artifact").store
        )

    @property
    def source_name(self) -> str:
        """``collection:vN`` of the source (of a draft: its name, no version yet)."""
        art = _artifact(self)
        if art._record is None:
            return art.name
        source = self._source_record("source_name")
        return f"{source.collection}:{source.version}"

    @property
    def source_version(self) -> str:
        """``vN`` of the source."""
        return self._source_record("source_version").version

    @property
    def source_project(self) -> str:
        """The project of the source."""
        return self._source_record("source_project").project

    @property
    def source_entity(self) -> str | None:
        """Always None: Quire stores have no entities (as :attr:`Artifact.entity`)."""
        self._source_record("source_entity")
        return None

    @property
    def source_qualified_name(self) -> str:
        """``project/collection:vN`` of the source (Quire's qualified names have no entity)."""
        return f"{self.source_project}/{self.source_name}"

    @property
    def source_collection(self) -> ArtifactCollection:
        """The collection the source was logged into."""
        return VIEWS.collection(self.source_artifact)

    @property
    def linked_artifacts(self) -> list[Artifact]:
        """The links pointing at this version, oldest first (of a link: none)."""
        art = _artifact(self)
        record = art._committed_record("linked_artifacts")
        if record.source_id is not None:
            return []
        store = art._committed_version("linked_artifacts").store
        return [type(art)._committed(r, store) for r in store.catalog.links_to(record.id)]

    def link(self, target_path: str, aliases: Iterable[str] | None = None) -> Artifact:
        """Link this version into a registry collection (``wandb-registry-<registry>/<name>``);
        returns the link. A draft is logged first (in the current run, else one of its
        own), as W&B does; linking a link links its source; linking a version again into
        the same collection gives the same link, with the new aliases.

        Raises:
            ValidationError: not a registry path, no such registry, a type the registry
                does not allow.
            ArtifactNotLoggedError: a draft upserted into a pending version not finished yet.
        """
        art = _artifact(self)
        if art._upserted is not None:
            raise ArtifactNotLoggedError(
                f"{art.name!r} was upserted into {art._upserted} and is not committed yet: "
                "finish_artifact() it, then link the committed version"
            )
        if art.is_draft():
            check_link(art._staging.store or CONTEXT.store(), art.type, target_path)  # refused: nothing logged
            art.save()
        store = art._committed_version("link").store
        return type(art)._committed(link_version(store, art._committed_record("link"), target_path, aliases), store)

    def unlink(self) -> None:
        """Remove this link from its registry collection (the source is left as it is).

        Raises:
            ValidationError: this version is not a link (``delete()`` deletes a version).
        """
        art = _artifact(self)
        record = art._committed_record("unlink")
        if record.source_id is None:
            raise ValidationError(
                f"{art.qualified_name} is not a linked artifact and cannot be unlinked; "
                "to delete it, use artifact.delete()"
            )
        art._committed_version("unlink").store.catalog.delete_version(record.id, delete_aliases=True)

    # -- time to live -----------------------------------------------------------------

    @property
    def ttl(self) -> timedelta | None:
        """How long after its creation the version expires (None: never). A draft that
        inherits its collection's default cannot say it before it is logged.

        Raises:
            ArtifactNotLoggedError: the TTL is inherited and not known yet (a draft, or
                set to ``INHERIT`` and not saved).
        """
        art = _artifact(self)
        pending: TTL | None = art._draft.ttl if art._draft is not None else art._committed_version("ttl").ttl
        if pending == INHERIT:
            raise ArtifactNotLoggedError(
                f"the TTL of {art.name!r} is inherited from its collection: log or save() it to read it"
            )
        if pending == NEVER:
            return None
        if pending is not None:
            return timedelta(seconds=int(pending))
        record = art._committed_record("ttl")
        if record.expires_at is None:
            return None
        return datetime.fromisoformat(record.expires_at) - datetime.fromisoformat(record.created_at)

    @ttl.setter
    def ttl(self, value: timedelta | ArtifactTTL | None) -> None:
        art = _artifact(self)
        if art.type == "wandb-history":
            raise ValidationError("an artifact of type wandb-history has no TTL (W&B refuses one)")
        ttl = ttl_value(value)
        if art._draft is not None:
            art._drafted().ttl = ttl
            return
        version = art._committed_version("ttl")
        check_ttl(version.store, version.record, ttl)
        version.ttl = ttl  # save() persists it
