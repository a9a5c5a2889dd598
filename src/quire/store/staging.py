"""Staging folders: where bytes wait before they become objects.

A staging folder is written into by name, so whoever controls it controls where those
writes go: a symlink planted at its place sends them into another folder, and a folder
another user made (or can write) lets that user swap or read the files in it. Quire
checks the folder itself (``lstat``: a symlink is never followed) before it stages
anything there, and refuses what it cannot trust with :class:`UnsafeFolderError`.

- :func:`private_folder`: a folder of this user's own, mode 0700 when Quire makes it
  (a bucket store's staging, in the system's temp folder, one per user so that ``gc``
  finds the files that killed writers of that user left).
- :func:`real_folder`: a folder that is not a symlink (the ``tmp/`` inside a store's
  directory, which every user of a shared store writes into).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import StoreError, UnsafeFolderError


def private_folder(path: Path) -> Path:
    """``path`` as a folder only this user can write: made with mode 0700 when absent.

    Raises:
        UnsafeFolderError: ``path`` is a symlink, not a folder, another user's, or
            writable by others.
        StoreError: it cannot be made.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass  # checked below, whoever made it
    except OSError as exc:
        raise StoreError(f"cannot create the staging folder {path}: {exc.strerror or exc}") from exc
    st = _checked(path)
    uid = os.geteuid() if hasattr(os, "geteuid") else st.st_uid  # no owners to check on Windows
    if st.st_uid != uid:
        raise UnsafeFolderError(
            f"the staging folder {path} belongs to another user (uid {st.st_uid}); refusing to "
            "stage files in it: remove it, or set TMPDIR to a folder of your own",
            str(path),
        )
    if st.st_mode & 0o022:
        raise UnsafeFolderError(
            f"the staging folder {path} can be written by other users (mode {st.st_mode & 0o7777:o}); "
            f"refusing to stage files in it: run chmod 700 {path}, or remove it",
            str(path),
        )
    return path


def real_folder(path: Path) -> Path:
    """``path`` if it is a folder itself, not a symlink to one (nor anything else).

    Raises:
        UnsafeFolderError: it is a symlink or not a folder.
    """
    _checked(path)
    return path


def _checked(path: Path) -> os.stat_result:
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise StoreError(f"cannot use the staging folder {path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFolderError(
            f"the staging folder {path} is a symlink; refusing to follow it (it may have been "
            "planted to redirect Quire's writes): remove it and run again",
            str(path),
        )
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFolderError(f"the staging folder {path} is not a folder; remove it and run again", str(path))
    return st
