"""Leases: how a live process tells gc what it must not delete, on the catalog's clock.

Two kinds, both short and renewed by a :class:`Heartbeat` thread while their holder
lives, so that one whose holder died (``kill -9``, a lost host) runs out in seconds:

- a gc's **sweep lease** (:meth:`~quire.store.catalog.Catalog.begin_sweep`) holds writers'
  commits off while it deletes; length :func:`gc_lease` (``QUIRE_GC_LEASE``);
- a **writer lease** (:func:`hold`) is held by a process while it stages blobs that no
  version or contribution references yet (an open draft, a log, an upsert, a finish); gc
  deletes nothing written after the start of the oldest live one. Length
  :func:`writer_lease` (``QUIRE_WRITER_LEASE``).

A process keeps one writer lease per store however many drafts it has open: the first
hold registers it (one catalog write), the last release drops it (another); the start
stays that of the first hold meanwhile, which can only protect more.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable

from ..errors import ValidationError
from ..store import Store, on_close

log = logging.getLogger("quire")

GC_LEASE = 30.0  #: seconds a gc's sweep lease runs unless renewed (``QUIRE_GC_LEASE``)
WRITER_LEASE = 60.0  #: seconds a writer's lease runs unless renewed (``QUIRE_WRITER_LEASE``)
#: a holder counts on its lease for this share of its length after it sent a renewal:
#: the rest is for the renewal's round trip and the catalog's clock running a little fast
TRUST = 0.75


def _seconds(env: str, default: float) -> float:
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValidationError(f"{env}={text!r} must be a number of seconds above 0, e.g. {env}={default:.0f}")
    return value


def gc_lease() -> float:
    """Seconds a gc's sweep lease runs before it must be renewed (``QUIRE_GC_LEASE``)."""
    return _seconds("QUIRE_GC_LEASE", GC_LEASE)


def writer_lease() -> float:
    """Seconds a writer's lease runs before it must be renewed (``QUIRE_WRITER_LEASE``)."""
    return _seconds("QUIRE_WRITER_LEASE", WRITER_LEASE)


def holder_name(what: str = "") -> str:
    """Who holds a lease, as shown to those who wait for it: ``quire gc (pid 42 on n07)``."""
    me = f"pid {os.getpid()} on {socket.gethostname()}"
    return f"{what} ({me})" if what else me


class Heartbeat:
    """Renews a lease every quarter of its length from a daemon thread, and says until
    when its holder may count on it (:meth:`valid`).

    ``renew()`` returns whether the lease was renewed; False or an error leaves it as it
    was (a lease that was lost, or a catalog that does not answer, then runs out).
    ``granted`` is the :func:`time.monotonic` time at which the lease was asked for.
    """

    def __init__(self, renew: Callable[[], bool], length: float, granted: float, name: str) -> None:
        self.length = length
        self._renew = renew
        self._until = granted + length * TRUST
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.length / 4):
            sent = time.monotonic()
            try:
                renewed = self._renew()
            # Whatever went wrong (the catalog did not answer, or is gone), the lease was
            # not renewed and runs out unless the next beat renews it; this thread must
            # not die of it.
            except Exception as exc:  # noqa: BLE001
                log.debug("could not renew a lease: %s", exc)
                continue
            if renewed:
                self._until = sent + self.length * TRUST

    def valid(self) -> bool:
        """Whether the lease surely still runs (on the catalog's clock)."""
        return time.monotonic() < self._until

    def stop(self) -> None:
        """Stop renewing (the holder is done)."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()


class _Lease:
    """This process's writer lease on one store, and how many holds keep it."""

    def __init__(self, store: Store, length: float) -> None:
        self.store, self.length, self.holds = store, length, 0
        self.id = store.catalog.open_lease(holder_name(), length)
        self.renewed = time.monotonic()

    def renew(self) -> None:
        sent = time.monotonic()
        if not self.store.catalog.renew_lease(self.id, self.length):
            # It ran out (a process suspended longer than its lease): gc may since have
            # deleted what was staged under it. Take a new one; what went is uploaded
            # again at the commit (from its file), which a gc that ran since makes check.
            self.id = self.store.catalog.open_lease(holder_name(), self.length)
            log.warning("the writer lease of this process on %s had run out; it holds a new one", self.store.url)
        self.renewed = sent

    def drop(self) -> None:
        try:
            self.store.catalog.drop_lease(self.id)
        # At exit, or after its catalog went away: the lease runs out by itself.
        except Exception as exc:  # noqa: BLE001
            log.debug("could not drop a writer lease on %s: %s", self.store.url, exc)


