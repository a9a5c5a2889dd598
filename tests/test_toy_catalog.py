"""A toy catalog in memory, and the shipped catalog suite run on it.

``MemoryCatalog`` is what the project claims a new backend is: one file implementing
:class:`quire.store.catalog.Catalog` (here dicts under one lock) plus a fixture. It
passes ``quire.testing.CatalogTests`` with no edit anywhere else. It is not a model of
the SQL catalog (it shares none of its code); it is written from the protocol alone.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import pytest

from quire.errors import (
    ArtifactNotFoundError,
    CollectionTypeError,
    ConcurrentGCError,
    MovedOnError,
    PendingVersionError,
    StoreError,
    ValidationError,
)
from quire.store.catalog import (
    ABORTED,
    ANY_LATEST,
    COMMITTED,
    INHERIT,
    NEVER,
    OPEN,
    PENDING_STATES,
    RUN_TEXT_LIMIT,
    TTL,
    Added,
    CollectionRecord,
    Committed,
    ContributionRecord,
    Direction,
    Epoch,
    FinishCommit,
    Finished,
    HistoryRow,
    Lease,
    NewContribution,
    NewVersion,
    PendingRecord,
    PendingState,
    ProjectRecord,
    RunRecord,
    Sweep,
    VersionCommit,
    VersionOrder,
    VersionRecord,
    check_after,
    check_json,
    check_page,
    check_run_update,
    check_version_order,
    now,
    pending_where,
    version_key,
)
from quire.testing import CatalogTests


@dataclass
class _Collection:
    project: str
    name: str
    type: str
    created_at: str
    next_index: int = 0
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version id
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    ttl: int | Literal["never"] = NEVER  # the default TTL of versions that inherit one
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class _Version:
    record: VersionRecord  # aliases and tags are filled in when read
    commit_id: str | None
    tags: set[str] = field(default_factory=set)


@dataclass
class _Pending:
    id: str
    project: str
    collection: str
    distributed_id: str
    created_at: str
    state: PendingState = OPEN
    version_id: str | None = None
    closed_at: str | None = None
    commit_id: str | None = None
    contributions: dict[str, ContributionRecord] = field(default_factory=dict)  # key -> record


class MemoryState:
    """One catalog's whole state: what every handle on it shares."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.catalog_id = uuid.uuid4().hex
        self.projects: set[str] = set()
        self.project_info: dict[str, ProjectRecord] = {}  # made by create_project
        self.collections: dict[tuple[str, str], _Collection] = {}
        self.versions: dict[str, _Version] = {}
        self.runs: dict[str, RunRecord] = {}
        self.history: dict[str, dict[int, HistoryRow]] = {}  # run id -> step -> row
        self.edges: list[tuple[str, str, Direction]] = []  # (run id, version id, direction)
        self.pending: dict[str, _Pending] = {}
        self.epoch = 0
        self.sweep_until: float | None = None
        self.sweep_holder = ""
        self.leases: dict[str, Lease] = {}


