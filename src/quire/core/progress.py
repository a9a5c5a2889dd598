"""Progress of long operations, for whoever shows it (the command line's bars).

The core reports bytes as it finishes with them: a file ingested (hashed, and stored when
the policy is mutable), a blob fetched into the cache, a file placed by a download. One
listener per process, set around an operation; with none set, a report costs a lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

_listener: Callable[[int], None] | None = None


@contextmanager
def reporting(listener: Callable[[int], None]) -> Iterator[None]:
    """Call ``listener(bytes)`` as work is done in the block (from any thread)."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def advance(nbytes: int) -> None:
    """Report ``nbytes`` more bytes done."""
    listener = _listener
    if listener is not None and nbytes:
        listener(nbytes)
