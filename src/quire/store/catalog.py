"""The catalog protocol: what Quire asks of any catalog, as plain records in and out.

A catalog holds the names and history of a store: projects, collections, versions,
aliases, tags, runs and lineage, pending versions and their contributions, the gc fence
and writers' leases. It never sees bytes: a version points at its manifest by the
digest of the manifest's root page (its **root**), and whatever reads or writes blobs
happens outside the catalog, before a commit.

Nothing but records crosses this protocol: no connection, no callback, no SQL type.
So a commit is **compare-and-swap**: the caller builds the new version as data from what
it read (the collection's latest version, the contributions of a pending version) and
says what it expects still to hold; the catalog checks that in its transaction and
raises :class:`~quire.errors.MovedOnError` when another commit got in first, writing
nothing. The caller (``quire.core.commit``) rebuilds and tries again. Every commit
carries a client-made commit id, so a retry after a lost answer finds its own write.

Implementations: :class:`quire.store.sql.SQLCatalog` (SQLite, PostgreSQL); the shipped
conformance suite ``quire.testing.CatalogTests`` says what any other must do.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from ..errors import ValidationError
from ..hashing import hash_bytes

#: ``expect_latest`` of a commit that does not depend on the collection's latest
#: version (a simple or collaborative commit): it never moves on. Not a version id
#: (those are 32 hex digits), so it cannot be mistaken for one.
ANY_LATEST = "*"

Direction = Literal["input", "output"]
PendingState = Literal["open", "committed", "aborted"]
OPEN: PendingState = "open"
COMMITTED: PendingState = "committed"
ABORTED: PendingState = "aborted"
PENDING_STATES: tuple[PendingState, ...] = (OPEN, COMMITTED, ABORTED)
#: the most characters a run's name, group or job type may have (every catalog holds them)
RUN_TEXT_LIMIT = 256

#: the states a run is in: ``running`` until it ends, then ``finished`` or ``crashed``
RUN_STATES = ("running", "finished", "crashed")


def check_run_update(fields: dict[str, Any]) -> None:
    """Refuse, before any write, a run update (``update_run``'s fields, None: unchanged)
    that a catalog cannot hold as given: text too long or holding NUL, an unknown state,
    tags that are not strings, JSON with NaN (PostgreSQL refuses what SQLite keeps, so
    every catalog refuses it, with the same message)."""
    for what in ("name", "group", "job_type", "notes"):
        value = fields.get(what)
        if value is None:
            continue
        if not isinstance(value, str) or "\x00" in value:
            raise ValidationError(f"the run's {what} must be a string without NUL, not {value!r:.80}")
        if what != "notes" and len(value) > RUN_TEXT_LIMIT:
            raise ValidationError(
                f"the run's {what} is {len(value)} characters long; the catalog holds at most {RUN_TEXT_LIMIT}"
            )
    state = fields.get("state")
    if state is not None and state not in RUN_STATES:
        raise ValidationError(f"unknown run state {state!r}: choose one of {', '.join(RUN_STATES)}")
    tags = fields.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)):
        raise ValidationError(f"run tags must be a list of strings, not {tags!r:.80}")
    for what in ("config", "summary", "info"):
        if fields.get(what) is not None:
            check_json(fields[what], f"the run's {what}")


def check_json(value: object, what: str) -> None:
    """Refuse what is not a JSON object that every catalog stores as it is (no NaN)."""
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a dict, not {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON the catalog can hold: {exc}") from None


#: A version's time to live: seconds from its creation, ``"inherit"`` (its collection's
#: default, read when asked, so changing the default changes it) or ``"never"``.
TTL = int | Literal["inherit", "never"]
INHERIT: Literal["inherit"] = "inherit"
NEVER: Literal["never"] = "never"


#: what a catalog orders a collection's versions by (``versions(order=...)``); ties are
#: broken by the version number, so every order is total and a page ends at a key
VersionOrder = Literal["index", "created_at", "updated_at", "size"]
VERSION_ORDERS: tuple[VersionOrder, ...] = ("index", "created_at", "updated_at", "size")
#: the most rows one listing call returns (a page of a listing, never the whole store)
PAGE_LIMIT = 10_000
#: the largest offset a listing takes (the largest version number a catalog holds)
OFFSET_LIMIT = 2**31 - 1


def check_page(limit: object, offset: object) -> None:
    """Refuse a listing's ``limit`` (None: every row) and ``offset`` unless they are whole
    numbers in bounds, before any read (every catalog refuses them alike)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT):
        raise ValidationError(f"limit must be a whole number from 1 to {PAGE_LIMIT} (or None: all), not {limit!r:.40}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= OFFSET_LIMIT:
        raise ValidationError(f"offset must be a whole number from 0 to {OFFSET_LIMIT}, not {offset!r:.40}")


def check_version_order(order: object) -> VersionOrder:
    """``order`` if a catalog orders versions by it (see :data:`VERSION_ORDERS`)."""
    if order in ("index", "created_at", "updated_at", "size"):  # spelled out: mypy narrows the Literal
        return order
    raise ValidationError(f"cannot order versions by {order!r:.40}: choose one of {', '.join(VERSION_ORDERS)}")


def version_key(record: VersionRecord, order: VersionOrder) -> tuple[Any, int]:
    """Where ``record`` stands in ``order``: its value of the field, then its number (what
    a listing's ``after`` names: the key of the last version seen)."""
    value = record.index if order == "index" else getattr(record, order)
    return value, record.index


def check_after(after: object, order: VersionOrder) -> tuple[Any, int] | None:
    """``after`` if it is a key :func:`version_key` could make in ``order`` (None: from the start)."""
    if after is None:
        return None
    kind = str if order in ("created_at", "updated_at") else int
    if (
        isinstance(after, tuple | list)
        and len(after) == 2
        and all(
            isinstance(part, want) and not isinstance(part, bool) for part, want in zip(after, (kind, int), strict=True)
        )
    ):
        return after[0], after[1]
    raise ValidationError(
        f"after must be the key of a version in {order} order (its {order} and its number), not {after!r:.80}"
    )


def pending_state(value: str | None) -> PendingState | None:
    """``value`` as a pending version's state (None: any state), or ``ValidationError``."""
    for state in PENDING_STATES:
        if value == state:
            return state
    if value is None:
        return None
    raise ValidationError(f"unknown pending state {value!r}: choose one of {', '.join(PENDING_STATES)}")


def new_commit_id() -> str:
    """A fresh client-made commit id (chosen once per commit, before any attempt)."""
    return uuid.uuid4().hex


def now() -> str:
    """The current UTC time as ISO 8601, the catalog's one time format."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# -- records ------------------------------------------------------------------------------


@dataclass
class NewVersion:
    """A version as its writer built it, before it has a number."""

    digest: str  #: the version digest (over paths and entry digests)
    root: str  #: the digest of its manifest's root page
    size: int
    file_count: int
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    parent_id: str | None = None
    ttl: TTL = INHERIT


@dataclass
class VersionRecord:
    """A committed version as the catalog knows it."""

    id: str
    project: str
    collection: str
    type: str
    index: int
    digest: str
    root: str
    size: int
    file_count: int
    metadata: dict[str, Any]
    description: str | None
    parent_id: str | None
    run_id: str | None
    created_at: str
    updated_at: str
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: as set on the version (``inherit``: the collection's default applies)
    ttl: TTL = INHERIT
    #: when it expires (ISO 8601 UTC; its own TTL or its collection's), None: never
    expires_at: str | None = None
    #: of a link (a version of a registry collection): the id of the version it points at;
    #: the link has its own number and aliases and shares the source's root
    source_id: str | None = None

    @property
    def version(self) -> str:
        """``vN``."""
        return f"v{self.index}"


@dataclass
class RunRecord:
    """A run as the catalog knows it."""

    id: str
    project: str
    name: str | None
    group: str | None
    job_type: str | None
    config: dict[str, Any]
    state: str
    created_at: str
    finished_at: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    #: the last value of each logged key, and whatever the run set in it
    summary: dict[str, Any] = field(default_factory=dict)
    #: what ``init`` was given that Quire records but does not act on (entity, mode,
    #: settings, defined metrics, ...)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class HistoryRow:
    """One step of a run's history: what ``run.log`` recorded at ``step``."""

    step: int
    data: dict[str, Any]
    timestamp: str


@dataclass
class CollectionRecord:
    """A collection and how many versions it holds."""

    project: str
    name: str
    type: str
    description: str | None
    version_count: int
    created_at: str
    id: str = ""  #: opaque and stable (a rename keeps it)
    tags: list[str] = field(default_factory=list)
    #: the default TTL of its versions that inherit one (seconds), or ``never``
    ttl: int | Literal["never"] = NEVER
    #: every alias in use in it, sorted (read with it: a listing shows them without
    #: reading the versions)
    aliases: list[str] = field(default_factory=list)


@dataclass
class ProjectRecord:
    """A project (a registry is a project named ``wandb-registry-<name>``)."""

    name: str
    created_at: str
    #: what a registry records: description, visibility, allowed types, ...
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class VersionCommit:
    """A request to commit a version of ``project/collection``.

    Attributes:
        expect_latest: the id of the latest version the new one was built on, None if
            it was built on an empty collection, :data:`ANY_LATEST` if it does not
            depend on the latest (then it never moves on).
        run_ids: runs that get an output edge; the first is the version's run.
        commit_id: the client-made id of this commit, the same on every attempt.
        gc_epoch: the epoch the writer noted before it checked which blobs the store
            holds (``quire.core.fence``); a gc since is ``ConcurrentGCError``.
    """

    project: str
    collection: str
    type: str
    version: NewVersion
    commit_id: str
    gc_epoch: Epoch
    expect_latest: str | None = ANY_LATEST
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


@dataclass
class Committed:
    """What a commit made: the version, and whether it is new (False: a version of the
    collection with the same digest existed, and got the aliases and edges instead)."""

    version: VersionRecord
    created: bool


@dataclass
class NewContribution:
    """What a writer adds to a pending version.

    Attributes:
        run_id: the writer's run.
        root: the root digest of the writer's manifest (stored before the add).
        file_count: how many entries it holds.
        size: their total bytes.
        info: who wrote it (``writer``: rank, host, Slurm/Ray/torchrun ids), the
            ``aliases`` it asked for, its ``metadata`` and its ``role``.
    """

    run_id: str | None
    root: str
    file_count: int
    size: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Same writer, same entries, same key: what makes a retried upsert a no-op."""
        return hash_bytes(f"{self.run_id or ''}\x00{self.root}".encode())


@dataclass
class ContributionRecord:
    """A contribution as the catalog knows it."""

    id: str
    key: str
    run_id: str | None
    root: str
    file_count: int
    size: int
    info: dict[str, Any]
    created_at: str

    @property
    def writer(self) -> str:
        """Who wrote it, for messages: ``run abc123 (rank 3, host n07, pid 4242)``."""
        return writer_label(self.run_id, self.info.get("writer") or {})


@dataclass
class PendingRecord:
    """A pending version as the catalog knows it."""

    id: str
    project: str
    collection: str
    type: str
    distributed_id: str
    state: PendingState
    version_id: str | None
    version_index: int | None
    created_at: str
    closed_at: str | None
    contribution_count: int
    file_count: int

    @property
    def where(self) -> str:
        """``pending version 'ID' of project/name``, for messages."""
        return pending_where(self.project, self.collection, self.distributed_id)


def pending_where(project: str, name: str, distributed_id: str) -> str:
    """How messages name the pending version ``distributed_id`` of ``project/name``."""
    return f"pending version {distributed_id!r} of {project}/{name}"


#: the writer details shown in a writer's label, in this order (see ``writer_label``)
_LABEL_KEYS = (
    ("rank", "rank"),
    ("slurm_procid", "slurm task"),
    ("ray_task_id", "ray task"),
    ("host", "host"),
    ("pid", "pid"),
)


def writer_label(run_id: str | None, writer: dict[str, Any]) -> str:
    """A short description of a writer from its run id and environment details."""
    details = [f"{label} {writer[key]}" for key, label in _LABEL_KEYS if writer.get(key) not in (None, "")]
    text = f"run {run_id}" if run_id else "no run"
    return f"{text} ({', '.join(details)})" if details else text


@dataclass
class Added:
    """What adding a contribution did: the pending version's id, the contribution, and
    whether it is new (False: the same one was there already)."""

    pending_id: str
    contribution: ContributionRecord
    added: bool


@dataclass
class FinishCommit:
    """A request to commit a pending version: the finisher's own contribution joins the
    ``merged`` ones and ``version`` (built from all of them) is committed.

    Attributes:
        merged: the keys of the contributions ``version`` was merged from, the
            finisher's own excluded (listing it is a ``MovedOnError`` too); if the
            pending version holds any other, the catalog raises ``MovedOnError`` (a
            writer upserted meanwhile).
        aliases: every alias the version gets (the contributions' and the finisher's).
        run_ids: runs that get an output edge, the finisher's first.
    """

    project: str
    collection: str
    type: str
    distributed_id: str
    own: NewContribution
    merged: list[str]
    version: NewVersion
    commit_id: str
    gc_epoch: Epoch
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


@dataclass
class Finished:
    """What a finish made: the version, whether it is new, the now committed pending version."""

    version: VersionRecord
    created: bool
    pending: PendingRecord


@dataclass(frozen=True)
class Epoch:
    """The gc fence as a writer noted it: how many sweeps had begun, and whether one was
    deleting then (a commit noted during a sweep never goes through: it is retried)."""

    number: int
    sweeping: bool = False

    def admits(self, now: Epoch) -> bool:
        """Whether a commit noted under this epoch may go through with the fence at ``now``
        (no sweep began since, none runs)."""
        return self.number == now.number and not self.sweeping and not now.sweeping


@dataclass(frozen=True)
class Sweep:
    """A running gc sweep, as a writer waiting for it sees it."""

    holder: str  #: who sweeps (host and pid)
    left: float  #: seconds until its lease runs out, unless it renews it


@dataclass(frozen=True)
class Lease:
    """A writer's live lease (times on the catalog's clock, seconds since the Unix epoch)."""

    id: str
    holder: str
    started: float
    expires: float


# -- the protocol -------------------------------------------------------------------------


@runtime_checkable
class Catalog(Protocol):
    """What the sdk and core ask of a catalog. Every method is one transaction (or one
    read); every failure is a :class:`~quire.errors.QuireError`."""

    url: str  #: where it is, fit to show (no password)

    @property
    def catalog_id(self) -> str:
        """The random id the catalog was made with (what its blob store records)."""
        ...

    def close(self) -> None:
        """Release connections (the catalog reopens them on next use)."""
        ...

    def handle(self) -> Catalog:
        """Another handle on this catalog, sharing its connections, with runs deferred of
        its own (:meth:`defer_run`): a server gives each request one, so the runs a client
        deferred are recorded with that request's write, in its transaction, or not at all."""
        ...

    # projects and collections
    def projects(self) -> list[str]: ...
    def project(self, name: str) -> ProjectRecord:
        """The project ``name`` (``ArtifactNotFoundError`` if it does not exist)."""
        ...

    def create_project(self, name: str, info: dict[str, Any] | None = None) -> ProjectRecord:
        """Make a project (a registry); ``ValidationError`` if it exists."""
        ...

    def update_project(self, name: str, info: dict[str, Any]) -> ProjectRecord: ...
    def delete_project(self, name: str) -> None:
        """Delete a project and everything in it (a registry's links; never a source version)."""
        ...

    def collections(
        self,
        project: str,
        type_: str | None = None,
        *,
        after: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CollectionRecord]:
        """The collections of a project (of one type), by name: those named after
        ``after`` (a keyset page: none skipped or repeated while others are added or
        deleted), then ``offset`` of them skipped, at most ``limit`` (None: all).

        Raises:
            ValidationError: ``limit`` or ``offset`` out of bounds (:func:`check_page`).
        """
        ...

    def count_collections(self, project: str, type_: str | None = None) -> int:
        """How many collections ``collections(project, type_)`` lists."""
        ...

    def collection_type(self, project: str, name: str) -> str | None: ...
    def collection(self, project: str, name: str) -> CollectionRecord:
        """One collection (``ArtifactNotFoundError`` if absent)."""
        ...

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
        ...

    def delete_collection(self, project: str, name: str) -> None:
        """Delete a collection with every version and alias in it."""
        ...

    # versions
    def commit(self, request: VersionCommit) -> Committed:
        """Commit ``request.version`` as the collection's next version (created with its
        project and collection on first use), unless its digest equals a version of the
        collection: that one gets the aliases, tags and edges. ``latest`` moves to it.

        Checked in this order: the commit id (a commit that landed returns what it made,
        whatever moved since), the gc fence, the collection type, ``expect_latest``, then
        the dedup by digest.

        Raises:
            MovedOnError: ``expect_latest`` is not the latest version any more.
            ConcurrentGCError: a gc began since ``gc_epoch``.
            CollectionTypeError: the collection holds another type.
            CommitOutcomeUnknownError: the answer was lost and the catalog did not answer again.
        """
        ...

    def version(self, project: str, name: str, version: str = "latest") -> VersionRecord: ...
    def version_by_id(self, vid: str) -> VersionRecord: ...
    def version_exists(self, vid: str) -> bool: ...
    def versions(
        self,
        project: str,
        name: str,
        *,
        order: VersionOrder = "index",
        descending: bool = False,
        tags: list[str] | None = None,
        after: tuple[Any, int] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[VersionRecord]:
        """The versions of a collection holding every tag in ``tags``, by ``order`` (ties
        by number; ``descending`` reverses both): those whose :func:`version_key` comes
        after ``after`` (a keyset page: a version that exists throughout is neither
        skipped nor repeated while others are added or deleted), then ``offset`` of them
        skipped, at most ``limit`` (None: all). Default: every version, oldest first.

        Raises:
            ArtifactNotFoundError: no such collection.
            ValidationError: a bad ``order``, ``after``, ``limit`` or ``offset``, before any read.
        """
        ...

    def count_versions(self, project: str, name: str, *, tags: list[str] | None = None) -> int:
        """How many versions ``versions(project, name, tags=tags)`` lists
        (``ArtifactNotFoundError``: no such collection)."""
        ...

    def update_version(
        self,
        vid: str,
        *,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        ttl: TTL | None = None,
    ) -> VersionRecord: ...
    def delete_version(self, vid: str, delete_aliases: bool = False) -> None: ...

    # links (registries) and time to live
    def link(self, source_id: str, project: str, collection: str, aliases: list[str]) -> Committed:
        """Link version ``source_id`` into ``project/collection`` (made with the source's
        type on first use) as that collection's next version, sharing the source's root;
        linking it again there gives the same link (``created`` False) the aliases."""
        ...

    def links_to(self, source_id: str) -> list[VersionRecord]:
        """Every link pointing at a version."""
        ...

    def expired_versions(self, at: str) -> list[VersionRecord]:
        """Versions whose time to live ran out by ``at`` (ISO 8601), oldest first; never
        one that a link points at."""
        ...

    def roots(self) -> set[str]:
        """The root of every version and of every contribution to an open pending
        version: what gc must keep."""
        ...

    # runs and lineage
    def create_run(self, run: RunRecord) -> None: ...
    def defer_run(self, run: RunRecord) -> None:
        """Record a new run with this handle's next commit, finish, contribution or other
        catalog change (not a lease's write), or with its ``finish_run``."""
        ...

    def finish_run(self, run_id: str, state: str) -> None: ...
    def run(self, run_id: str) -> RunRecord: ...
    def project_runs(
        self, project: str, *, descending: bool = False, limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        """The runs of a project, oldest first (``descending``: newest first; ties by
        id), ``offset`` of them skipped, at most ``limit`` (None: all); none for an
        unknown project.

        Raises:
            ValidationError: ``limit`` or ``offset`` out of bounds (:func:`check_page`).
        """
        ...

    def update_run(
        self,
        run_id: str,
        *,
        name: str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        config: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        notes: str | None = None,
        info: dict[str, Any] | None = None,
        state: str | None = None,
    ) -> RunRecord:
        """Replace the fields given (None: unchanged); ``state="running"`` reopens a
        finished run (resume)."""
        ...

    def log_history(self, run_id: str, rows: list[HistoryRow]) -> None:
        """Record history rows (a row at a step already recorded replaces it)."""
        ...

    def history(self, run_id: str, start: int = 0, stop: int | None = None) -> list[HistoryRow]:
        """The run's history rows with ``start <= step < stop``, by step."""
        ...

    def use_version(self, run_id: str, vid: str) -> None: ...
    def runs_of(self, vid: str, direction: Direction) -> list[RunRecord]: ...
    def versions_of(self, run_id: str, direction: Direction) -> list[VersionRecord]: ...

    # pending versions and contributions
    def check_pending(self, project: str, name: str, type_: str, distributed_id: str) -> None:
        """Fail early, before a writer uploads, when an upsert or finish would be refused
        (``CollectionTypeError``, ``PendingVersionError``)."""
        ...

    def add_contribution(
        self,
        project: str,
        name: str,
        type_: str,
        distributed_id: str,
        new: NewContribution,
        gc_epoch: Epoch,
        lease: str | None = None,
    ) -> Added:
        """Add ``new`` to the open pending version (created, with its collection, on first
        use); the same contribution again is a no-op (``Added.added`` False). ``lease``:
        ends the writer lease ``lease`` in the same transaction (its blobs go from
        protected by the lease to referenced in one step)."""
        ...

    def finish(self, request: FinishCommit) -> Finished:
        """Add the finisher's contribution, commit the version and mark the pending
        version committed, in one transaction. ``MovedOnError`` if it holds contributions
        other than ``merged``; a retry with the same commit id returns what it made."""
        ...

    def abort_pending(self, pending_id: str) -> PendingRecord: ...
    def pending(self, pending_id: str) -> PendingRecord: ...
    def find_pending(self, project: str, name: str, distributed_id: str) -> PendingRecord | None: ...
    def pending_versions(
        self, project: str | None = None, state: PendingState | None = OPEN
    ) -> list[PendingRecord]: ...
    def resolve_pending(self, ref: str, project: str | None = None) -> PendingRecord:
        """The pending version ``ref`` names: its id first, else a distributed id within
        ``project`` (or the whole store), open ones before closed; several matches are a
        ``ValidationError`` listing them, none an ``ArtifactNotFoundError``."""
        ...

    def contributions(self, pending_id: str) -> list[ContributionRecord]:
        """Sorted by key: the order they are merged in."""
        ...

    # the gc fence and leases (times on the catalog's clock)
    def gc_epoch(self) -> Epoch: ...
    def sweep(self) -> Sweep | None: ...
    def begin_sweep(self, seen: Epoch, lease: float, holder: str = "") -> int:
        """Bump the epoch and hold the sweep lease; returns the sweep's epoch number."""
        ...

    def renew_sweep(self, epoch: int, lease: float) -> None: ...
    def end_sweep(self, epoch: int) -> None: ...
    def open_lease(self, holder: str, lease: float) -> str: ...
    def renew_lease(self, lid: str, lease: float) -> bool: ...
    def drop_lease(self, lid: str) -> None: ...
    def live_leases(self) -> tuple[float, list[Lease]]: ...
    def clock(self) -> float: ...
