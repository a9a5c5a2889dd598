"""A version's bytes out to a browser: one file, or the whole version as a tar, streamed
a chunk at a time and checked against their digests on the way."""

from __future__ import annotations

import mimetypes
import tarfile
from collections.abc import Iterable, Iterator

from ...core.manifest import Entry
from ...errors import CorruptBlobError
from ...hashing import new_hasher
from ...store.blobs import SMALL, BlobStore, blob_key

CHUNK = 1 << 20  #: bytes read from the object store at a time

#: the media types a browser is handed inline (shown in a preview); everything else is
#: sent as an attachment of type octet-stream, so no file of a version (HTML, SVG) is
#: ever rendered as a page of this server
_INLINE = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}


def media_type(path: str) -> str:
    """The type ``path`` is sent with: a picture, sound or video type, else octet-stream."""
    dot = path.rfind(".")
    return _INLINE.get(path[dot:].lower(), "application/octet-stream") if dot >= 0 else "application/octet-stream"


def guess(path: str) -> str | None:
    """A type for display only (never sent): what the name says the file holds."""
    return mimetypes.guess_type(path)[0]


def stream(blobs: BlobStore, digest: str, size: int) -> Iterator[bytes]:
    """The bytes of one blob, a chunk at a time. A small blob is read whole (verified);
    a large one is hashed as it goes, and if it does not hash to ``digest`` at the end
    the stream fails, so the download is cut short (its length is sent first) and never
    looks complete; the blob is set aside for repair."""
    if size < SMALL:
        yield blobs.read(digest)
        return
    key, hasher, at = blob_key(digest), new_hasher(), 0
    while at < size:
        chunk = blobs.objects.get_range(key, at, min(CHUNK, size - at))
        if not chunk:
            break
        hasher.update(chunk)
        at += len(chunk)
        yield chunk
    if at != size or hasher.hexdigest() != digest:
        blobs.quarantine(digest)
        raise CorruptBlobError(digest, f"{blobs.url}/{key}", None)


def tar_stream(blobs: BlobStore, entries: Iterable[Entry], top: str, mtime: int = 0) -> Iterator[bytes]:
    """The entries as a tar archive under the folder ``top``, streamed: each member's
    header, its bytes (through :func:`stream`), padding; references are left out (their
    bytes are elsewhere) and listed in ``top/REFERENCES.txt`` at the end. Every member
    has the time ``mtime`` (the version's: a manifest records no file times)."""
    refs: list[str] = []
    for entry in entries:
        if entry.ref is not None:
            refs.append(f"{entry.path}\t{entry.ref}\n")
            continue
        size = entry.size or 0
        yield _header(f"{top}/{entry.path}", size, mtime)
        yield from stream(blobs, entry.digest, size)
        yield _padding(size)
    if refs:
        data = "".join(refs).encode()
        yield _header(f"{top}/REFERENCES.txt", len(data), mtime)
        yield data
        yield _padding(len(data))
    yield b"\0" * (2 * tarfile.BLOCKSIZE)  # the end of the archive


def _header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, mtime
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)
