"""The gc fence: how a gc and the writers it could harm take turns, in the catalog.

A gc bumps an epoch and holds a lease (``gc_state.sweep_until``) while it deletes; a
writer notes the epoch before it checks which blobs the store holds, and its commit
transaction fails with ``ConcurrentGCError`` when the epoch moved or a sweep runs (the
writer then checks again and retries). See :mod:`quire.core.gc` for the whole protocol.

The lease is kept and read on the database's clock, never a client's: hosts sharing a
team catalog disagree about the time, and one whose clock ran ahead would otherwise take
a running sweep for an ended one and commit beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from ..errors import ConcurrentGCError, StoreError
from . import schema as t


class GCFence:
    """The catalog's part of the gc protocol (mixed into :class:`SQLCatalog`)."""

    # provided by SQLCatalog: its url, and its read and write transactions
    url: str
    _read: Callable[[], AbstractContextManager[sa.Connection]]
    _write: Callable[..., Any]

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

    def begin_sweep(self, seen_epoch: int, lease: float) -> int:
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
                .values(epoch=row.epoch + 1, sweep_until=_now(conn) + lease)
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


def _now(conn: sa.Connection) -> sa.ColumnElement[float]:
    """The database's time, in seconds since the Unix epoch (an SQL expression)."""
    if conn.dialect.name == "postgresql":
        return sa.func.extract("epoch", sa.func.clock_timestamp())
    return (sa.func.julianday("now") - 2440587.5) * 86400.0  # SQLite: days since 4714 BC


def _state(conn: sa.Connection) -> sa.Select[Any]:
    """The fence's row, with ``sweeping``: whether a sweep's lease runs, by the database's clock."""
    sweeping = sa.func.coalesce(t.gc_state.c.sweep_until > _now(conn), False)
    return sa.select(t.gc_state, sweeping.label("sweeping")).where(t.gc_state.c.id == 1)
