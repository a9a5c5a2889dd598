"""The gc fence, the writer's side: note the epoch before checking what the store holds.

A writer dedups against blobs already stored, and gc may delete such a blob between the
writer's check and its commit. So the writer notes the catalog's gc epoch
(:func:`writer_epoch`) *before* it checks which blobs the store holds, and commits under
it: the catalog refuses the commit (``ConcurrentGCError``) if a sweep began since, and
``quire.core.commit`` waits for the sweep, checks again and retries.

What a draft noted is a :class:`Note`: :class:`Noted` (an epoch, in one store) or the
null note :data:`NOTHING_NOTED` of a draft that checked nothing yet, which notes the
epoch when asked. No ``None`` or ``-1`` stands for "nothing noted" or "sweeping".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from ..errors import ConcurrentGCError
from ..store import Store
from ..store.catalog import Epoch

log = logging.getLogger("quire")
WAIT = 600.0  #: seconds a writer waits for a (live) sweep to end before it gives up


def writer_epoch(store: Store, wait: bool = False, timeout: float = WAIT) -> Epoch:
    """The gc epoch to commit under; note it *before* checking which blobs the store holds.

    A commit under an epoch noted while a sweep runs always retries. With ``wait``, wait
    for a running sweep to end (or its lease to run out: its gc died) first, saying so
    in a warning. When a gc has run since this process last looked, its view of the
    packs is dropped, so what it checks next is what the store holds now.
    """
    deadline = time.monotonic() + timeout
    epoch = store.catalog.gc_epoch()
    waited_for = None
    while wait and epoch.sweeping:
        sweep = store.catalog.sweep()
        if sweep is not None and sweep.holder != waited_for:
            waited_for = sweep.holder
            log.warning(
                "waiting for %s, which sweeps %s: its lease runs out in %.1f s on the catalog's clock "
                "unless it renews it (a gc that died is noticed then)",
                sweep.holder,
                store.url,
                sweep.left,
            )
        if time.monotonic() > deadline:
            raise ConcurrentGCError(
                f"{waited_for or 'a gc'} kept sweeping {store.url} for {timeout:.0f} s; retry when it is done"
            )
        time.sleep(0.05)
        epoch = store.catalog.gc_epoch()
    if waited_for is not None:
        log.warning("%s is done with %s (or died); going on", waited_for, store.url)
    if store.blobs.gc_epoch != epoch:
        store.blobs.reload()
        store.blobs.gc_epoch = epoch
    return epoch


class Note(Protocol):
    """What a draft noted of the gc fence."""

    def epoch(self, store: Store) -> Epoch:
        """The epoch to commit into ``store`` under."""
        ...


@dataclass(frozen=True)
class Noted:
    """The epoch a draft noted in ``store`` before it checked what that store holds (or,
    a patch, before it read its base's manifest)."""

    store: Store
    noted: Epoch

    def epoch(self, store: Store) -> Epoch:
        """The noted epoch in its own store; in another, one noted now (nothing was checked there)."""
        return self.noted if store is self.store else writer_epoch(store)


class _NothingNoted:
    """The null note: a draft that checked nothing yet notes the epoch when it commits."""

    def epoch(self, store: Store) -> Epoch:
        return writer_epoch(store)

    def __repr__(self) -> str:
        return "NOTHING_NOTED"


NOTHING_NOTED: Note = _NothingNoted()
