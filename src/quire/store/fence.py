"""The gc fence: how a gc and the writers it could harm take turns, in the catalog.

A gc bumps an epoch and holds a lease (``gc_state.sweep_until``) while it deletes; a
writer notes the epoch before it checks which blobs the store holds, and its commit
transaction fails with ``ConcurrentGCError`` when the epoch moved or a sweep runs (the
writer then checks again and retries). See :mod:`quire.core.gc` for the whole protocol.

Writers hold leases too (table ``leases``): a process staging blobs that no version or
contribution references yet keeps one, and gc deletes nothing written after the start of
the oldest live one. Both kinds are short (seconds) and renewed by their holder while it
lives, so a holder that died is noticed within a lease's length.

Leases are kept and read on the database's clock, never a client's: hosts sharing a
team catalog disagree about the time, and one whose clock ran ahead would otherwise take
a running sweep for an ended one and commit beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from ..errors import ConcurrentGCError, StoreError
from . import schema as t
from .catalog import Lease, Sweep


class GCFence:
    """The catalog's part of the gc protocol (mixed into :class:`SQLCatalog`)."""

    # provided by SQLCatalog: its url, and its read and write transactions
    url: str
    _read: Callable[[], AbstractContextManager[sa.Connection]]
    _write: Callable[..., Any]  # (fn, attempts=8, record_runs=True)

    def gc_epoch(self) -> int:
        """How many gc sweeps have begun; -1 while one is deleting."""
        with self._read() as conn:
            row = conn.execute(_state(conn)).one()
        return -1 if row.sweeping else row.epoch

    def _check_gc_fence(self, conn: sa.Connection, epoch: int | None) -> None:
        """In a commit's transaction: fail if a gc ran since the writer noted ``epoch``
        (None: the writer took no note, nothing to check)."""
        if epoch is None:
            return
        # FOR SHARE: a gc beginning its sweep updates this row, so it waits for this
        # commit to end (and then sees the new version), or this commit waits for it.
        row = conn.execute(_state(conn).with_for_update(read=True)).one()
        if row.epoch != epoch or row.sweeping:
            raise ConcurrentGCError(
                f"a garbage collection ran in {self.url} while this version was prepared; "
                "nothing was committed. Retry (its blobs are checked again)"
            )

    def sweep(self) -> Sweep | None:
        """The sweep running now (who holds it, how long its lease still runs), or None."""
        with self._read() as conn:
            left = t.gc_state.c.sweep_until - _now(conn)
            row = conn.execute(
                sa.select(t.gc_state.c.holder, left.label("left")).where(t.gc_state.c.id == 1)
            ).one()
        if row.left is None or row.left <= 0:
            return None
        return Sweep(row.holder or "an unknown process", float(row.left))

    def begin_sweep(self, seen_epoch: int, lease: float, holder: str = "") -> int:
        """Start a gc's deleting phase: bump the epoch, hold the lease ``lease`` seconds.

        ``seen_epoch`` is the epoch the gc read before it looked at the store; if another
        gc swept since (or sweeps now), ``StoreError`` says to run gc again.
        """

        def begin(conn: sa.Connection) -> int:
            row = conn.execute(_state(conn).with_for_update()).one()
            if row.epoch != seen_epoch or row.sweeping:
                raise StoreError(f"another gc ran in {self.url} meanwhile; run gc again")
            conn.execute(
                t.gc_state.update().where(t.gc_state.c.id == 1)
                .values(epoch=row.epoch + 1, sweep_until=_now(conn) + lease, holder=holder[:256] or None)
            )
            return row.epoch + 1

        return self._write(begin)

    def renew_sweep(self, epoch: int, lease: float) -> None:
        """Extend a running sweep's lease; ``StoreError`` if it was lost (gc must stop)."""

        def renew(conn: sa.Connection) -> None:
            done = conn.execute(
                t.gc_state.update()
                .where(t.gc_state.c.id == 1, t.gc_state.c.epoch == epoch, t.gc_state.c.sweep_until > _now(conn))
                .values(sweep_until=_now(conn) + lease)
            )
            if done.rowcount != 1:
                raise StoreError(f"gc lost its lease on {self.url} (it took too long); run gc again")

        self._write(renew)

    def end_sweep(self, epoch: int) -> None:
        """End the sweep ``epoch`` (writers stop waiting)."""
        self._write(
            lambda conn: conn.execute(
                t.gc_state.update().where(t.gc_state.c.id == 1, t.gc_state.c.epoch == epoch)
                .values(sweep_until=None)
            )
        )


    # -- writers' leases ---------------------------------------------------------------

    def open_lease(self, holder: str, lease: float) -> str:
        """Register a writer's lease of ``lease`` seconds from now; returns its id."""
        lid = uuid.uuid4().hex

        def open_(conn: sa.Connection) -> None:
            _no_flush(conn)
            now = _now(conn)
            conn.execute(t.leases.insert().values(id=lid, holder=holder[:256], started=now, expires=now + lease))

        self._write(open_, record_runs=False)
        return lid

    def renew_lease(self, lid: str, lease: float) -> bool:
        """Extend a live lease by ``lease`` seconds from now; False if it had run out."""

        def renew(conn: sa.Connection) -> bool:
            _no_flush(conn)
            now = _now(conn)
            done = conn.execute(
                t.leases.update().where(t.leases.c.id == lid, t.leases.c.expires > now).values(expires=now + lease)
            )
            return done.rowcount == 1

        return self._write(renew, record_runs=False)

    def drop_lease(self, lid: str) -> None:
        """End a lease (its holder is done)."""
        def drop(conn: sa.Connection) -> None:
            _no_flush(conn)
            conn.execute(t.leases.delete().where(t.leases.c.id == lid))

        self._write(drop, record_runs=False)

    def live_leases(self) -> tuple[float, list[Lease]]:
        """The catalog's time now and the writers' leases that have not run out, oldest
        first; leases that ran out are deleted on the way (their holders died)."""

        def read(conn: sa.Connection) -> tuple[float, list[Lease]]:
            now = float(conn.scalar(sa.select(_now(conn))))
            conn.execute(t.leases.delete().where(t.leases.c.expires <= now))
            rows = conn.execute(sa.select(t.leases).order_by(t.leases.c.started)).all()
            return now, [Lease(r.id, r.holder, r.started, r.expires) for r in rows]

        return self._write(read, record_runs=False)

    def clock(self) -> float:
        """The catalog's time now, in seconds since the Unix epoch."""
        with self._read() as conn:
            return float(conn.scalar(sa.select(_now(conn))))

    @property
    def catalog_id(self) -> str:
        """The random id this catalog was made with (what its blob store records)."""
        cached = self.__dict__.get("_catalog_id")
        if cached is None:
            with self._read() as conn:
                cached = self.__dict__["_catalog_id"] = conn.scalar(sa.select(t.identity.c.catalog_id))
        return str(cached)


def _no_flush(conn: sa.Connection) -> None:
    """Let this transaction's commit return before PostgreSQL flushed it to disk: a lease
    need not survive a crash of the server (its holder's work does not either), and a
    writer registers one before each log. SQLite has no per-transaction equivalent."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def _now(conn: sa.Connection) -> sa.ColumnElement[float]:
    """The database's time, in seconds since the Unix epoch (an SQL expression)."""
    if conn.dialect.name == "postgresql":
        return sa.func.extract("epoch", sa.func.clock_timestamp())
    return (sa.func.julianday("now") - 2440587.5) * 86400.0  # SQLite: days since 4714 BC


def _state(conn: sa.Connection) -> sa.Select[Any]:
    """The fence's row, with ``sweeping``: whether a sweep's lease runs, by the database's clock."""
    sweeping = sa.func.coalesce(t.gc_state.c.sweep_until > _now(conn), False)
    return sa.select(t.gc_state, sweeping.label("sweeping")).where(t.gc_state.c.id == 1)
