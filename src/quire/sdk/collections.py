"""Collections, types and projects as the sdk shows them (W&B's ``ArtifactCollection``,
``ArtifactType``, ``Project``), and the listings that return them.

An :class:`ArtifactCollection` is read once and edited locally: ``name``, ``description``,
``tags``, ``type`` and ``ttl`` are set on the object and written by ``save()``, in one
catalog transaction; what it read stays its handle on the catalog (a rename keeps the
collection's versions, aliases and id). Listings are :class:`Paginated`: lists, which
also carry the attributes of W&B's paginators, so code written for either runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from ..core.names import check_name, check_tag, check_text
from ..errors import ArtifactNotFoundError, ValidationError
from ..store import Store
from ..store.catalog import NEVER, CollectionRecord, VersionOrder, check_after, version_key
from ..store.catalog import OFFSET_LIMIT as OFFSET_LIMIT  # the bounds of a page, for the CLI
from ..store.catalog import PAGE_LIMIT as PAGE_LIMIT
from . import compat
from .artifact import RESERVED_TYPE_PREFIX, Artifact, is_internal_type
from .views import VIEWS

if TYPE_CHECKING:
    from ..store.catalog import ProjectRecord

T = TypeVar("T")
V = TypeVar("V")

#: projects whose collections hold links (W&B's portfolios), not versions of their own
REGISTRY_PREFIX = "wandb-registry-"
#: the longest default time to live: an expiry date past the year 9999 is no date
MAX_TTL = timedelta(days=1000 * 365)


#: what a page loader returns: the items of the page, each with the cursor just after it
Fetch = Callable[[str | None, int], list[tuple[T, str]]]


class Paginated(Sequence[T]):
    """A listing read one page at a time, as W&B's paginators are: iterate it (pages of
    ``per_page`` rows are fetched as the iteration reaches them), take ``len()`` (the
    whole listing's count: one COUNT, none once every page is loaded), index or slice it
    (the pages up to the position asked for are fetched), compare it with a list.

    ``objects`` holds what was loaded so far, ``more`` whether another page is left and
    ``cursor`` where it starts: pass it as ``start=`` to the same listing to resume there.
    A page starts after the key of the last row loaded (never at an offset), so a row
    that exists throughout is listed once however others are added or deleted meanwhile.
    """

    def __init__(self, fetch: Fetch[T], count: Callable[[], int], per_page: int = 50, start: str | None = None) -> None:
        self.per_page = per_page
        self.objects: list[T] = []
        self._fetch, self._count_of = fetch, count
        self._count: int | None = None
        self._cursor = start
        self._more = True

    @classmethod
    def of(cls, items: Iterable[T], per_page: int = 50) -> Paginated[T]:
        """A listing held whole already (a project's types, the store's projects)."""
        listing: Paginated[T] = cls(lambda after, limit: [], lambda: 0, per_page)
        listing.objects = list(items)
        listing._more = False
        return listing

    @property
    def more(self) -> bool:
        """Whether another page is left to load (the first is loaded to tell)."""
        if self._more and not self.objects:
            self._load_page()
        return self._more

    @property
    def cursor(self) -> str | None:
        """Where the next page starts (after the last row loaded; None: nothing loaded)."""
        return self._cursor

    @property
    def length(self) -> int:
        """How many items the listing holds."""
        return len(self)

    def _load_page(self) -> bool:
        """Load the next page; False when none is left. One more row than a page is asked
        for, so the last page is known to be the last without another read."""
        if not self._more:
            return False
        found = self._fetch(self._cursor, self.per_page + 1)
        page = found[: self.per_page]
        self._more = len(found) > self.per_page
        self.objects.extend(item for item, _ in page)
        if page:
            self._cursor = page[-1][1]
        return bool(page)

    def __iter__(self) -> Iterator[T]:
        position = 0
        while position < len(self.objects) or self._load_page():
            yield self.objects[position]
            position += 1

    def __len__(self) -> int:
        if not self._more:
            return len(self.objects)
        if self._count is None:
            self._count = self._count_of()
        return self._count

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        # the last position needed: a slice's stop is exclusive (so no page past it is loaded)
        stop = index + 1 if isinstance(index, int) else index.stop
        if isinstance(index, slice) and (index.start or 0) < 0:
            stop = None
        if stop is None or stop <= 0:  # counted from the end: every page
            while self._load_page():
                pass
        while stop is not None and stop > len(self.objects) and self._load_page():
            pass
        return self.objects[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a listing compares by its items, as a list

    def __repr__(self) -> str:
        shown = ", ".join(map(repr, self.objects[:3])) + (", ..." if len(self.objects) > 3 or self._more else "")
        return f"<Paginated [{shown}]>"


def check_per_page(per_page: object) -> int:
    """``per_page`` if it is a positive integer (W&B refuses anything else too)."""
    if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
        raise ValidationError(f"per_page must be a positive integer, not {per_page!r}")
    return per_page


def check_filters(filters: object) -> None:
    """Refuse W&B's ``filters`` (a query its server runs): ignoring one would list what
    it filters out. None or ``{}`` is no filter."""
    if filters:
        raise ValidationError(
            f"filters={filters!r}: Quire does not run W&B's server-side filters; list without "
            "them and filter the result in Python (see docs/compatibility.md)"
        )


def check_tags(tags: object) -> list[str]:
    """W&B's rule for collection tags: one tag or several, each words of letters, digits,
    ``_`` and ``-`` with single spaces between them; duplicates dropped, order kept."""
    items = [tags] if isinstance(tags, str) else tags
    if not isinstance(items, Iterable):
        raise ValidationError(f"tags must be a list of strings, not {type(tags).__name__}")
    return list(dict.fromkeys(check_tag(tag) for tag in items))


def sort_key(order: str | None, fields: dict[str, V]) -> tuple[V, bool] | None:
    """What W&B's ``order`` says (``"name"``, ``"+created_at"``, ``"-createdAt"``): the
    field's entry in ``fields`` and whether it is descending; None for no order (the
    listing's own)."""
    if order is None:
        return None
    text = str(order)
    descending = text.startswith("-")
    name = text.lstrip("+-")
    snake = "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)
    if snake not in fields:
        raise ValidationError(
            f"cannot order by {order!r}: order by one of {', '.join(sorted(fields))} "
            "(prefix '-' for descending, '+' or nothing for ascending)"
        )
    return fields[snake], descending


def ordered(items: list[T], order: str | None, fields: dict[str, Callable[[Any], Any]]) -> list[T]:
    """``items`` sorted as ``order`` says (see :func:`sort_key`)."""
    how = sort_key(order, fields)
    if how is None:
        return items
    key, descending = how
    return sorted(items, key=key, reverse=descending)


#: what versions may be ordered by: the catalog orders them so (ties by version number)
VERSION_ORDER: dict[str, VersionOrder] = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "version": "index",
    "version_index": "index",
    "size": "size",
}
#: what collections may be ordered by
COLLECTION_ORDER: dict[str, Callable[[Any], Any]] = {
    "name": lambda c: c.name,
    "created_at": lambda c: (c.created_at, c.name),
    "id": lambda c: c.created_at,
}