# One thread per process renews every writer lease (and drops those whose holds were
# garbage-collected). Registering and dropping one is done by the holder's own thread:
# it must be in the catalog before the first blob is written, and a drop from another
# thread would open a second connection beside the holder's (64 writer processes would
# need 128 PostgreSQL connections).
_lock = threading.RLock()  # a finalizer may release a hold while its thread holds it
_leases: dict[int, _Lease] = {}  # id(store) → its lease
_released: list[_Lease] = []  # to drop
_wake = threading.Event()
_keeper: threading.Thread | None = None
#: held while leases are renewed or dropped: whoever closes the stores' connections
#: waits for that to end, so that no connection is opened again behind its back
_busy = threading.Lock()


def _keep() -> None:
    while True:
        with _lock:
            beat = min((lease.length / 4 for lease in _leases.values()), default=WRITER_LEASE / 4)
        _wake.wait(beat)
        _wake.clear()
        with _busy:
            _settle()
            with _lock:
                live = list(_leases.values())
            for lease in live:
                if time.monotonic() - lease.renewed >= lease.length / 4:
                    try:
                        lease.renew()
                    # Whatever went wrong (the catalog did not answer, or is gone), the lease
                    # runs out unless a later beat renews it; this thread must not die of it.
                    except Exception as exc:  # noqa: BLE001
                        log.debug("could not renew a writer lease on %s: %s", lease.store.url, exc)


def settle() -> None:
    """Drop the leases released so far now (gc calls it first: this process's own
    released leases must not protect anything from it)."""
    with _busy:
        _settle()


def _settle() -> None:
    with _lock:
        released, _released[:] = list(_released), []
    for lease in released:
        lease.drop()


class Hold:
    """One holder's share of its process's writer lease on a store; :meth:`release` it
    when what it staged is referenced (committed) or given up. Released at the latest
    when it is garbage-collected or the process exits."""

    def __init__(self, store: Store) -> None:
        global _keeper
        self._key = id(store)
        with _lock:
            lease = _leases.get(self._key)
            if lease is None:
                # Registered before this holder writes anything, under the lock: a second
                # holder must not write before the lease exists either.
                lease = _leases[self._key] = _Lease(store, writer_lease())
                if _keeper is None:
                    _keeper = threading.Thread(target=_keep, name="quire-writer-leases", daemon=True)
                    _keeper.start()
                else:
                    _wake.set()  # its beat may have to be shorter now
            lease.holds += 1
        # Garbage-collected unreleased (a draft given up): the keeper drops it. A finalizer
        # may run anywhere, even in a thread holding _lock, so it does no catalog work.
        self._finalizer = weakref.finalize(self, _let_go, self._key, os.getpid(), False)

    def release(self) -> None:
        """Give the share back (the lease is dropped with its last hold); idempotent."""
        if self._finalizer.detach() is not None:
            _let_go(self._key, os.getpid(), True)


def hold(store: Store) -> Hold:
    """Hold this process's writer lease on ``store`` (see :class:`Hold`)."""
    return Hold(store)


def _let_go(key: int, pid: int, now: bool) -> None:
    if pid != os.getpid():
        return  # a forked child's copy of its parent's hold
    with _lock:
        lease = _leases.get(key)
        if lease is None:
            return
        lease.holds -= 1
        if lease.holds > 0:
            return
        del _leases[key]
        if not now:
            _released.append(lease)
            _wake.set()
            return
    with _busy:  # after a renewal of it in flight
        lease.drop()


def _forget() -> None:
    """In a forked child: the parent's leases are the parent's (and its thread renews them)."""
    global _lock, _keeper, _wake, _busy
    _lock, _keeper, _wake, _busy = threading.RLock(), None, threading.Event(), threading.Lock()
    _leases.clear()
    _released.clear()


@atexit.register
def _drop_all() -> None:
    """Drop every writer lease now (at exit, and when the stores' connections close:
    holds still out then protect nothing more)."""
    with _busy:
        with _lock:
            _released.extend(_leases.values())
            _leases.clear()
        _settle()


os.register_at_fork(after_in_child=_forget)
on_close(_drop_all)
