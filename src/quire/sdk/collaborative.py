"""Collaborative mode: many writers, one version (``upsert_artifact`` / ``finish_artifact``).

Writers (threads, processes, Ray tasks, other hosts) call ``run.upsert_artifact(a)``:
the draft's bytes are uploaded and made durable first, then its manifest becomes one
**contribution** to the pending version that (collection, distributed id) names. One
finisher calls ``run.finish_artifact(a)``: its own entries join, every contribution is
merged (one path, two digests: a ``ConflictError``, nothing committed) and the result is
committed as the collection's next version; the distributed id is then spent.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core import commit as core
from ..core.commit import Staged
from ..core.draft import Draft
from ..core.names import check_aliases
from ..errors import PendingTimeoutError, ValidationError
from ..store import Store
from ..store.catalog import OPEN, ContributionRecord, PendingRecord, VersionRecord, pending_where

if TYPE_CHECKING:
    from .run import Run

#: the environment variables that say which task of a distributed job a writer is
#: (torchrun / torch.distributed, Slurm, Ray), recorded with its contribution
WRITER_ENV = {
    "rank": "RANK",
    "local_rank": "LOCAL_RANK",
    "world_size": "WORLD_SIZE",
    "torchelastic_run_id": "TORCHELASTIC_RUN_ID",
    "slurm_job_id": "SLURM_JOB_ID",
    "slurm_procid": "SLURM_PROCID",
    "slurm_array_task_id": "SLURM_ARRAY_TASK_ID",
}


def upsert(run: Run, draft: Draft, staging: Staged, distributed_id: str | None, aliases: list[str]) -> str:
    """Add the draft's entries to the pending version as one contribution (see
    :meth:`Run.upsert_artifact`); returns where they went (the draft is final then)."""
    did = _target(run, draft, distributed_id, "upsert_artifact")
    aliases = check_aliases(aliases)
    core.add_contribution(run.store, draft, staging, run.project, did, run.id, _info(draft, aliases, "writer"))
    return pending_where(run.project, draft.collection, did)


def finish(
    run: Run,
    draft: Draft,
    staging: Staged,
    distributed_id: str | None,
    aliases: list[str],
    expected_writers: int | None,
    timeout: float | None,
) -> VersionRecord:
    """Add the draft's entries, merge every contribution and commit (see
    :meth:`Run.finish_artifact`); returns the version."""
    did = _target(run, draft, distributed_id, "finish_artifact")
    aliases = check_aliases(aliases)
    if expected_writers is not None and (
        not isinstance(expected_writers, int) or isinstance(expected_writers, bool) or expected_writers < 0
    ):
        raise ValidationError(f"expected_writers must be a whole number ≥ 0, not {expected_writers!r}")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
        raise ValidationError(f"timeout must be a number of seconds ≥ 0, not {timeout!r}")
    store, name = run.store, draft.collection
    if expected_writers:
        wait_for_writers(store, run.project, name, did, expected_writers, timeout)
    done = core.finish(store, draft, staging, run.project, did, run.id, _info(draft, [], "finisher"), aliases)
    return done.version


def wait_for_writers(
    store: Store, project: str, name: str, distributed_id: str, expected: int, timeout: float | None
) -> PendingRecord | None:
    """Poll (with backoff) until the pending version holds ``expected`` contributions,
    or is no longer open; ``timeout`` None waits without limit.

    Raises:
        PendingTimeoutError: ``timeout`` seconds passed first; says how many came.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.02
    while True:
        record = store.catalog.find_pending(project, name, distributed_id)
        arrived = record.contribution_count if record else 0
        if arrived >= expected or (record is not None and record.state != OPEN):
            return record
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise PendingTimeoutError(
                f"only {arrived} of the {expected} expected contributions reached pending "
                f"version {distributed_id!r} of {project}/{name} within {timeout} s; nothing "
                "was committed. Wait longer (a larger timeout), finish with "
                f"expected_writers={arrived}, or see who wrote with "
                f"`quire artifact pending show {shlex.quote(distributed_id)}`",
                arrived,
                expected,
            )
        time.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 1.5, 1.0)


def writer_info() -> dict[str, Any]:
    """Who this writer is: task ids from the environment (torchrun, Slurm, Ray), host, pid."""
    info: dict[str, Any] = {key: os.environ[var] for key, var in WRITER_ENV.items() if os.environ.get(var)}
    info.update(_ray_ids())
    info["host"] = os.environ.get("HOSTNAME") or socket.gethostname()
    info["pid"] = os.getpid()
    return info


