"""Hashing and chunked reading: how Quire names bytes (BLAKE3, hex) and reads files.

At the bottom of the package (it imports nothing of Quire's), so every layer hashes the
same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import blake3

CHUNK = 8 << 20  #: bytes read (and hashed) at a time


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The digest of ``data``."""
    return blake3.blake3(data).hexdigest()


def new_hasher() -> blake3.blake3:
    """A streaming hasher; large chunks are hashed on every core."""
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


def hash_file(path: Path | str) -> tuple[str, int]:
    """The digest and size of the file at ``path``, read once."""
    h, size = new_hasher(), 0
    for chunk in read_chunks(path):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def read_chunks(path: Path | str) -> Iterator[memoryview]:
    """The bytes of a file in chunks of up to :data:`CHUNK`, read into one buffer that
    each chunk reuses (valid until the next is read): a fresh 8 MiB object per chunk
    made the kernel fault in and zero 30,000 new pages per GiB read, not 2,000."""
    with open(path, "rb", buffering=0) as f:
        # No bigger than the file: a buffer is zeroed when made, and small files are many.
        buf = bytearray(min(CHUNK, os.fstat(f.fileno()).st_size + 1))
        view = memoryview(buf)
        while n := f.readinto(buf):
            yield view[:n]
