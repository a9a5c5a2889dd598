"""Registries: ``Api().registries()``, ``registry(name)``, ``create_registry(...)`` (mixed
into :class:`~quire.sdk.api.Api`). A registry is a project named ``wandb-registry-<name>``
whose info holds W&B's fields (description, visibility, allowed artifact types); its
collections hold links (:mod:`quire.sdk.links`). The core registries ``model`` and
``dataset`` exist in every store, as in every W&B organization: their project is made on
first link or save.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from ..core.names import check_name
from ..errors import ValidationError
from ..store.catalog import now
from .links import CORE_REGISTRIES, REGISTRY_PREFIX, registry_info, registry_of

if TYPE_CHECKING:
    from ..store import Store
    from .api import Api
    from .artifact import Artifact
    from .collections import ArtifactCollection

VISIBILITIES = ("organization", "restricted")


def _check_visibility(value: object) -> str:
    if value not in VISIBILITIES:
        raise ValidationError(f"a registry's visibility is 'organization' or 'restricted', not {value!r}")
    return str(value)


def _selected(
    items: Iterable[Any], filter: dict[str, Any] | None, fields: dict[str, Callable[[Any], list[str]]]
) -> list[Any]:
    """The items a W&B-style filter keeps: ``{field: value}``, ``{field: {"$regex": pattern}}``,
    several fields (all must match) or ``{"$or": [filter, ...]}``."""
    if not filter:
        return list(items)
    if not isinstance(filter, dict):
        raise ValidationError(f"a filter is a dict such as {{'name': {{'$regex': 'model'}}}}, not {filter!r}")

    def matches(item: Any, query: dict[str, Any]) -> bool:
        for key, want in query.items():
            if key == "$or":
                if not any(matches(item, q) for q in want):
                    return False
                continue
            if key not in fields:
                raise ValidationError(f"Quire filters on {', '.join(sorted(fields))} (and $or), not {key!r}")
            have = fields[key](item)
            if isinstance(want, dict) and set(want) == {"$regex"}:
                if not any(re.search(want["$regex"], h) for h in have):
                    return False
            elif isinstance(want, str):
                if want not in have:
                    return False
            else:
                raise ValidationError(f"a filter value is a string or {{'$regex': pattern}}, not {want!r}")
        return True

    return [item for item in items if matches(item, filter)]


class Registry:
    """One registry: W&B's fields, its collections and versions (links), ``save`` and
    ``delete``. Edit the fields, then ``save()``."""

    def __init__(self, api: Api, name: str, info: dict[str, Any], created_at: str | None) -> None:
        self._api = api
        self._saved_name = name
        self._saved_types = list(info.get("artifact_types") or [])
        self.name = name
        self.description: str | None = info.get("description")
        self._visibility = info.get("visibility") or "organization"
        self.artifact_types: list[str] = list(self._saved_types)
        self.allow_all_artifact_types: bool = bool(info.get("allow_all_artifact_types", not self._saved_types))
        self.organization: str | None = info.get("organization")
        self.created_at = created_at
        self.updated_at: str | None = info.get("updated_at")

    @property
    def full_name(self) -> str:
        """``wandb-registry-<name>``: the registry's project."""
        return REGISTRY_PREFIX + self._saved_name

    @property
    def id(self) -> str:
        """Stable: the registry's project name."""
        return self.full_name

    @property
    def entity(self) -> str | None:
        """Always None: Quire stores have no entities."""
        return None

    @property
    def path(self) -> list[str | None]:
        """``[entity, full_name]``, as W&B gives it."""
        return [self.entity, self.full_name]

    @property
    def visibility(self) -> str:
        """``organization`` or ``restricted`` (recorded; a Quire store has no members)."""
        return self._visibility

    @visibility.setter
    def visibility(self, value: str) -> None:
        self._visibility = _check_visibility(value)

    @property
    def _store(self) -> Store:
        return self._api.store

    def collections(
        self,
        filter: dict[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 100,
        start: str | None = None,
    ) -> list[ArtifactCollection]:
        """The registry's collections, by name (filter on ``name``, ``type``)."""
        if self.full_name not in self._store.catalog.projects():
            return []
        found = self._api.artifact_collections(self.full_name)
        return _selected(found, filter, {"name": lambda c: [c.name], "type": lambda c: [c.type]})

    def versions(
        self,
        filter: dict[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 100,
        start: str | None = None,
    ) -> list[Artifact]:
        """Every link in the registry's collections (filter on ``alias``, ``tag``, ``name``)."""
        found = [v for c in self.collections() for v in c.versions()]
        fields: dict[str, Callable[[Any], list[str]]] = {
            "alias": lambda v: list(v.aliases),
            "tag": lambda v: list(v.tags),
            "name": lambda v: [v.collection_name],
        }
        return _selected(found, filter, fields)

    def load(self) -> None:
        """Read the registry's fields again (unsaved edits are dropped)."""
        fresh = self._api.registry(self._saved_name)
        self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "_api"})

    def save(self) -> None:
        """Persist the edited fields (a core registry not used yet is made now).

        Raises:
            ValidationError: a renamed registry (Quire cannot rename one), a saved type
                removed (W&B's types are add-only), new types while all types are allowed.
        """
        if self.name != self._saved_name:
            raise ValidationError(
                f"Quire cannot rename registry {self._saved_name!r} to {self.name!r}: "
                "create a new one and link the versions there"
            )
        types = [check_name(t, "artifact type") for t in dict.fromkeys(self.artifact_types)]
        dropped = [t for t in self._saved_types if t not in types]
        if dropped:
            raise ValidationError(
                f"registry {self.name!r} cannot drop the saved artifact types {dropped}: saved types are add-only"
            )
        if self.allow_all_artifact_types and [t for t in types if t not in self._saved_types]:
            raise ValidationError(
                f"cannot add artifact types to registry {self.name!r} while allow_all_artifact_types is True; "
                "set it to False first"
            )
        info = registry_info(
            self.description,
            _check_visibility(self._visibility),
            artifact_types=types,
            allow_all_artifact_types=self.allow_all_artifact_types,
            organization=self.organization,
        )
        info["updated_at"] = now()
        catalog = self._store.catalog
        if self.full_name not in catalog.projects():
            record = catalog.create_project(self.full_name, info)
        else:
            record = catalog.update_project(self.full_name, info)
        self.created_at, self.updated_at = record.created_at, info["updated_at"]
        self._saved_types, self.artifact_types = list(types), list(types)

    def delete(self) -> None:
        """Delete the registry with its collections and links (never their sources).

        Raises:
            ValidationError: a core registry (``model``, ``dataset``), which every store has.
        """
        if self._saved_name in CORE_REGISTRIES:
            raise ValidationError(f"{self._saved_name!r} is a core registry and cannot be deleted")
        if self.full_name in self._store.catalog.projects():
            self._store.catalog.delete_project(self.full_name)

    def __repr__(self) -> str:
        return f"<Registry {self.name}>"


