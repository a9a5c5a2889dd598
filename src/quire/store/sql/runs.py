"""Runs and lineage edges, in SQL (functions of a connection, inside the caller's transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...errors import ValidationError
from ..catalog import RUN_TEXT_LIMIT, HistoryRow, RunRecord, now
from . import schema as t

if TYPE_CHECKING:
    from .txn import Transactions


def project_id(conn: sa.Connection, project: str, create: bool) -> int | None:
    """The id of ``project`` (made when absent and ``create``)."""
    pid = conn.scalar(sa.select(t.projects.c.id).where(t.projects.c.name == project))
    if pid is None and create:
        made = conn.execute(t.projects.insert().values(name=project, created_at=now())).inserted_primary_key
        assert made is not None
        pid = int(made[0])
    return pid


def check_run(run: RunRecord) -> None:
    """Refuse, before any write, a run whose text the catalog cannot hold: the same
    clear error on every dialect (SQLite would keep it, PostgreSQL refuse it)."""
    for what, value in (("name", run.name), ("group", run.group), ("job type", run.job_type)):
        if value is not None and len(value) > RUN_TEXT_LIMIT:
            raise ValidationError(
                f"the run's {what} is {len(value)} characters long; the catalog holds at most {RUN_TEXT_LIMIT}"
            )


def record(conn: sa.Connection, runs: list[RunRecord], url: str) -> None:
    """Insert new runs (one recorded by an attempt whose answer was lost is skipped)."""
    for run in runs:
        # Checked, not left to the key: a write is retried on integrity errors (a
        # concurrent writer's row), which for a taken id only delays the same failure.
        made = conn.scalar(sa.select(t.runs.c.created_at).where(t.runs.c.id == run.id))
        if made == run.created_at:  # this very run, recorded by a write whose answer was lost
            continue
        if made is not None:
            raise ValidationError(
                f"a run with id {run.id!r} exists already in {url}; give another id, or none for a fresh one"
            )
        conn.execute(
            t.runs.insert().values(
                id=run.id,
                project_id=project_id(conn, run.project, create=True),
                name=run.name,
                group_name=run.group,
                job_type=run.job_type,
                config=run.config,
                state=run.state,
                created_at=run.created_at,
                finished_at=run.finished_at,
                tags=run.tags,
                notes=run.notes,
                summary=run.summary,
                info=run.info,
            )
        )


def load(conn: sa.Connection, ids: sa.Select[tuple[str]]) -> list[RunRecord]:
    """The runs whose ids ``ids`` selects, oldest first."""
    query = (
        sa.select(t.runs, t.projects.c.name.label("pname"))
        .join(t.projects, t.projects.c.id == t.runs.c.project_id)
        .where(t.runs.c.id.in_(ids))
        .order_by(t.runs.c.created_at)
    )
    return [
        RunRecord(
            r.id,
            r.pname,
            r.name,
            r.group_name,
            r.job_type,
            r.config,
            r.state,
            r.created_at,
            r.finished_at,
            tags=r.tags or [],
            notes=r.notes,
            summary=r.summary or {},
            info=r.info or {},
        )
        for r in conn.execute(query)
    ]


def edges(conn: sa.Connection, run_ids: list[str], vid: str, direction: str) -> None:
    """Lineage edges from each run to ``vid`` (those not there yet), in one insert."""
    have = set(
        conn.scalars(
            sa.select(t.lineage.c.run_id).where(t.lineage.c.version_id == vid, t.lineage.c.direction == direction)
        )
    )
    new = [{"run_id": r, "version_id": vid, "direction": direction} for r in dict.fromkeys(run_ids) if r not in have]
    if new:
        conn.execute(t.lineage.insert(), new)


class RunVerbs:
    """The catalog's run verbs beyond creating and finishing one: listing, updating and
    the history (mixed into :class:`~quire.store.sql.SQLCatalog`, which provides ``tx``)."""

    tx: Transactions
    url: str

    def project_runs(self, project: str) -> list[RunRecord]:
        """Every run of a project, oldest first."""
        raise NotImplementedError

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
        """Replace the fields given (None: unchanged); ``state="running"`` reopens it."""
        raise NotImplementedError

    def log_history(self, run_id: str, rows: list[HistoryRow]) -> None:
        """Record history rows (a row at a step already recorded replaces it)."""
        raise NotImplementedError

    def history(self, run_id: str, start: int = 0, stop: int | None = None) -> list[HistoryRow]:
        """The run's history rows with ``start <= step < stop``, by step."""
        raise NotImplementedError
