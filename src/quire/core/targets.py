"""Writing files into a user's folder without ever writing outside it.

A download's folder may already hold anything: a symlink or a hardlink to someone else's
file at a target path, a symlink where a folder should be, a stale temporary file. Every
write here goes to a new name next to its target, created with ``O_CREAT | O_EXCL |
O_NOFOLLOW`` (or made by ``link``, which never follows the new name either), and is then
renamed over the target: what was at the target is replaced, never written through. A
symlink where a folder belongs is replaced by a real folder, never followed. Files at
other paths are left alone.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from ..errors import StoreError
from ..files import link_atomic, write_atomic


def make_folders(root: str, folders: Iterable[str]) -> None:
    """Create each of ``folders`` (paths below ``root``) as a real folder.

    ``root`` itself is the caller's choice and is followed if it is a symlink; below it,
    a symlink on the way is removed (only the link: what it points to is untouched) and
    a folder made in its place. A file on the way is an error.
    """
    os.makedirs(root, exist_ok=True)
    done = {os.path.abspath(root)}
    for folder in sorted({os.path.abspath(f) for f in folders}):
        _make(folder, done)


def _make(folder: str, done: set[str]) -> None:
    if folder in done:
        return
    parent = os.path.dirname(folder)
    if parent == folder:  # reached "/" without meeting the root: the caller's path is not below it
        raise StoreError(f"{folder} is not below the download folder; refused")
    _make(parent, done)
    try:
        os.mkdir(folder)
    except FileExistsError:
        mode = os.lstat(folder).st_mode
        if stat.S_ISLNK(mode):
            os.unlink(folder)
            os.mkdir(folder)
        elif not stat.S_ISDIR(mode):
            raise StoreError(
                f"cannot download into {folder}: a file of that name is in the way of a folder "
                "the version needs; move it and download again"
            ) from None
    done.add(folder)


def write_new(target: str, fill: Callable[[int, str], None]) -> None:
    """Write ``target`` through a new temporary file beside it, then rename it in.

    ``fill(fd, temp_path)`` writes the bytes (and may check them: if it raises, the
    temporary file is removed and ``target`` is unchanged). Not fsynced: a download lost
    to a power loss is downloaded again.
    """
    with _in_the_way(target):
        write_atomic(target, fill, durable=False)


def link_new(src: str, target: str) -> bool:
    """Hardlink ``src`` at ``target``, replacing whatever is there.

    False when no hardlink can be made here (:data:`quire.files.NO_LINK`); ``FileNotFoundError``
    when ``src`` is gone.
    """
    with _in_the_way(target):
        return link_atomic(src, target, durable=False)


def copy_into(src_fd: int, dst_fd: int) -> None:
    """Copy all of ``src_fd`` (from its start) into ``dst_fd``, in the kernel where it can."""
    offset = 0
    while True:
        try:
            sent = os.copy_file_range(src_fd, dst_fd, 1 << 30, offset)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            break
        if sent == 0:
            return
        offset += sent
    os.lseek(src_fd, offset, os.SEEK_SET)
    while chunk := os.read(src_fd, 1 << 20):
        os.write(dst_fd, chunk)


@contextmanager
def _in_the_way(target: str) -> Iterator[None]:
    try:
        yield
    except (IsADirectoryError, NotADirectoryError):  # from the rename: a folder has the name
        raise StoreError(
            f"cannot download into {target}: a folder of that name is in the way of a file "
            "the version holds; move it and download again"
        ) from None