def _ray_ids() -> dict[str, str]:
    # Only when the writer already uses Ray: importing it here would cost seconds.
    ray = sys.modules.get("ray")
    if ray is None or not getattr(ray, "is_initialized", lambda: False)():
        return {}
    ctx = ray.get_runtime_context()
    ids = {"ray_job_id": ctx.get_job_id(), "ray_node_id": ctx.get_node_id()}
    if ctx.worker.mode == ray.WORKER_MODE:  # the driver has no task (and Ray logs a warning)
        ids["ray_task_id"] = ctx.get_task_id()
        ids["ray_actor_id"] = ctx.get_actor_id()
    return {k: v for k, v in ids.items() if v}


def _target(run: Run, draft: Draft, distributed_id: str | None, verb: str) -> str:
    """Check everything about the request before anything is written (the draft itself
    is checked by the caller); returns the id."""
    run._check_active()
    if draft.incremental:
        raise ValidationError(
            f"{verb}: {draft.collection!r} is incremental (patch mode); collaborative "
            "writers each give part of a new version: make the Artifact without incremental=True"
        )
    did = distributed_id if distributed_id is not None else run.group
    if did is None:
        raise ValidationError(
            f"{verb} needs a distributed id shared by every writer and the finisher: pass "
            "distributed_id=... or start the run with quire.init(group=...)"
        )
    if not isinstance(did, str) or not did.strip() or len(did) > 256 or not did.isprintable():
        raise ValidationError(f"invalid distributed id {did!r}: use 1 to 256 printable characters")
    run.store.catalog.check_pending(run.project, draft.collection, draft.type, did)
    return did


def _info(draft: Draft, aliases: Iterable[str], role: str) -> dict[str, Any]:
    """What a contribution records beside its entries: who wrote it, its aliases, its
    metadata and its role (``writer`` or ``finisher``)."""
    return {"role": role, "writer": writer_info(), "aliases": list(aliases), "metadata": draft.metadata}


class PendingVersion:
    """A pending version, as read back: ``Api().pending_versions()``, ``Api().pending_version(ref)``.

    Attributes:
        id: its own id (what ``quire artifact pending abort`` takes).
        project, name, type: the collection it will be a version of.
        distributed_id: the id its writers share.
        state: ``open``, ``committed`` or ``aborted``.
        version: ``vN`` once committed, else None.
        contribution_count, file_count: what arrived so far (files counted per contribution).
    """

    def __init__(self, record: PendingRecord, store: Store) -> None:
        self._store = store
        self._set(record)

    def _set(self, record: PendingRecord) -> None:
        self._record = record
        self.id, self.project, self.name = record.id, record.project, record.collection
        self.type = record.type
        self.distributed_id, self.state = record.distributed_id, record.state
        self.version = None if record.version_index is None else f"v{record.version_index}"
        self.created_at, self.closed_at = record.created_at, record.closed_at
        self.contribution_count, self.file_count = record.contribution_count, record.file_count

    def __repr__(self) -> str:
        return f"<PendingVersion {self.project}/{self.name} {self.distributed_id!r} ({self.state})>"

    def contributions(self) -> list[Contribution]:
        """Every contribution, one per writer upsert (and the finisher's once committed)."""
        return [Contribution(r) for r in self._store.catalog.contributions(self.id)]

    def abort(self) -> None:
        """Give up on this pending version: nothing of it will be committed, its id is
        spent and its bytes become collectable by ``gc``. Raises ``PendingVersionError``
        if it was committed."""
        self._set(self._store.catalog.abort_pending(self.id))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--json`` prints)."""
        keys = (
            "id",
            "project",
            "name",
            "type",
            "distributed_id",
            "state",
            "version",
            "created_at",
            "closed_at",
            "contribution_count",
            "file_count",
        )
        return {k: getattr(self, k) for k in keys}


class Contribution:
    """One writer's part of a pending version.

    Attributes:
        writer: who wrote it, e.g. ``run abc123 (rank 3, host n07, pid 4242)``.
        run_id: the writer's run.
        role: ``writer`` (an upsert) or ``finisher``.
        details: the writer's environment ids (rank, Slurm, Ray, torchrun), host and pid.
        file_count, size: its entries and their bytes.
        root: the root digest of its manifest.
    """

    def __init__(self, record: ContributionRecord) -> None:
        self.writer, self.run_id = record.writer, record.run_id
        self.role = record.info.get("role", "writer")
        self.details: dict[str, Any] = dict(record.info.get("writer") or {})
        self.aliases: list[str] = list(record.info.get("aliases") or [])
        self.file_count, self.size = record.file_count, record.size
        self.root, self.created_at = record.root, record.created_at

    def __repr__(self) -> str:
        return f"<Contribution {self.writer}: {self.file_count} files>"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--json`` prints)."""
        keys = ("writer", "run_id", "role", "details", "aliases", "file_count", "size", "root", "created_at")
        return {k: getattr(self, k) for k in keys}
