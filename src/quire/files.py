"""Writing a file so that readers see its old bytes or its new ones, never half of them.

The one recipe, for every file Quire writes in place of another (a cached blob, a
downloaded file, a fetched reference, a stored object): make a new temporary name beside
the target, write it, and rename it over the target. The temporary file is created with
``O_CREAT | O_EXCL | O_NOFOLLOW``, so a name planted in the folder beforehand (a symlink,
a hardlink to someone else's file) is never written through, and the rename replaces
what was at the target (a symlink itself, not what it points to).

Writes are *durable* or just *atomic*, and every caller says which. A durable write also
fsyncs the file before the rename and the folder after it, so the new name and its bytes
survive a power loss: the object store needs that, since a version committed afterwards
points at them. An atomic write leaves both to the kernel's writeback: a cache or a
download can lose a file to a power loss and fetch it again, and an fsync per file would
cost more than the write.

At the bottom of the package: imports nothing of Quire's but :mod:`quire.errors`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from .errors import StoreError

Pathish = str | Path

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: The end of every temporary name made here (see :func:`is_temp`).
TEMP_SUFFIX = ".quire-tmp"
#: errno of a hardlink that cannot be made here (another filesystem, a link-count limit,
#: a filesystem without hardlinks): a copy or a rename is the answer, not an error.
NO_LINK = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EACCES)
_TRIES = 100  # names drawn before giving up: each is 48 random bits, so only a broken folder fails


def temp_name(target: Pathish) -> str:
    """A fresh hidden name beside ``target``, for a file that will be renamed over it.

    Only a name: for a writer that creates the file itself (it must create it new, as
    ``open(…, "xb")`` does, or follow a planted symlink). Prefer :func:`new_temp`.
    """
    head, name = os.path.split(os.fspath(target))
    return os.path.join(head, f".{name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")


def is_temp(name: str) -> bool:
    """Whether the file name ``name`` is one of :func:`temp_name`'s (a write under way, or
    left behind by a killed process)."""
    return name.endswith(TEMP_SUFFIX)


def new_temp(target: Pathish, mode: int = 0o666) -> tuple[int, str]:
    """A new temporary file beside ``target``: its open descriptor (write-only) and path.

    Created with ``O_EXCL | O_NOFOLLOW``: never an existing file, never through a symlink.
    """
    for _ in range(_TRIES):
        tmp = temp_name(target)
        try:
            return os.open(tmp, _NEW, mode), tmp
        except FileExistsError:
            continue  # a name that was taken: draw another
    raise StoreError(f"cannot create a temporary file next to {target}: every name tried was taken")


def replace(tmp: Pathish, target: Pathish, *, durable: bool) -> None:
    """Rename the finished file ``tmp`` over ``target`` (a file or a symlink there is
    replaced, never written through); ``durable``: then fsync the folder, so the new name
    survives a power loss (the file itself must have been fsynced already)."""
    os.replace(tmp, target)
    if durable:
        fsync(os.path.dirname(os.fspath(target)) or ".")


def write_atomic(target: Pathish, fill: Callable[[int, str], None], *, durable: bool, mode: int = 0o666) -> None:
    """Write ``target`` through a new temporary file beside it, then rename it in.

    ``fill(fd, temp_path)`` writes the bytes (and may check them: if it raises, the
    temporary file is removed and ``target`` is unchanged). ``durable``: the file is
    fsynced before the rename and its folder after it.
    """
    fd, tmp = new_temp(target, mode)
    try:
        try:
            fill(fd, tmp)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        replace(tmp, target, durable=durable)
    except BaseException:
        discard(tmp)
        raise


def write_new(path: Pathish, data: bytes | bytearray | memoryview, mode: int = 0o666) -> None:
    """Create the file ``path`` (it must not exist: never a planted file or symlink) holding ``data``."""
    fd = os.open(path, _NEW, mode)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        discard(path)
        raise
    os.close(fd)


def link_atomic(src: Pathish, target: Pathish, *, durable: bool) -> bool:
    """Hardlink ``src`` at ``target``, replacing whatever is there (a link to a temporary
    name, renamed in: ``link`` alone refuses an existing name).

    False when no hardlink can be made here (:data:`NO_LINK`); ``FileNotFoundError``
    when ``src`` is gone.
    """
    for _ in range(_TRIES):
        tmp = temp_name(target)
        try:
            os.link(src, tmp)  # link never follows the new name
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno in NO_LINK:
                return False
            raise
        try:
            replace(tmp, target, durable=durable)
        except BaseException:
            discard(tmp)
            raise
        return True
    raise StoreError(f"cannot create a temporary file next to {target}: every name tried was taken")


def publish(tmp: Pathish, target: Pathish, *, durable: bool) -> bool:
    """Give the finished file ``tmp`` the name ``target`` unless a file has it already.

    For content-addressed files, where the file already there holds the same bytes
    ("exists" is success): a hardlink, which refuses to replace, so two writers of one
    name never both win. Returns False when the name was taken (``FileExistsError`` is
    left to the caller when what has it is no file). ``tmp`` is removed either way.
    Where no hardlink can be made the file is renamed in, which replaces a target made
    meanwhile: harmless for such files. ``durable``: ``tmp`` is fsynced first and the
    folder after.
    """
    try:
        if durable:
            fsync(tmp)
        try:
            os.link(tmp, target)
        except FileExistsError:
            if os.path.isfile(target):
                return False
            raise
        except OSError as exc:
            if exc.errno not in NO_LINK:
                raise
            os.replace(tmp, target)
        if durable:
            fsync(os.path.dirname(os.fspath(target)) or ".")
        return True
    finally:
        discard(tmp)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync(path: Pathish) -> None:
    """Flush the file or folder at ``path`` to disk. For a folder, that makes the names
    in it durable: a renamed or linked file is reachable after a power loss only then."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discard(path: Pathish) -> None:
    """Remove the file at ``path`` if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
