"""Runs and lineage edges, in SQL (functions of a connection, inside the caller's transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...errors import ArtifactNotFoundError, ValidationError
from ..catalog import RUN_TEXT_LIMIT, HistoryRow, RunRecord, check_json, check_page, check_run_update, now
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
                f"a run with id {run.id!r} exists already in {url}; give another id, none for a fresh "
                "one, or resume it (init(id=..., resume='allow'))"
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


def _order(descending: bool) -> tuple[Any, ...]:
    if descending:
        return (t.runs.c.created_at.desc(), t.runs.c.id.desc())
    return (t.runs.c.created_at, t.runs.c.id)


def load(conn: sa.Connection, ids: sa.Select[tuple[str]], descending: bool = False) -> list[RunRecord]:
    """The runs whose ids ``ids`` selects, oldest first (``descending``: newest first; ties by id)."""
    query = (
        sa.select(t.runs, t.projects.c.name.label("pname"))
        .join(t.projects, t.projects.c.id == t.runs.c.project_id)
        .where(t.runs.c.id.in_(ids))
        .order_by(*_order(descending))
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
    the history (mixed into :class:`~quire.store.sql.SQLCatalog`, which provides ``tx``).

    ``update_run`` and ``log_history`` are writes: a deferred run (``defer_run``) is
    recorded by them first, in the same transaction."""

    tx: Transactions
    url: str

    def project_runs(
        self, project: str, *, descending: bool = False, limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        """The runs of a project, oldest first (none for an unknown project); a page of
        them is one query of the page's rows, whatever the number of runs."""
        check_page(limit, offset)
        order = _order(descending)
        ids = (
            sa.select(t.runs.c.id)
            .join(t.projects, t.projects.c.id == t.runs.c.project_id)
            .where(t.projects.c.name == project)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        )
        return self.tx.read(lambda conn: load(conn, ids, descending))

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
        given: dict[str, Any] = {"name": name, "group": group, "job_type": job_type, "config": config}
        given["summary"] = summary
        given |= {"tags": tags, "notes": notes, "info": info, "state": state}
        check_run_update(given)
        columns = {("group_name" if k == "group" else k): v for k, v in given.items() if v is not None}
        if state is not None:  # reopened: not finished any more; ended: now
            columns["finished_at"] = None if state == "running" else now()

        def update(conn: sa.Connection) -> RunRecord:
            exists(conn, run_id, self.url)
            if columns:
                conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**columns))
            return load(conn, sa.select(t.runs.c.id).where(t.runs.c.id == run_id))[0]

        return self.tx.write(update)

    def log_history(self, run_id: str, rows: list[HistoryRow]) -> None:
        """Record history rows (a row at a step already recorded replaces it)."""
        for row in rows:
            check_row(row)
        last = {row.step: row for row in rows}  # the same step twice: the later one holds

        def log(conn: sa.Connection) -> None:
            exists(conn, run_id, self.url)
            if not last:
                return
            history = t.run_history
            conn.execute(history.delete().where(history.c.run_id == run_id, history.c.step.in_(list(last))))
            conn.execute(
                history.insert(),
                [{"run_id": run_id, "step": r.step, "data": r.data, "created_at": r.timestamp} for r in last.values()],
            )

        self.tx.write(log)

    def history(self, run_id: str, start: int = 0, stop: int | None = None) -> list[HistoryRow]:
        """The run's history rows with ``start <= step < stop``, by step."""
        history = t.run_history
        query = sa.select(history).where(history.c.run_id == run_id, history.c.step >= start)
        if stop is not None:
            query = query.where(history.c.step < stop)

        def read(conn: sa.Connection) -> list[HistoryRow]:
            exists(conn, run_id, self.url)
            return [HistoryRow(r.step, r.data, r.created_at) for r in conn.execute(query.order_by(history.c.step))]

        return self.tx.read(read)


def exists(conn: sa.Connection, run_id: str, url: str) -> None:
    """``ArtifactNotFoundError`` unless the run is recorded."""
    if conn.scalar(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)) is None:
        raise ArtifactNotFoundError(f"no run {run_id!r} in {url}")


def check_row(row: HistoryRow) -> None:
    """Refuse a history row the catalog cannot hold (see ``check_run_update``)."""
    if isinstance(row.step, bool) or not isinstance(row.step, int) or not 0 <= row.step < 2**63:
        raise ValidationError(f"a history step must be an integer from 0 to 2**63-1, not {row.step!r}")
    check_json(row.data, f"the history row at step {row.step}")