def _cursor(order: str, key: tuple[Any, int]) -> str:
    """A version listing's cursor: its order and the key of the last version loaded."""
    return json.dumps({"order": order, "after": list(key)})


def _after(start: object, order: VersionOrder) -> tuple[Any, int] | None:
    """The key a cursor (a version listing's ``.cursor`` in this order) names."""
    if start is None:
        return None
    try:
        parsed = json.loads(start) if isinstance(start, str) else None
        if not isinstance(parsed, dict) or parsed.get("order") != order:
            raise ValueError
        return check_after(parsed.get("after"), order)
    except (ValueError, ValidationError):
        raise ValidationError(
            f"start={start!r:.80} is not a cursor of this listing: pass the .cursor of a listing in the same order"
        ) from None


def version_listing(
    store: Store,
    project: str,
    name: str,
    per_page: int = 50,
    tags: str | Iterable[str] | None = None,
    order: str | None = None,
    start: str | None = None,
    offset: int = 0,
) -> Paginated[Artifact]:
    """The versions of ``project/name`` as W&B lists them: those holding every tag in
    ``tags``, in ``order`` (default: oldest first), after the cursor ``start`` (then
    ``offset`` of them skipped: the CLI's ``--offset``). Read a page at a time: the
    catalog orders, filters and cuts them (a page is one query)."""
    per_page = check_per_page(per_page)
    wanted = check_tags(tags) if tags else None
    how = sort_key(order, VERSION_ORDER)
    by, descending = how if how is not None else ("index", False)
    _after(start, by)  # a bad cursor is refused now, not when the first page is read
    catalog = store.catalog

    def fetch(cursor: str | None, limit: int) -> list[tuple[Artifact, str]]:
        skip = offset if cursor == start else 0  # the offset counts once, from where the listing starts
        page = catalog.versions(
            project,
            name,
            order=by,
            descending=descending,
            tags=wanted,
            after=_after(cursor, by),
            limit=limit,
            offset=skip,
        )
        return [(Artifact._committed(r, store), _cursor(by, version_key(r, by))) for r in page]

    return Paginated(fetch, lambda: catalog.count_versions(project, name, tags=wanted), per_page, start)


