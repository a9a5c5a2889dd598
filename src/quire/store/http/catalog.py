"""``HTTPCatalog``: the :class:`~quire.store.catalog.Catalog` protocol over a Quire server.

Each method is one ``POST /api/v1/catalog/<verb>`` (spelled out, so the type checker holds
it to the protocol); the server runs the verb on the catalog behind it and answers with
the very records, or the very error, a local catalog would give. Runs deferred with
:meth:`HTTPCatalog.defer_run` travel with the next request that changes the catalog (the
server records them first; recording one twice is a no-op, so a retried request is safe).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import cached_property
from typing import Any, Literal

from ..catalog import (
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
    PendingRecord,
    PendingState,
    ProjectRecord,
    RunRecord,
    Sweep,
    VersionCommit,
    VersionOrder,
    VersionRecord,
    now,
)
from ..verbs import VERBS
from .session import Session


class HTTPCatalog:
    """The catalog of the Quire server ``session`` talks to."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.url = session.url
        self._deferred: dict[str, RunRecord] = {}
        self._lock = threading.Lock()

    @cached_property
    def catalog_id(self) -> str:
        """The id of the catalog behind the server (its blob store records it)."""
        return str(self.session.info()["catalog_id"])

    def close(self) -> None:
        """Release the connections (they reopen on next use)."""
        self.session.close()

    def handle(self) -> HTTPCatalog:
        """Another handle on the same server and session, with runs deferred of its own."""
        return HTTPCatalog(self.session)

    def _call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        runs: list[RunRecord] = []
        if VERBS[verb].records_runs:
            with self._lock:
                runs = list(self._deferred.values())
        result = self.session.call(verb, list(args), kwargs, runs)
        if runs:
            with self._lock:  # recorded: they need not go again
                for run in runs:
                    if self._deferred.get(run.id) is run:
                        del self._deferred[run.id]
        return result

    def defer_run(self, run: RunRecord) -> None:
        """Record ``run`` with this handle's next change to the catalog (or its ``finish_run``)."""
        # Checked by the server when it records it (a bad one fails that request).
        with self._lock:
            self._deferred[run.id] = run

    def finish_run(self, run_id: str, state: str) -> None:
        with self._lock:
            run = self._deferred.get(run_id)
            if run is not None:  # never written: recorded finished, with this request
                self._deferred[run_id] = replace(run, state=state, finished_at=now())
        self._call("finish_run", run_id, state)

    def projects(self) -> list[str]:
        return self._call("projects")

    def project(self, name: str) -> ProjectRecord:
        return self._call("project", name)

    def create_project(self, name: str, info: dict[str, Any] | None = None) -> ProjectRecord:
        return self._call("create_project", name, info)

    def update_project(self, name: str, info: dict[str, Any]) -> ProjectRecord:
        return self._call("update_project", name, info)

    def delete_project(self, name: str) -> None:
        self._call("delete_project", name)

    def collections(
        self,
        project: str,
        type_: str | None = None,
        *,
        after: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CollectionRecord]:
        return self._call("collections", project, type_, after=after, limit=limit, offset=offset)

    def count_collections(self, project: str, type_: str | None = None) -> int:
        return self._call("count_collections", project, type_)

    def collection_type(self, project: str, name: str) -> str | None:
        return self._call("collection_type", project, name)

    def collection(self, project: str, name: str) -> CollectionRecord:
        return self._call("collection", project, name)

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
        return self._call(
            "update_collection",
            project,
            name,
            new_name=new_name,
            description=description,
            tags=tags,
            type_=type_,
            ttl=ttl,
        )

    def delete_collection(self, project: str, name: str) -> None:
        self._call("delete_collection", project, name)

    def commit(self, request: VersionCommit) -> Committed:
        return self._call("commit", request)

    def version(self, project: str, name: str, version: str = "latest") -> VersionRecord:
        return self._call("version", project, name, version)

    def version_by_id(self, vid: str) -> VersionRecord:
        return self._call("version_by_id", vid)

    def version_exists(self, vid: str) -> bool:
        return self._call("version_exists", vid)

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
        return self._call(
            "versions",
            project,
            name,
            order=order,
            descending=descending,
            tags=tags,
            after=after,
            limit=limit,
            offset=offset,
        )

    def count_versions(self, project: str, name: str, *, tags: list[str] | None = None) -> int:
        return self._call("count_versions", project, name, tags=tags)

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
        return self._call(
            "update_version", vid, aliases=aliases, tags=tags, description=description, metadata=metadata, ttl=ttl
        )

    def delete_version(self, vid: str, delete_aliases: bool = False) -> None:
        self._call("delete_version", vid, delete_aliases)

    def link(self, source_id: str, project: str, collection: str, aliases: list[str]) -> Committed:
        return self._call("link", source_id, project, collection, aliases)

    def links_to(self, source_id: str) -> list[VersionRecord]:
        return self._call("links_to", source_id)

    def expired_versions(self, at: str) -> list[VersionRecord]:
        return self._call("expired_versions", at)

    def roots(self) -> set[str]:
        return self._call("roots")

    def create_run(self, run: RunRecord) -> None:
        self._call("create_run", run)

    def run(self, run_id: str) -> RunRecord:
        return self._call("run", run_id)

    def project_runs(
        self, project: str, *, descending: bool = False, limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        return self._call("project_runs", project, descending=descending, limit=limit, offset=offset)

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
        return self._call(
            "update_run",
            run_id,
            name=name,
            group=group,
            job_type=job_type,
            config=config,
            summary=summary,
            tags=tags,
            notes=notes,
            info=info,
            state=state,
        )

    def log_history(self, run_id: str, rows: list[HistoryRow]) -> None:
        self._call("log_history", run_id, rows)

    def history(self, run_id: str, start: int = 0, stop: int | None = None) -> list[HistoryRow]:
        return self._call("history", run_id, start, stop)

    def use_version(self, run_id: str, vid: str) -> None:
        self._call("use_version", run_id, vid)

    def runs_of(self, vid: str, direction: Direction) -> list[RunRecord]:
        return self._call("runs_of", vid, direction)

    def versions_of(self, run_id: str, direction: Direction) -> list[VersionRecord]:
        return self._call("versions_of", run_id, direction)

    def check_pending(self, project: str, name: str, type_: str, distributed_id: str) -> None:
        self._call("check_pending", project, name, type_, distributed_id)

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
        return self._call("add_contribution", project, name, type_, distributed_id, new, gc_epoch, lease)

    def finish(self, request: FinishCommit) -> Finished:
        return self._call("finish", request)

    def abort_pending(self, pending_id: str) -> PendingRecord:
        return self._call("abort_pending", pending_id)

    def pending(self, pending_id: str) -> PendingRecord:
        return self._call("pending", pending_id)

    def find_pending(self, project: str, name: str, distributed_id: str) -> PendingRecord | None:
        return self._call("find_pending", project, name, distributed_id)

    def pending_versions(self, project: str | None = None, state: PendingState | None = "open") -> list[PendingRecord]:
        return self._call("pending_versions", project, state)

    def resolve_pending(self, ref: str, project: str | None = None) -> PendingRecord:
        return self._call("resolve_pending", ref, project)

    def contributions(self, pending_id: str) -> list[ContributionRecord]:
        return self._call("contributions", pending_id)

    def gc_epoch(self) -> Epoch:
        return self._call("gc_epoch")

    def sweep(self) -> Sweep | None:
        return self._call("sweep")

    def begin_sweep(self, seen: Epoch, lease: float, holder: str = "") -> int:
        return self._call("begin_sweep", seen, lease, holder)

    def renew_sweep(self, epoch: int, lease: float) -> None:
        self._call("renew_sweep", epoch, lease)

    def end_sweep(self, epoch: int) -> None:
        self._call("end_sweep", epoch)

    def open_lease(self, holder: str, lease: float) -> str:
        return self._call("open_lease", holder, lease)

    def renew_lease(self, lid: str, lease: float) -> bool:
        return self._call("renew_lease", lid, lease)

    def drop_lease(self, lid: str) -> None:
        self._call("drop_lease", lid)

    def live_leases(self) -> tuple[float, list[Lease]]:
        return self._call("live_leases")

    def clock(self) -> float:
        return self._call("clock")