class MemoryCatalog:
    """A handle on a :class:`MemoryState`: the Catalog protocol over dicts and a lock."""

    def __init__(self, state: MemoryState) -> None:
        self.state = state
        self.url = f"memory://{state.catalog_id}"
        self._deferred: dict[str, RunRecord] = {}

    @property
    def catalog_id(self) -> str:
        return self.state.catalog_id

    def handle(self) -> MemoryCatalog:
        return MemoryCatalog(self.state)

    def close(self) -> None:
        pass

    # -- projects and registries (links, TTL) ---------------------------------------------

    def _project(self, name: str) -> ProjectRecord:
        if name not in self.state.projects:
            raise ArtifactNotFoundError(f"no project {name!r}", sorted(self.state.projects))
        made = self.state.project_info.get(name)
        if made is None:  # made by a commit or a run: as old as its oldest collection or run
            stamps = [c.created_at for (p, _), c in self.state.collections.items() if p == name]
            stamps += [r.created_at for r in self.state.runs.values() if r.project == name]
            made = self.state.project_info[name] = ProjectRecord(name, min(stamps, default=now()))
        return replace(made, info=dict(made.info))

    def project(self, name: str) -> ProjectRecord:
        with self.state.lock:
            return self._project(name)

    def create_project(self, name: str, info: dict[str, Any] | None = None) -> ProjectRecord:
        with self.state.lock:
            if name in self.state.projects:
                raise ValidationError(f"a project named {name!r} exists already; choose another name")
            self._record_deferred()
            self.state.projects.add(name)
            self.state.project_info[name] = ProjectRecord(name, now(), dict(info or {}))
            return self._project(name)

    def update_project(self, name: str, info: dict[str, Any]) -> ProjectRecord:
        with self.state.lock:
            made = self._project(name)
            self._record_deferred()
            self.state.project_info[name] = replace(made, info=dict(info))
            return self._project(name)

    def _check_unlinked(self, vids: set[str], what: str) -> None:
        links = [v.record for v in self.state.versions.values() if v.record.source_id in vids]
        if links:
            names = ", ".join(f"{r.project}/{r.collection}:{r.version}" for r in links)
            raise ValidationError(f"cannot delete {what}: registry links point at it ({names}); unlink them first")

    def delete_project(self, name: str) -> None:
        with self.state.lock:
            self._project(name)
            inside = {vid for vid, v in self.state.versions.items() if v.record.project == name}
            outside = {v.record.source_id for vid, v in self.state.versions.items() if vid not in inside}
            self._check_unlinked(inside & {s for s in outside if s}, f"project {name!r}")
            self._record_deferred()
            runs = {r for r, run in self.state.runs.items() if run.project == name}
            for vid in inside:
                del self.state.versions[vid]
            self.state.edges = [e for e in self.state.edges if e[1] not in inside and e[0] not in runs]
            for key in [k for k in self.state.collections if k[0] == name]:
                del self.state.collections[key]
            for pid in [p for p, pending in self.state.pending.items() if pending.project == name]:
                del self.state.pending[pid]
            for run_id in runs:
                del self.state.runs[run_id]
            self.state.projects.discard(name)
            self.state.project_info.pop(name, None)

    def link(self, source_id: str, project: str, collection: str, aliases: list[str]) -> Committed:
        with self.state.lock:
            source = self._load(source_id)
            if source.source_id is not None:  # a link of a link is a link of its source
                source = self._load(source.source_id)
            coll = self._collection(project, collection, source.type)
            ids = self._ids(coll)
            if any(self.state.versions[i].record.source_id is None for i in ids):
                raise ValidationError(f"{project}/{collection} holds logged versions, not links")
            self._record_deferred()
            self._store_collection(coll)
            vid = next((i for i in ids if self.state.versions[i].record.source_id == source.id), None)
            created = vid is None
            if vid is None:
                vid, stamp = uuid.uuid4().hex, now()
                record = replace(
                    source,
                    id=vid,
                    project=project,
                    collection=collection,
                    index=coll.next_index,
                    metadata=dict(source.metadata),
                    parent_id=None,
                    run_id=None,
                    created_at=stamp,
                    updated_at=stamp,
                    aliases=[],
                    tags=[],
                    ttl=NEVER,
                    expires_at=None,
                    source_id=source.id,
                )
                self.state.versions[vid] = _Version(record, None)
                coll.next_index += 1
                coll.aliases["latest"] = vid
            for alias in aliases:
                coll.aliases[alias] = vid
            return Committed(self._load(vid), created)

    def links_to(self, source_id: str) -> list[VersionRecord]:
        with self.state.lock:
            found = [v.record for v in self.state.versions.values() if v.record.source_id == source_id]
            return [self._load(r.id) for r in sorted(found, key=lambda r: r.created_at)]

    def expired_versions(self, at: str) -> list[VersionRecord]:
        with self.state.lock:
            linked = {v.record.source_id for v in self.state.versions.values()}
            cutoff = datetime.fromisoformat(at)
            found = [self._load(vid) for vid in self.state.versions if vid not in linked]
            gone = [
                r
                for r in found
                if r.source_id is None and r.expires_at is not None and datetime.fromisoformat(r.expires_at) <= cutoff
            ]
            return sorted(gone, key=lambda r: r.created_at)

    # -- collections beyond commits --------------------------------------------------------

    def _collection_record(self, coll: _Collection) -> CollectionRecord:
        return CollectionRecord(
            coll.project,
            coll.name,
            coll.type,
            coll.description,
            len(self._ids(coll)),
            coll.created_at,
            id=coll.id,
            tags=sorted(coll.tags),
            ttl=coll.ttl,
            aliases=sorted(coll.aliases),
        )

    def collection(self, project: str, name: str) -> CollectionRecord:
        with self.state.lock:
            return self._collection_record(self._existing(project, name))

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
        with self.state.lock:
            coll = self._existing(project, name)
            renamed = new_name is not None and new_name != name
            if renamed and (project, new_name) in self.state.collections:
                raise ValidationError(f"{project}/{new_name} exists already; choose another name")
            ids = self._ids(coll)
            retyped = type_ is not None and type_ != coll.type
            if retyped and any(self.state.versions[v].record.source_id for v in ids):
                raise ValidationError(f"{project}/{name} holds links, which keep their sources' type")
            self._record_deferred()
            if description is not None:
                coll.description = description or None
            if tags is not None:
                coll.tags = list(dict.fromkeys(tags))
            if ttl is not None:
                coll.ttl = ttl
            if retyped and type_ is not None:
                coll.type = type_
                for vid in ids:
                    held = self.state.versions[vid]
                    held.record = replace(held.record, type=type_)
            if renamed and new_name is not None:
                del self.state.collections[(project, name)]
                coll.name = new_name
                self.state.collections[(project, new_name)] = coll
                for vid in ids:
                    held = self.state.versions[vid]
                    held.record = replace(held.record, collection=new_name)
                for pending in self.state.pending.values():
                    if (pending.project, pending.collection) == (project, name):
                        pending.collection = new_name
            return self._collection_record(coll)

    def delete_collection(self, project: str, name: str) -> None:
        with self.state.lock:
            coll = self._existing(project, name)
            ids = set(self._ids(coll))
            links = [
                v.record for v in self.state.versions.values() if v.record.source_id in ids and v.record.id not in ids
            ]
            if links:
                named = ", ".join(f"{r.project}/{r.collection}:{r.version}" for r in links)
                raise ValidationError(f"registry links point at {project}/{name}: {named}; unlink them first")
            self._record_deferred()
            for vid in ids:
                del self.state.versions[vid]
            self.state.edges = [e for e in self.state.edges if e[1] not in ids]
            self.state.pending = {
                k: p for k, p in self.state.pending.items() if (p.project, p.collection) != (project, name)
            }
            del self.state.collections[(project, name)]

    # -- projects and collections ------------------------------------------------------

    def projects(self) -> list[str]:
        with self.state.lock:
            return sorted(self.state.projects)

    def collections(
        self,
        project: str,
        type_: str | None = None,
        *,
        after: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CollectionRecord]:
        check_page(limit, offset)
        if after is not None and not isinstance(after, str):
            raise ValidationError(f"after must be a collection's name, not {after!r}")
        with self.state.lock:
            found = sorted(
                (c for (p, n), c in self.state.collections.items() if p == project and (after is None or n > after)),
                key=lambda c: c.name,
            )
            chosen = [c for c in found if type_ in (None, c.type)][offset:]
            return [self._collection_record(c) for c in chosen[:limit]]

    def count_collections(self, project: str, type_: str | None = None) -> int:
        return len(self.collections(project, type_))

    def collection_type(self, project: str, name: str) -> str | None:
        with self.state.lock:
            coll = self.state.collections.get((project, name))
            return coll.type if coll else None

    def _collection(self, project: str, name: str, type_: str) -> _Collection:
        """The collection, checked for its type; a new one (not stored yet) if absent."""
        coll = self.state.collections.get((project, name))
        if coll is None:
            return _Collection(project, name, type_, now())
        if coll.type != type_:
            raise CollectionTypeError(f"{project}/{name}", coll.type, type_)
        return coll

    def _store_collection(self, coll: _Collection) -> None:
        self.state.projects.add(coll.project)
        self.state.collections[(coll.project, coll.name)] = coll

    def _ids(self, coll: _Collection) -> list[str]:
        """The ids of the collection's versions, oldest first."""
        found = [
            v.record
            for v in self.state.versions.values()
            if (v.record.project, v.record.collection) == (coll.project, coll.name)
        ]
        return [r.id for r in sorted(found, key=lambda r: r.index)]

    # -- versions ----------------------------------------------------------------------

    def _check_fence(self, noted: Epoch) -> None:
        if not noted.admits(self._epoch()):
            raise ConcurrentGCError(f"a garbage collection ran in {self.url}; nothing was committed, retry")

    def commit(self, request: VersionCommit) -> Committed:
        with self.state.lock:
            made = self._made_by(request.commit_id)
            if made is not None:
                return Committed(self._load(made), True)
            self._check_fence(request.gc_epoch)
            coll = self._collection(request.project, request.collection, request.type)
            latest = coll.aliases.get("latest")
            if request.expect_latest != ANY_LATEST and request.expect_latest != latest:
                raise MovedOnError(f"{request.project}/{request.collection} moved on; build on its latest again")
            self._check_deferred()
            vid, created = self._commit(
                coll, request.version, request.commit_id, request.aliases, request.tags, request.run_ids
            )
            return Committed(self._load(vid), created)

    def _made_by(self, commit_id: str) -> str | None:
        return next((vid for vid, v in self.state.versions.items() if v.commit_id == commit_id), None)

    def _check_deferred(self) -> None:
        """Check the runs this handle deferred before a write records them."""
        for run in self._deferred.values():
            self._check_run(run)

    def _commit(
        self,
        coll: _Collection,
        new: NewVersion,
        commit_id: str,
        aliases: list[str],
        tags: list[str],
        run_ids: list[str],
    ) -> tuple[str, bool]:
        """Every check passed: write the version (or find its digest), in place."""
        self._store_collection(coll)
        self._record_deferred()
        same = next((vid for vid in self._ids(coll) if self.state.versions[vid].record.digest == new.digest), None)
        if same is None:
            vid, stamp = uuid.uuid4().hex, now()
            record = VersionRecord(
                vid,
                coll.project,
                coll.name,
                coll.type,
                coll.next_index,
                new.digest,
                new.root,
                new.size,
                new.file_count,
                dict(new.metadata),
                new.description,
                new.parent_id,
                run_ids[0] if run_ids else None,
                stamp,
                stamp,
                ttl=new.ttl,
            )
            self.state.versions[vid] = _Version(record, commit_id)
            coll.next_index += 1
        else:
            vid = same
        coll.aliases["latest"] = vid  # the version committed is the latest, new or not
        for alias in aliases:
            coll.aliases[alias] = vid
        self.state.versions[vid].tags.update(tags)
        self._edge(run_ids, vid, "output")
        return vid, same is None

    def _edge(self, run_ids: list[str], vid: str, direction: Direction) -> None:
        for run_id in dict.fromkeys(run_ids):
            if (run_id, vid, direction) not in self.state.edges:
                self.state.edges.append((run_id, vid, direction))

    def _load(self, vid: str) -> VersionRecord:
        held = self.state.versions.get(vid)
        if held is None:
            raise ArtifactNotFoundError(f"no version with id {vid!r} in {self.url}")
        coll = self.state.collections[(held.record.project, held.record.collection)]
        aliases = sorted(a for a, target in coll.aliases.items() if target == vid)
        ttl = coll.ttl if held.record.ttl == INHERIT else held.record.ttl
        expires = None
        if ttl != NEVER:
            expires = (datetime.fromisoformat(held.record.created_at) + timedelta(seconds=int(ttl))).isoformat(
                timespec="microseconds"
            )
        return replace(
            held.record,
            metadata=dict(held.record.metadata),
            aliases=aliases,
            tags=sorted(held.tags),
            expires_at=expires,
        )

    def version(self, project: str, name: str, version: str = "latest") -> VersionRecord:
        with self.state.lock:
            coll = self._existing(project, name)
            ids = self._ids(coll)
            number = re.fullmatch(r"v(\d+)", version)
            if number:
                vid = next((i for i in ids if self.state.versions[i].record.index == int(number.group(1))), None)
            else:
                vid = coll.aliases.get(version)
            if vid is None:
                have = [f"v{self.state.versions[i].record.index}" for i in ids] + sorted(coll.aliases)
                raise ArtifactNotFoundError(f"no version {version!r} of {project}/{name}", have)
            return self._load(vid)

    def _existing(self, project: str, name: str) -> _Collection:
        coll = self.state.collections.get((project, name))
        if coll is None:
            names = sorted(n for p, n in self.state.collections if p == project)
            raise ArtifactNotFoundError(f"no artifact {project}/{name}", names)
        return coll

    def version_by_id(self, vid: str) -> VersionRecord:
        with self.state.lock:
            return self._load(vid)

    def version_exists(self, vid: str) -> bool:
        with self.state.lock:
            return vid in self.state.versions

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
        order = check_version_order(order)
        after = check_after(after, order)
        check_page(limit, offset)
        with self.state.lock:
            held = [self._load(vid) for vid in self._ids(self._existing(project, name))]
            found = sorted(
                (r for r in held if set(tags or []) <= set(r.tags)),
                key=lambda r: version_key(r, order),
                reverse=bool(descending),
            )
            if after is not None:
                found = [
                    r for r in found if (version_key(r, order) < after if descending else version_key(r, order) > after)
                ]
            return found[offset:][:limit]

    def count_versions(self, project: str, name: str, *, tags: list[str] | None = None) -> int:
        return len(self.versions(project, name, tags=tags))

    def update_version(
        self,
        vid: str,
        *,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        ttl: TTL | None = None,
    ) -> VersionRecord:
        with self.state.lock:
            held = self.state.versions.get(vid)
            if held is None:
                raise ArtifactNotFoundError(f"version {vid} was deleted")
            self._record_deferred()
            coll = self.state.collections[(held.record.project, held.record.collection)]
            if aliases is not None:  # latest may be moved here, never removed
                coll.aliases = {a: t for a, t in coll.aliases.items() if t != vid or a == "latest"}
                coll.aliases.update({a: vid for a in aliases})
            if tags is not None:
                held.tags = set(tags)
            changes: dict[str, Any] = {"updated_at": now()}
            if description is not None:
                changes["description"] = description
            if metadata is not None:
                changes["metadata"] = dict(metadata)
            if ttl is not None:
                changes["ttl"] = ttl
            held.record = replace(held.record, **changes)
            return self._load(vid)

    def delete_version(self, vid: str, delete_aliases: bool = False) -> None:
        with self.state.lock:
            if vid not in self.state.versions:
                raise ArtifactNotFoundError(f"version {vid} does not exist")
            record = self._load(vid)
            self._check_unlinked({vid}, f"{record.project}/{record.collection}:{record.version}")
            held = [a for a in record.aliases if a != "latest"]
            if held and not delete_aliases:
                raise ValidationError(
                    f"{record.project}/{record.collection}:{record.version} has aliases {held}; "
                    "pass delete_aliases=True to delete it with them"
                )
            self._record_deferred()
            coll = self.state.collections[(record.project, record.collection)]
            coll.aliases = {a: t for a, t in coll.aliases.items() if t != vid}
            del self.state.versions[vid]
            self.state.edges = [e for e in self.state.edges if e[1] != vid]
            left = self._ids(coll)
            if left and "latest" in record.aliases:
                coll.aliases["latest"] = left[-1]

    def roots(self) -> set[str]:
        with self.state.lock:
            kept = {v.record.root for v in self.state.versions.values()}
            for pending in self.state.pending.values():
                if pending.state == OPEN:
                    kept |= {c.root for c in pending.contributions.values()}
            return kept

    # -- runs and lineage --------------------------------------------------------------

    def _check_run(self, run: RunRecord) -> None:
        for what, text in (("name", run.name), ("group", run.group), ("job type", run.job_type)):
            if text is not None and len(text) > RUN_TEXT_LIMIT:
                raise ValidationError(f"a run's {what} has at most {RUN_TEXT_LIMIT} characters, not {len(text)}")
        made = self.state.runs.get(run.id)
        if made is not None and made.created_at != run.created_at:
            raise ValidationError(f"a run with id {run.id!r} exists already in {self.url}; give another id")

    def _record_deferred(self) -> None:
        """Record the runs this handle deferred (checked already), as part of this write."""
        for run in self._deferred.values():
            if run.id not in self.state.runs:
                self.state.runs[run.id] = copy.deepcopy(run)
                self.state.projects.add(run.project)
        self._deferred = {}

    def create_run(self, run: RunRecord) -> None:
        with self.state.lock:
            self._check_run(run)
            self._check_deferred()
            self._deferred[run.id] = run
            self._record_deferred()

    def defer_run(self, run: RunRecord) -> None:
        self._deferred[run.id] = run

    def finish_run(self, run_id: str, state: str) -> None:
        with self.state.lock:
            stamp = now()
            if run_id in self._deferred:
                self._deferred[run_id] = replace(self._deferred[run_id], state=state, finished_at=stamp)
            self._check_deferred()
            self._record_deferred()
            if run_id in self.state.runs:
                self.state.runs[run_id] = replace(self.state.runs[run_id], state=state, finished_at=stamp)

    def run(self, run_id: str) -> RunRecord:
        with self.state.lock:
            found = self.state.runs.get(run_id)
            if found is None:
                raise ArtifactNotFoundError(f"no run {run_id!r} in {self.url}")
            return copy.deepcopy(found)

    def project_runs(
        self, project: str, *, descending: bool = False, limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        check_page(limit, offset)
        with self.state.lock:
            found = [self.run(r.id) for r in self.state.runs.values() if r.project == project]
            found.sort(key=lambda r: (r.created_at, r.id), reverse=descending)
            return found[offset : None if limit is None else offset + limit]

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
        given = {"name": name, "group": group, "job_type": job_type, "config": config, "summary": summary}
        given |= {"tags": tags, "notes": notes, "info": info, "state": state}
        check_run_update(given)
        changes = {k: copy.deepcopy(v) for k, v in given.items() if v is not None}
        if state is not None:
            changes["finished_at"] = None if state == "running" else now()
        with self.state.lock:
            self._check_deferred()
            if run_id not in self._deferred:
                self.run(run_id)  # not found: raises, and the write records nothing
            self._record_deferred()
            self.state.runs[run_id] = replace(self.state.runs[run_id], **changes)
            return self.run(run_id)

    def log_history(self, run_id: str, rows: list[HistoryRow]) -> None:
        for row in rows:
            if isinstance(row.step, bool) or not isinstance(row.step, int) or not 0 <= row.step < 2**63:
                raise ValidationError(f"a history step must be an integer from 0 to 2**63-1, not {row.step!r}")
            check_json(row.data, f"the history row at step {row.step}")
        with self.state.lock:
            self._check_deferred()
            self._record_deferred()
            self.run(run_id)
            held = self.state.history.setdefault(run_id, {})
            for row in rows:
                held[row.step] = copy.deepcopy(row)

    def history(self, run_id: str, start: int = 0, stop: int | None = None) -> list[HistoryRow]:
        with self.state.lock:
            self.run(run_id)
            held = self.state.history.get(run_id, {})
            steps = sorted(s for s in held if s >= start and (stop is None or s < stop))
            return [copy.deepcopy(held[s]) for s in steps]

    def use_version(self, run_id: str, vid: str) -> None:
        with self.state.lock:
            if vid not in self.state.versions:
                raise ArtifactNotFoundError(f"version {vid} is not in {self.url}: deleted, or another store's")
            self._check_deferred()
            self._record_deferred()
            self._edge([run_id], vid, "input")

    def runs_of(self, vid: str, direction: Direction) -> list[RunRecord]:
        with self.state.lock:
            ids = [r for r, v, d in self.state.edges if v == vid and d == direction and r in self.state.runs]
            return sorted((self.run(r) for r in ids), key=lambda r: r.created_at)

    def versions_of(self, run_id: str, direction: Direction) -> list[VersionRecord]:
        with self.state.lock:
            return [self._load(v) for r, v, d in self.state.edges if r == run_id and d == direction]

    # -- pending versions and contributions --------------------------------------------

    def _record(self, pending: _Pending) -> PendingRecord:
        held = self.state.versions.get(pending.version_id or "")
        return PendingRecord(
            pending.id,
            pending.project,
            pending.collection,
            self.state.collections[(pending.project, pending.collection)].type,
            pending.distributed_id,
            pending.state,
            pending.version_id,
            held.record.index if held else None,
            pending.created_at,
            pending.closed_at,
            len(pending.contributions),
            sum(c.file_count for c in pending.contributions.values()),
        )

    def _find(self, project: str, name: str, distributed_id: str) -> _Pending | None:
        return next(
            (
                p
                for p in self.state.pending.values()
                if (p.project, p.collection, p.distributed_id) == (project, name, distributed_id)
            ),
            None,
        )

    def _open(self, project: str, name: str, distributed_id: str) -> _Pending:
        """The open pending version (a new one, not stored yet, if absent); spent: an error."""
        found = self._find(project, name, distributed_id)
        if found is None:
            return _Pending(uuid.uuid4().hex, project, name, distributed_id, now())
        if found.state != OPEN:
            record = self._record(found)
            what = f"was committed as v{record.version_index}" if found.state == COMMITTED else "was aborted"
            raise PendingVersionError(f"{record.where} {what}; its distributed id is spent: use a new distributed_id")
        return found

    def check_pending(self, project: str, name: str, type_: str, distributed_id: str) -> None:
        with self.state.lock:
            if (project, name) in self.state.collections:
                self._collection(project, name, type_)
                self._open(project, name, distributed_id)

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
        with self.state.lock:
            self._check_fence(gc_epoch)
            coll = self._collection(project, name, type_)
            pending = self._open(project, name, distributed_id)
            self._check_deferred()
            self._store_collection(coll)
            self._record_deferred()
            self.state.pending[pending.id] = pending
            if lease is not None:  # referenced from now on: the lease protects nothing more
                self.state.leases.pop(lease, None)
            found = pending.contributions.get(new.key)
            if found is not None:
                return Added(pending.id, found, False)
            record = self._contribution(new)
            pending.contributions[new.key] = record
            return Added(pending.id, record, True)

    @staticmethod
    def _contribution(new: NewContribution) -> ContributionRecord:
        return ContributionRecord(
            uuid.uuid4().hex, new.key, new.run_id, new.root, new.file_count, new.size, dict(new.info), now()
        )

    def finish(self, request: FinishCommit) -> Finished:
        with self.state.lock:
            done = next((p for p in self.state.pending.values() if p.commit_id == request.commit_id), None)
            if done is not None and done.version_id is not None:  # an earlier attempt's answer was lost
                made = self.state.versions.get(done.version_id)
                created = made is not None and made.commit_id == request.commit_id
                return Finished(self._load(done.version_id), created, self._record(done))
            self._check_fence(request.gc_epoch)
            coll = self._collection(request.project, request.collection, request.type)
            pending = self._open(request.project, request.collection, request.distributed_id)
            others = set(pending.contributions) - {request.own.key}
            if others != set(request.merged) - {request.own.key}:
                raise MovedOnError(
                    f"{pending_where(request.project, request.collection, request.distributed_id)} holds "
                    "contributions the version was not merged from; merge again"
                )
            self._check_deferred()
            self.state.pending[pending.id] = pending
            if request.own.key not in pending.contributions:
                pending.contributions[request.own.key] = self._contribution(request.own)
            vid, created = self._commit(
                coll, request.version, request.commit_id, request.aliases, request.tags, request.run_ids
            )
            pending.state, pending.version_id, pending.closed_at = COMMITTED, vid, now()
            pending.commit_id = request.commit_id
            return Finished(self._load(vid), created, self._record(pending))

    def abort_pending(self, pending_id: str) -> PendingRecord:
        with self.state.lock:
            pending = self._pending(pending_id)
            if pending.state == COMMITTED:
                record = self._record(pending)
                raise PendingVersionError(
                    f"{record.where} was committed as v{record.version_index} and cannot be aborted; "
                    "delete that version instead"
                )
            if pending.state == OPEN:
                self._record_deferred()
                pending.state, pending.closed_at = ABORTED, now()
            return self._record(pending)

    def _pending(self, pending_id: str) -> _Pending:
        found = self.state.pending.get(pending_id)
        if found is None:
            raise ArtifactNotFoundError(f"no pending version {pending_id!r}")
        return found

    def pending(self, pending_id: str) -> PendingRecord:
        with self.state.lock:
            return self._record(self._pending(pending_id))

    def find_pending(self, project: str, name: str, distributed_id: str) -> PendingRecord | None:
        with self.state.lock:
            found = self._find(project, name, distributed_id)
            return self._record(found) if found else None

    def pending_versions(self, project: str | None = None, state: PendingState | None = OPEN) -> list[PendingRecord]:
        if state is not None and state not in PENDING_STATES:
            raise ValidationError(f"unknown pending state {state!r}: choose one of {', '.join(PENDING_STATES)}")
        with self.state.lock:
            return [
                self._record(p)
                for p in self.state.pending.values()  # dicts keep creation order
                if project in (None, p.project) and state in (None, p.state)
            ]

    def resolve_pending(self, ref: str, project: str | None = None) -> PendingRecord:
        with self.state.lock:
            if ref in self.state.pending:
                return self._record(self.state.pending[ref])
            found = [p for p in self.pending_versions(project, state=None) if p.distributed_id == ref]
            candidates = [p for p in found if p.state == OPEN] or found
            if not candidates:
                raise ArtifactNotFoundError(f"no pending version with id or distributed id {ref!r}")
            if len(candidates) > 1:
                names = ", ".join(f"{p.project}/{p.collection} ({p.id})" for p in candidates)
                raise ValidationError(f"distributed id {ref!r} names several pending versions: {names}; give the id")
            return candidates[0]

    def contributions(self, pending_id: str) -> list[ContributionRecord]:
        with self.state.lock:
            held = self._pending(pending_id).contributions
            return [held[key] for key in sorted(held)]

    # -- the gc fence and leases -------------------------------------------------------

    def clock(self) -> float:
        return time.time()

    def _sweeping(self) -> bool:
        return self.state.sweep_until is not None and self.state.sweep_until > self.clock()

    def _epoch(self) -> Epoch:
        return Epoch(self.state.epoch, self._sweeping())

    def gc_epoch(self) -> Epoch:
        with self.state.lock:
            return self._epoch()

    def sweep(self) -> Sweep | None:
        with self.state.lock:
            if not self._sweeping():
                return None
            assert self.state.sweep_until is not None
            return Sweep(self.state.sweep_holder or "an unknown process", self.state.sweep_until - self.clock())

    def begin_sweep(self, seen: Epoch, lease: float, holder: str = "") -> int:
        with self.state.lock:
            if not seen.admits(self._epoch()):
                raise StoreError(f"another gc ran in {self.url} meanwhile; run gc again")
            self.state.epoch += 1
            self.state.sweep_until, self.state.sweep_holder = self.clock() + lease, holder
            return self.state.epoch

    def renew_sweep(self, epoch: int, lease: float) -> None:
        with self.state.lock:
            if epoch != self.state.epoch or not self._sweeping():
                raise StoreError(f"gc lost its lease on {self.url}; run gc again")
            self.state.sweep_until = self.clock() + lease

    def end_sweep(self, epoch: int) -> None:
        with self.state.lock:
            if epoch == self.state.epoch:
                self.state.sweep_until = None

    def open_lease(self, holder: str, lease: float) -> str:
        with self.state.lock:
            lid, started = uuid.uuid4().hex, self.clock()
            self.state.leases[lid] = Lease(lid, holder, started, started + lease)
            return lid

    def renew_lease(self, lid: str, lease: float) -> bool:
        with self.state.lock:
            held = self.state.leases.get(lid)
            if held is None or held.expires <= self.clock():
                return False
            self.state.leases[lid] = replace(held, expires=self.clock() + lease)
            return True

    def drop_lease(self, lid: str) -> None:
        with self.state.lock:
            self.state.leases.pop(lid, None)

    def live_leases(self) -> tuple[float, list[Lease]]:
        with self.state.lock:
            clock = self.clock()
            self.state.leases = {lid: held for lid, held in self.state.leases.items() if held.expires > clock}
            return clock, sorted(self.state.leases.values(), key=lambda held: held.started)


class MemoryBackdoor:
    """Behind a :class:`MemoryState`'s back."""

    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def expire_lease(self, lease_id: str) -> None:
        with self.state.lock:
            self.state.leases[lease_id] = replace(self.state.leases[lease_id], expires=0.0)

    def expire_sweep(self) -> None:
        with self.state.lock:
            self.state.sweep_until = 0.0

    def run_ids(self) -> list[str]:
        with self.state.lock:
            return sorted(self.state.runs)


@pytest.fixture
def memory_state() -> MemoryState:
    """One empty in-memory catalog."""
    return MemoryState()


class TestMemoryCatalog(CatalogTests):
    @pytest.fixture
    def open_catalog(self, memory_state: MemoryState) -> Callable[[], MemoryCatalog]:
        return lambda: MemoryCatalog(memory_state)

    @pytest.fixture
    def catalog_backdoor(self, memory_state: MemoryState) -> Iterator[MemoryBackdoor]:
        yield MemoryBackdoor(memory_state)