def check_type_change(name: str, old: str, new: str) -> str:
    """``new`` if W&B lets the collection ``name`` change from type ``old`` to it: neither
    may be one of W&B's internal types."""
    check_name(new, "artifact type")
    if new != old and is_internal_type(name, old):
        raise ValidationError(
            f"cannot change the type of {name!r}: its type {old!r} is an internal type of W&B's, which stays"
        )
    if is_internal_type(name, new):
        raise ValidationError(
            f"cannot make {name!r} of type {new!r}: types starting with {RESERVED_TYPE_PREFIX!r} (and 'job', "
            "'run_table' of 'run-' names, 'code' of 'source-' names) are reserved for W&B's internal use; "
            "choose another type"
        )
    return new


def _ttl_of(value: int | Literal["never"]) -> timedelta | None:
    return None if value == NEVER else timedelta(seconds=int(value))


class ArtifactCollection:
    """A named series of versions of one type (W&B's ``ArtifactCollection``).

    Edit ``name``, ``description``, ``tags``, ``type`` or ``ttl`` (the default time to
    live of the versions that inherit it; ``None``: never), then ``save()``.
    """

    def __init__(self, record: CollectionRecord, store: Store) -> None:
        self._store = store
        self._read(record)

    def _read(self, record: CollectionRecord) -> None:
        self._saved = record
        self._name, self._description, self._type = record.name, record.description, record.type
        self._tags = list(record.tags)
        self._ttl = _ttl_of(record.ttl)

    # -- what it is -------------------------------------------------------------------

    id = property(lambda self: self._saved.id, doc="Opaque and stable: a rename keeps it.")
    project = property(lambda self: self._saved.project, doc="The project it is in.")
    created_at = property(lambda self: self._saved.created_at, doc="When it was made (ISO 8601 UTC).")
    version_count = property(lambda self: self._saved.version_count, doc="How many versions it holds.")

    @property
    def entity(self) -> str | None:
        """Always None: Quire stores have no entities (accepted in addresses, ignored)."""
        return None

    def is_sequence(self) -> bool:
        """Whether it holds versions of its own (W&B's sequence); False for a registry
        collection, which holds links (W&B's portfolio)."""
        return not self._saved.project.startswith(REGISTRY_PREFIX)

    # -- what may be edited, then saved -------------------------------------------------

    @property
    def name(self) -> str:
        """Its name (a new one is written by ``save()``)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = check_name(value, "collection name")

    @property
    def description(self) -> str | None:
        """Its description."""
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        self._description = None if value is None else check_text(value, "a collection's description")

    @property
    def tags(self) -> list[str]:
        """Its tags (not its versions' tags)."""
        return self._tags

    @tags.setter
    def tags(self, value: str | Iterable[str]) -> None:
        self._tags = check_tags(value)

    @property
    def type(self) -> str:
        """The type of its versions."""
        return self._type

    @type.setter
    def type(self, value: str) -> None:
        if not self.is_sequence():
            raise ValidationError(self._portfolio_type())
        self._type = value

    @property
    def ttl(self) -> timedelta | None:
        """The default time to live of its versions that inherit one (None: they never expire)."""
        return self._ttl

    @ttl.setter
    def ttl(self, value: timedelta | None) -> None:
        if value is not None and (not isinstance(value, timedelta) or not timedelta(seconds=1) <= value <= MAX_TTL):
            raise ValidationError(
                f"a collection's ttl must be a timedelta from a second to {MAX_TTL.days // 365} years, or None "
                f"(never expire), not {value!r}"
            )
        self._ttl = value

    def save(self) -> None:
        """Write what was edited, in one transaction (nothing, if any of it is refused).

        Raises:
            ValidationError: the new name is taken, or the type change is refused.
            ArtifactNotFoundError: the collection was deleted (or renamed) since it was read.
        """
        saved = self._saved
        if self._type != saved.type:
            check_type_change(self._name, saved.type, self._type)
        ttl: int | Literal["never"] = NEVER if self._ttl is None else int(self._ttl.total_seconds())
        self._update(
            new_name=self._name if self._name != saved.name else None,
            description=(self._description or "") if self._description != saved.description else None,
            tags=self._tags if self._tags != saved.tags else None,
            type_=self._type if self._type != saved.type else None,
            ttl=ttl if ttl != saved.ttl else None,
        )

    def change_type(self, new_type: str) -> None:
        """Change its type now (W&B deprecates this for ``type = ...`` and ``save()``)."""
        check_type_change(self._saved.name, self._saved.type, new_type)
        if not self.is_sequence():
            raise ValidationError(self._portfolio_type())
        edits = (self._name, self._description, self._tags, self._ttl)
        self._update(type_=new_type)
        self._name, self._description, self._tags, self._ttl = edits  # still to be saved

    def _portfolio_type(self) -> str:
        return (
            f"the type of {self._saved.project}/{self._saved.name} cannot change: it is a registry "
            "collection (its links keep their sources' type); change the source collection's type"
        )

    def _update(self, **changes: Any) -> None:
        saved = self._saved
        try:
            record = self._store.catalog.update_collection(saved.project, saved.name, **changes)
        except ArtifactNotFoundError:
            raise ArtifactNotFoundError(
                f"collection {saved.project}/{saved.name} was deleted or renamed since it was read; nothing was "
                "saved (read it again with Api().artifact_collection)"
            ) from None
        self._read(record)

    def delete(self) -> None:
        """Delete it, with every version and alias in it (its bytes are then gc's to collect).

        Raises:
            ArtifactNotFoundError: it was deleted already.
            ValidationError: registry links point at its versions (unlink them first).
        """
        saved = self._saved
        try:
            self._store.catalog.delete_collection(saved.project, saved.name)
        except ArtifactNotFoundError:
            raise ArtifactNotFoundError(
                f"collection {saved.project}/{saved.name} does not exist: it was deleted (or renamed) already"
            ) from None

    # -- its versions -------------------------------------------------------------------

    def artifacts(self, per_page: int = 50, start: str | None = None) -> Paginated[Artifact]:
        """Every version, oldest first, a page at a time (as saved: edits not saved yet do
        not count); ``start``: a listing's ``.cursor``, to resume after it."""
        saved = self._saved
        return version_listing(self._store, saved.project, saved.name, per_page, start=start)

    def versions(self, per_page: int = 50) -> Paginated[Artifact]:
        """Every version, oldest first (W&B's older name of :meth:`artifacts`)."""
        return self.artifacts(per_page)

    @property
    def aliases(self) -> list[str]:
        """Every alias in use in the collection (as read with it: no version is read)."""
        return list(self._saved.aliases)

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self._name} ({self._type})>"


