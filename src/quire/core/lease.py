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
stays that of the first hold meanwhile, which can only protect more. When the
transaction that references what was staged (a contribution, a commit) is that of the
last holds, it ends the lease itself (:func:`ending`), sparing the second write: the
blobs go from protected by the lease to referenced in one step, so a gc sees one or the
other.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
        self.key, self.pid = id(store), os.getpid()
        self.id = store.catalog.open_lease(holder_name(), length)
        self.renewed = time.monotonic()
        #: a transaction that ends it is under way (see :func:`ending`); it ended (or
        #: is being dropped): its holds have nothing left to drop
        self.ending = self.ended = False

    def renew(self) -> None:
        sent = time.monotonic()
        renewed = self.store.catalog.renew_lease(self.id, self.length)
        if not renewed and (self.ending or self.ended):
            return  # ended by its holders' transaction (the next beat looks again if that failed)
        if not renewed:
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
_leases: dict[int, _Lease] = {}  # id(store) → its lease, which new holds join
#: leases that new holds no longer join but whose holds are still out (see ending())
_parted: set[_Lease] = set()
_released: list[_Lease] = []  # to drop
_wake = threading.Event()
_keeper: threading.Thread | None = None
#: held while leases are renewed or dropped: whoever closes the stores' connections
#: waits for that to end, so that no connection is opened again behind its back
_busy = threading.Lock()


def _keep() -> None:
    while True:
        with _lock:
            beat = min((lease.length / 4 for lease in _live()), default=WRITER_LEASE / 4)
        _wake.wait(beat)
        _wake.clear()
        with _busy:
            _settle()
            with _lock:
                live = _live()
            for lease in live:
                if time.monotonic() - lease.renewed >= lease.length / 4:
                    try:
                        lease.renew()
                    # Whatever went wrong (the catalog did not answer, or is gone), the lease
                    # runs out unless a later beat renews it; this thread must not die of it.
                    except Exception as exc:  # noqa: BLE001
                        log.debug("could not renew a writer lease on %s: %s", lease.store.url, exc)


def _live() -> list[_Lease]:
    """Every lease to renew (call with ``_lock`` held)."""
    return [*_leases.values(), *(lease for lease in _parted if not lease.ended)]


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
        with _lock:
            lease = _leases.get(id(store))
            if lease is None:
                # Registered before this holder writes anything, under the lock: a second
                # holder must not write before the lease exists either.
                lease = _leases[id(store)] = _Lease(store, writer_lease())
                if _keeper is None:
                    _keeper = threading.Thread(target=_keep, name="quire-writer-leases", daemon=True)
                    _keeper.start()
                else:
                    _wake.set()  # its beat may have to be shorter now
            lease.holds += 1
        self._lease = lease
        # Garbage-collected unreleased (a draft given up): the keeper drops it. A finalizer
        # may run anywhere, even in a thread holding _lock, so it does no catalog work.
        self._finalizer = weakref.finalize(self, _let_go, lease, os.getpid(), False)

    @property
    def held(self) -> bool:
        """Whether this share was not given back yet."""
        return self._finalizer.alive

    def release(self) -> None:
        """Give the share back (the lease is dropped with its last hold); idempotent."""
        if self._finalizer.detach() is not None:
            _let_go(self._lease, os.getpid(), True)


def hold(store: Store) -> Hold:
    """Hold this process's writer lease on ``store`` (see :class:`Hold`)."""
    return Hold(store)


#: the hold of the commit under way in this thread (see :func:`committing`)
_committing: contextvars.ContextVar[Hold | None] = contextvars.ContextVar("quire_commit_hold", default=None)


@contextmanager
def committing(store: Store) -> Iterator[Hold]:
    """Hold the writer lease on ``store`` for a commit's staging (the manifest, what the
    store lacks); :func:`ending` inside it counts this hold as the commit's own."""
    held = hold(store)
    token = _committing.set(held)
    try:
        yield held
    finally:
        _committing.reset(token)
        held.release()


@contextmanager
def ending(store: Store, *holds: Hold | None) -> Iterator[str | None]:
    """Around the transaction that references what ``holds`` (and the hold of the
    :func:`committing` block it runs in) protect: yields the id of this process's writer
    lease on ``store`` when those are all its holds, for that transaction to end it
    (``drop_lease`` in the same transaction), else None (other drafts still stage under
    it). When the block returns, the holds are given back, with no catalog write for a
    lease it ended; when it raises, they and the lease stay as they were (and renewed).

    Ending the lease in the transaction that adds the references is as safe as dropping
    it after: a gc reads the leases before the references, so it sees either the lease
    or the references (and the gc fence refuses a commit once a sweep began).
    """
    mine = {id(h): h for h in (*holds, _committing.get()) if h is not None and h.held}
    with _lock:
        leases_of = {h._lease for h in mine.values()}
        lease = leases_of.pop() if len(leases_of) == 1 else None
        if (
            lease is None
            or lease.store is not store
            or lease.pid != os.getpid()
            or lease.ending
            or lease.ended
            or lease.holds != len(mine)
        ):
            lease = None
        else:
            lease.ending = True
            if _leases.get(lease.key) is lease:
                del _leases[lease.key]  # a hold taken meanwhile gets a lease of its own
            _parted.add(lease)
    try:
        yield lease.id if lease is not None else None
    except BaseException:
        if lease is not None:
            with _lock:
                lease.ending = False  # still held, still renewed; dropped by its last release
        raise
    if lease is not None:
        with _lock:
            lease.ending, lease.ended = False, True
            _parted.discard(lease)
    for h in mine.values():
        h.release()


def _let_go(lease: _Lease, pid: int, now: bool) -> None:
    if pid != os.getpid():
        return  # a forked child's copy of its parent's hold
    with _lock:
        lease.holds -= 1
        if lease.holds > 0:
            return
        if _leases.get(lease.key) is lease:
            del _leases[lease.key]
        _parted.discard(lease)
        if lease.ended:
            return  # its holders' transaction ended it: nothing to drop
        lease.ended = True
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
    _parted.clear()
    _released.clear()


@atexit.register
def _drop_all() -> None:
    """Drop every writer lease now (at exit, and when the stores' connections close:
    holds still out then protect nothing more)."""
    with _busy:
        with _lock:
            dropping = [lease for lease in _live() if not lease.ending]
            for lease in dropping:
                lease.ended = True
            _released.extend(dropping)
            _leases.clear()
            _parted.difference_update(dropping)
        _settle()


os.register_at_fork(after_in_child=_forget)
on_close(_drop_all)
