"""``Staging``: where a draft's new bytes go before its commit.

A draft writes the blobs of its mutable files into a store as it is filled (so that a
later edit of a file cannot change the version). While it does, it holds a writer lease,
which keeps gc off what it staged, and it notes the gc epoch its commit must be fenced
with. The files it makes itself (``new_file``, ``add``) are kept until the commit too.
This object holds that state, so the commit code takes it as an argument.
"""

from __future__ import annotations

import shutil
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..core.commit import Staged
from ..core.fence import NOTHING_NOTED, Note, Noted, writer_epoch
from ..core.lease import Hold, hold
from ..store import Store
from ..store.blobs import BlobWriter


class Staging(Staged):
    """The staging state of one draft: what the commit code needs of it
    (:class:`~quire.core.commit.Staged`: the store, the blob writer, the gc epoch noted
    before the draft first checked what the store holds; a patch's: before its base's
    manifest was read), and what only the draft's own life needs (its writer lease, the
    folders of the files it made)."""

    def __init__(self, store: Store | None = None, note: Note = NOTHING_NOTED) -> None:
        super().__init__(store, None, note)
        self._lease: Hold | None = None  # held while blobs are staged (see quire.core.lease)
        self._folders: list[str] = []

    def open(self, default: Callable[[], Store]) -> BlobWriter:
        """The writer to stage into (opened on first use, in ``store`` else ``default()``)."""
        if self.writer is None:
            self.store = self.store or default()
            self._lease = hold(self.store)  # before anything is staged: gc keeps what comes after
            if self.note is NOTHING_NOTED:  # a patch keeps the epoch noted before its base was read
                self.note = Noted(self.store, writer_epoch(self.store))
            self.writer = self.store.blobs.writer()
        return self.writer

    def holds(self) -> tuple[Hold, ...]:
        """This draft's hold on the writer lease, while it stages."""
        return (self._lease,) if self._lease is not None else ()

    @contextmanager
    def own_folder(self, folder: str) -> Iterator[None]:
        """Keep ``folder`` (files the draft made) until the commit, or remove it now if
        the block fails. The file is the bytes' only copy outside the store: should its
        staged blob be lost before the commit (a gc after this process's lease ran out),
        the commit stores it again from there."""
        try:
            yield
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._folders.append(folder)
        weakref.finalize(self, shutil.rmtree, folder, True)  # a draft dropped unlogged

    def done(self) -> None:
        """What was staged is referenced now: drop the writer, the lease and own files."""
        self.writer = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)
        self._folders.clear()