def collection_of(artifact: Artifact) -> ArtifactCollection:
    """The collection of a committed version (of a link: the registry collection it was read from)."""
    record = artifact._committed_record("collection")
    store = artifact._committed_version("collection").store
    return ArtifactCollection(store.catalog.collection(record.project, record.collection), store)


VIEWS.collection = collection_of


class ArtifactType:
    """The collections of one type in a project (W&B's ``ArtifactType``)."""

    def __init__(self, project: str, name: str, store: Store) -> None:
        self.project, self._name, self._store = project, name, store

    @property
    def id(self) -> str:
        """Opaque and stable: the project and the type."""
        return f"{self.project}:{self._name}"

    name = property(lambda self: self._name, doc="The type's name.")
    type = name

    @property
    def entity(self) -> str | None:
        """Always None: Quire stores have no entities."""
        return None

    def collections(
        self, filters: dict[str, Any] | None = None, order: str | None = None, per_page: int = 50
    ) -> Paginated[ArtifactCollection]:
        """Its collections, by name unless ``order`` says otherwise (see :func:`check_filters`)."""
        check_filters(filters)
        return collection_listing(self._store, self.project, self._name, order, per_page)

    def collection(self, name: str) -> ArtifactCollection:
        """One of its collections (``ArtifactNotFoundError`` if the project has none of that
        name and type)."""
        return find_collection(self._store, self.project, check_name(name), self._name)

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<ArtifactType {self._name}>"


