"""Bounded reads of one stored file's bytes, for previews.

A preview shows the start of a file, or the few row groups of a Parquet file that one
page of a table needs; it must never load a whole 10 GiB file to do so. Small blobs
(those in packs) are read whole and verified, as every other read of the store is. A
part of a large blob cannot be verified against its digest (the digest covers all of
its bytes), so what these functions return of one is only shown to a reader, never
stored or trusted for anything else.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from ...errors import ObjectNotFoundError
from ...store.blobs import SMALL, BlobStore, blob_key


def head(blobs: BlobStore, digest: str, size: int, limit: int) -> bytes:
    """At most ``limit`` bytes from the start of the blob ``digest`` of ``size`` bytes.

    A blob no bigger than ``limit`` is read whole and verified. Of a bigger one only the
    first ``limit`` bytes are read: a prefix cannot be verified against the digest, so
    it is only shown, never stored.
    """
    if size <= limit:
        return blobs.read(digest)
    return _range(blobs, digest, size, 0, limit)


def open_blob(blobs: BlobStore, digest: str, size: int) -> BinaryIO:
    """A seekable, read-only file of the blob ``digest`` (``size`` bytes).

    A small blob (in a pack, at most a MiB) is read whole and verified. A large one is
    read by range as the file is read, so a Parquet reader fetches its footer and the
    row groups it needs, not the whole file; those ranges are not verified (see the
    module's docstring) and serve a preview only.
    """
    if size < SMALL:
        return io.BytesIO(blobs.read(digest))
    # a small buffer: the Parquet reader asks for whole column chunks itself, and a big
    # one would turn each small read (a footer, a short column chunk) into a big range
    return io.BufferedReader(_RangeFile(blobs, digest, size), buffer_size=8 << 10)


def _range(blobs: BlobStore, digest: str, size: int, offset: int, length: int) -> bytes:
    """``length`` bytes of the blob (``size`` bytes) from ``offset`` (fewer at its end), unverified."""
    if size >= SMALL:
        # a blob this big is never packed: no pack index to look at (which would list
        # the store's packs again on every read, to look for a newer pack)
        return blobs.objects.get_range(blob_key(digest), offset, length)
    for attempt in range(2):
        slot = blobs.slots([digest])[digest]
        try:
            if slot is None:
                return blobs.objects.get_range(blob_key(digest), offset, length)
            length = max(0, min(length, slot.length - offset))
            return blobs.objects.get_range(slot.pack, slot.offset + offset, length)
        except ObjectNotFoundError:
            if slot is None or attempt:
                raise
            # gc rewrote the pack since its index was read: the new one holds the blob
            blobs.reload()
    raise AssertionError("unreachable")


class _RangeFile(io.RawIOBase):
    """The bytes of one large blob as a raw file: every read is a range read."""

    def __init__(self, blobs: BlobStore, digest: str, size: int) -> None:
        super().__init__()
        self._blobs, self._digest, self._size = blobs, digest, size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = _range(self._blobs, self._digest, self._size, self._pos, want)
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        self._pos += n
        return n