class Registries(list[Registry]):
    """Registries, with the collections and versions of all of them (as W&B's iterator)."""

    def collections(self, filter: dict[str, Any] | None = None, **_: Any) -> list[ArtifactCollection]:
        """The collections of every registry here (filter on ``name``, ``type``)."""
        return [c for r in self for c in r.collections(filter)]

    def versions(self, filter: dict[str, Any] | None = None, **_: Any) -> list[Artifact]:
        """The links of every registry here (filter on ``alias``, ``tag``, ``name``)."""
        return [v for r in self for v in r.versions(filter)]


def _api(mixin: RegistryApi) -> Api:
    """The ``Api`` a mixin method runs on (only ``Api`` mixes this in)."""
    return cast("Api", mixin)


def _registry_name(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError(f"a registry name is a string, not {name!r}")
    return check_name(name.removeprefix(REGISTRY_PREFIX), "registry name")


class RegistryApi:
    """The registry verbs of ``Api``."""

    def registries(
        self,
        organization: str | None = None,
        filter: dict[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 100,
        start: str | None = None,
    ) -> Registries:
        """Every registry (the core ones too), by name; ``filter`` on ``name``."""
        api = _api(self)
        names = {p.removeprefix(REGISTRY_PREFIX) for p in api.store.catalog.projects() if p.startswith(REGISTRY_PREFIX)}
        found = [self._registry(n) for n in sorted(names | set(CORE_REGISTRIES))]
        return Registries(_selected([r for r in found if r is not None], filter, {"name": lambda r: [r.name]}))

    def _registry(self, name: str) -> Registry | None:
        api = _api(self)
        project = REGISTRY_PREFIX + name
        try:
            info = registry_of(api.store, project)
        except ValidationError:
            return None
        created = api.store.catalog.project(project).created_at if project in api.store.catalog.projects() else None
        return Registry(api, name, info, created)

    def registry(self, name: str, organization: str | None = None) -> Registry:
        """The registry ``name`` (with or without ``wandb-registry-``).

        Raises:
            ValidationError: no such registry (a ``ValueError``, as W&B raises).
        """
        short = _registry_name(name)
        found = self._registry(short)
        if found is None:
            registry_of(_api(self).store, REGISTRY_PREFIX + short)  # raises, saying why
            raise AssertionError("unreachable")
        return found

    def create_registry(
        self,
        name: str,
        visibility: str,
        organization: str | None = None,
        description: str | None = None,
        artifact_types: list[str] | None = None,
    ) -> Registry:
        """Make a registry; ``artifact_types`` limits what may be linked into it (none:
        any type).

        Raises:
            ValidationError: the name is taken (a core registry's too), or a bad field.
        """
        api = _api(self)
        short = _registry_name(name)
        check_name(REGISTRY_PREFIX + short, "registry project name")
        if isinstance(artifact_types, str):
            raise ValidationError(f"artifact_types is a list of type names, not the string {artifact_types!r}")
        types = [check_name(t, "artifact type") for t in dict.fromkeys(artifact_types or [])]
        if description is not None and not isinstance(description, str):
            raise ValidationError(f"a registry's description is a string, not {description!r}")
        info = registry_info(
            description, _check_visibility(visibility), artifact_types=types, organization=organization
        )
        if short in CORE_REGISTRIES or (REGISTRY_PREFIX + short) in api.store.catalog.projects():
            raise ValidationError(f"registry {short!r} already exists in {api.store.url}; use a different name")
        try:
            record = api.store.catalog.create_project(REGISTRY_PREFIX + short, info)
        except ValidationError as exc:  # made meanwhile
            raise ValidationError(
                f"registry {short!r} already exists in {api.store.url}; use a different name"
            ) from exc
        return Registry(api, short, record.info, record.created_at)