def collection_listing(
    store: Store,
    project: str,
    type_: str | None,
    order: str | None = None,
    per_page: int = 50,
    start: str | None = None,
) -> Paginated[ArtifactCollection]:
    """The collections of a project (of one type), by name a page at a time (after the
    name ``start``, a listing's ``.cursor``), or in ``order``: the catalog orders them by
    name only, so another order reads them whole (rows of collections, never of versions)
    and sorts them here."""
    per_page = check_per_page(per_page)
    if start is not None and not isinstance(start, str):
        raise ValidationError(f"start must be a listing's .cursor (a collection's name), not {start!r:.40}")
    catalog = store.catalog
    if sort_key(order, COLLECTION_ORDER) not in (None, (COLLECTION_ORDER["name"], False)):
        found = [ArtifactCollection(c, store) for c in catalog.collections(project, type_, after=start)]
        return Paginated.of(ordered(found, order, COLLECTION_ORDER), per_page)

    def fetch(cursor: str | None, limit: int) -> list[tuple[ArtifactCollection, str]]:
        return [
            (ArtifactCollection(c, store), c.name)
            for c in catalog.collections(project, type_, after=cursor, limit=limit)
        ]

    return Paginated(fetch, lambda: catalog.count_collections(project, type_), per_page, start)


def find_collection(store: Store, project: str, name: str, type_: str) -> ArtifactCollection:
    """The collection ``project/name``, of type ``type_``."""
    record = store.catalog.collection(project, name)
    if record.type != type_:
        raise ArtifactNotFoundError(
            f"no {type_} collection {project}/{name}: {name!r} is a collection of type {record.type!r}; "
            f"ask for type {record.type!r}"
        )
    return ArtifactCollection(record, store)


def type_listing(store: Store, project: str, per_page: int = 50) -> Paginated[ArtifactType]:
    """The types of a project's collections, by name."""
    per_page = check_per_page(per_page)
    names = sorted({c.type for c in store.catalog.collections(project)})
    return Paginated.of((ArtifactType(project, n, store) for n in names), per_page)


class Project:
    """A project of the store (W&B's ``Project``): a namespace of collections and runs.

    Read lazily, as W&B's: ``Api().project(name)`` of a project that does not exist yet
    fails only when asked what only an existing one has (``id``, ``created_at``).
    """

    def __init__(self, name: str, store: Store) -> None:
        self.name, self._store = name, store

    @property
    def entity(self) -> str | None:
        """Always None: Quire stores have no entities."""
        return None

    @property
    def path(self) -> list[str | None]:
        """``[entity, name]``, as W&B's."""
        return [self.entity, self.name]

    @property
    def id(self) -> str:
        """Opaque and stable (its name); ``ArtifactNotFoundError`` if it does not exist."""
        if self.name not in self._store.catalog.projects():
            raise ArtifactNotFoundError(f"no project {self.name!r}", self._store.catalog.projects())
        return self.name

    @property
    def created_at(self) -> str:
        """When it was made (ISO 8601 UTC)."""
        record: ProjectRecord = self._store.catalog.project(self.name)
        return record.created_at

    def artifacts_types(self, per_page: int = 50) -> Paginated[ArtifactType]:
        """The types of its collections, by name."""
        return type_listing(self._store, self.name, per_page)

    artifact_types = artifacts_types

    def collections(
        self, filters: dict[str, Any] | None = None, order: str | None = None, per_page: int = 50
    ) -> Paginated[ArtifactCollection]:
        """Its collections, by name unless ``order`` says otherwise (see :func:`check_filters`)."""
        check_filters(filters)
        return collection_listing(self._store, self.name, None, order, per_page)

    def __getattr__(self, name: str) -> Any:
        raise compat.missing(self, name)

    def __repr__(self) -> str:
        return f"<Project {self.name}>"
