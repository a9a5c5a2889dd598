"""The gc fence and writers' leases, the catalog's side (see :mod:`quire.core.fence` for
the writer's and :mod:`quire.core.gc` for the whole protocol).

A gc bumps an epoch and holds a lease (``gc_state.sweep_until``) while it deletes; a
writer notes the epoch (an :class:`~quire.store.catalog.Epoch`) before it checks which
blobs the store holds, and its commit transaction fails with ``ConcurrentGCError`` when
the epoch moved or a sweep runs (the writer then checks again and retries).

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
from typing import Any

import sqlalchemy as sa

from ...errors import ConcurrentGCError, StoreError
from ..catalog import Epoch, Lease, Sweep
from . import schema as t
from .txn import Transactions


def check(conn: sa.Connection, noted: Epoch, url: str) -> None:
    """In a commit's transaction: fail if a gc began since the writer noted ``noted``."""
    # FOR SHARE: a gc beginning its sweep updates this row, so it waits for this
    # commit to end (and then sees the new version), or this commit waits for it.
    # SQLite has no row locks (a write transaction excludes every other writer): there
    # it is gc_epoch()'s very query, compiled once for both.
    query = _state(conn) if conn.dialect.name == "sqlite" else _state(conn).with_for_update(read=True)
    row = conn.execute(query).one()
    if not noted.admits(Epoch(row.epoch, bool(row.sweeping))):
        raise ConcurrentGCError(
            f"a garbage collection ran in {url} while this version was prepared; "
            "nothing was committed. Retry (its blobs are checked again)"
        )


def end_lease(conn: sa.Connection, lid: str) -> None:
    """End the writer lease ``lid`` in this transaction: its own, or the one that
    references what was staged under it (a contribution)."""
    conn.execute(t.leases.delete().where(t.leases.c.id == lid))


class FenceVerbs:
    """The catalog's part of the gc protocol and the writers' leases (mixed into
    :class:`~quire.store.sql.SQLCatalog`, which provides ``tx``)."""

    tx: Transactions

    def gc_epoch(self) -> Epoch:
        """How many gc sweeps have begun, and whether one is deleting now."""
        row = self.tx.read(lambda conn: conn.execute(_state(conn)).one())
        return Epoch(row.epoch, bool(row.sweeping))

    def sweep(self) -> Sweep | None:
        """The sweep running now (who holds it, how long its lease still runs), or None."""

        def read(conn: sa.Connection) -> Any:
            left = t.gc_state.c.sweep_until - _now(conn)
            return conn.execute(sa.select(t.gc_state.c.holder, left.label("left")).where(t.gc_state.c.id == 1)).one()

        row = self.tx.read(read)
        if row.left is None or row.left <= 0:
            return None
        return Sweep(row.holder or "an unknown process", float(row.left))

    def begin_sweep(self, seen: Epoch, lease: float, holder: str = "") -> int:
        """Start a gc's deleting phase: bump the epoch, hold the lease ``lease`` seconds.

        Returns the sweep's epoch number (what ``renew_sweep`` and ``end_sweep`` take).
        ``seen`` is the epoch the gc read before it looked at the store; if another
        gc swept since (or sweeps now), ``StoreError`` says to run gc again.
        """

        def begin(conn: sa.Connection) -> int:
            row = conn.execute(_state(conn).with_for_update()).one()
            if not seen.admits(Epoch(row.epoch, bool(row.sweeping))):
                raise StoreError(f"another gc ran in {self.tx.url} meanwhile; run gc again")
            conn.execute(
                t.gc_state.update()
                .where(t.gc_state.c.id == 1)
                .values(epoch=row.epoch + 1, sweep_until=_now(conn) + lease, holder=holder[:256] or None)
            )
            return int(row.epoch) + 1

        return self.tx.write(begin)

    def renew_sweep(self, epoch: int, lease: float) -> None:
        """Extend a running sweep's lease; ``StoreError`` if it was lost (gc must stop)."""

        def renew(conn: sa.Connection) -> None:
            done = conn.execute(
                t.gc_state.update()
                .where(t.gc_state.c.id == 1, t.gc_state.c.epoch == epoch, t.gc_state.c.sweep_until > _now(conn))
                .values(sweep_until=_now(conn) + lease)
            )
            if done.rowcount != 1:
                raise StoreError(f"gc lost its lease on {self.tx.url} (it took too long); run gc again")

        self.tx.write(renew)

    def end_sweep(self, epoch: int) -> None:
        """End the sweep ``epoch`` (writers stop waiting)."""
        self.tx.write(
            lambda conn: conn.execute(
                t.gc_state.update().where(t.gc_state.c.id == 1, t.gc_state.c.epoch == epoch).values(sweep_until=None)
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

        self.tx.write(open_, record_runs=False, flush=False)
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

        return self.tx.write(renew, record_runs=False, flush=False)

    def drop_lease(self, lid: str) -> None:
        """End a lease (its holder is done)."""

        def drop(conn: sa.Connection) -> None:
            _no_flush(conn)
            end_lease(conn, lid)

        self.tx.write(drop, record_runs=False, flush=False)

    def live_leases(self) -> tuple[float, list[Lease]]:
        """The catalog's time now and the writers' leases that have not run out, oldest
        first; leases that ran out are deleted on the way (their holders died)."""

        def read(conn: sa.Connection) -> tuple[float, list[Lease]]:
            now = _clock(conn)
            conn.execute(t.leases.delete().where(t.leases.c.expires <= now))
            rows = conn.execute(sa.select(t.leases).order_by(t.leases.c.started)).all()
            return now, [Lease(r.id, r.holder, r.started, r.expires) for r in rows]

        return self.tx.write(read, record_runs=False)

    def clock(self) -> float:
        """The catalog's time now, in seconds since the Unix epoch."""
        return self.tx.read(_clock)

    @property
    def catalog_id(self) -> str:
        """The random id this catalog was made with (what its blob store records)."""
        cached = self.__dict__.get("_catalog_id")
        if cached is None:
            cached = self.__dict__["_catalog_id"] = self.tx.read(
                lambda conn: conn.scalar(sa.select(t.identity.c.catalog_id))
            )
        return str(cached)


def _no_flush(conn: sa.Connection) -> None:
    """Let this transaction's commit return before PostgreSQL flushed it to disk: a lease
    need not survive a crash of the server or machine (its holder's work does not
    either), and a writer registers one before each log. (SQLite takes the same setting
    only between transactions: the lease verbs ask ``write`` for ``flush=False``.)"""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def _now(conn: sa.Connection) -> sa.ColumnElement[float]:
    """The database's time, in seconds since the Unix epoch (an SQL expression)."""
    if conn.dialect.name == "postgresql":
        return sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Float)
    return (sa.func.julianday("now") - 2440587.5) * 86400.0  # SQLite: days since 4714 BC


def _clock(conn: sa.Connection) -> float:
    """The database's time now, in seconds since the Unix epoch."""
    now = conn.scalar(sa.select(_now(conn)))
    assert now is not None
    return float(now)


def _state(conn: sa.Connection) -> sa.Select[Any]:
    """The fence's row, with ``sweeping``: whether a sweep's lease runs, by the database's clock."""
    sweeping = sa.func.coalesce(t.gc_state.c.sweep_until > _now(conn), False)
    return sa.select(t.gc_state, sweeping.label("sweeping")).where(t.gc_state.c.id == 1)
