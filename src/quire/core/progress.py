"""Progress of long operations, for whoever shows it (the command line's bars).

The core reports bytes as it finishes with them: a file ingested (hashed; when the policy
is mutable and the file is stored, half as it is read and hashed and half once it is
durable in the store, so that a bar never waits at its end for an fsync or an upload;
see :meth:`~quire.store.blobs.BlobWriter.add_file`), a blob checked by ``verify``, a
blob fetched into the cache, a file placed by a download. One
listener per process, set around an operation; with none set, a report costs a lookup.
The listener is held by a :class:`Progress` object, the process's :data:`PROGRESS`;
:func:`reporting` and :func:`advance` are its methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[int], None]


class Progress:
    """Where the progress of this process's long operations goes: one listener at a time."""

    def __init__(self) -> None:
        self._listener: Listener | None = None

    @contextmanager
    def reporting(self, listener: Listener) -> Iterator[None]:
        """Call ``listener(bytes)`` as work is done in the block (from any thread); the
        listener set before comes back when the block ends."""
        previous, self._listener = self._listener, listener
        try:
            yield
        finally:
            self._listener = previous

    def advance(self, nbytes: int) -> None:
        """Report ``nbytes`` more bytes done."""
        listener = self._listener  # read once: another thread may end the block meanwhile
        if listener is not None and nbytes:
            listener(nbytes)


#: the progress of this process
PROGRESS = Progress()
reporting = PROGRESS.reporting
advance = PROGRESS.advance
