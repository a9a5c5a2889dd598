"""The local cache: whole files by digest, and materialization into a folder.

Downloads fill the cache from the blob store (verified on the way in), then place each
file in the target folder by reflink, else a read-only hardlink, else a copy. A download
whose blobs are all cached reads nothing from the blob store. Use is recorded per digest
so :meth:`Cache.cleanup` removes the least recently used files first.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import CorruptBlobError, StoreError
from ..store.blobs import SMALL, BlobStore, hash_file
from . import progress
from .statcache import StatCache

_FICLONE = 0x40049409  # linux/fs.h: share extents (btrfs, XFS, bcachefs)


class Cache:
    """A content-addressed cache of whole files below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.files = self.root / "files"
        self.stat = StatCache(self.root / "cache.db")
        self._modes: dict[tuple[Path, str], str] = {}

    def path(self, digest: str) -> Path:
        """Where the file with this digest is (or would be) cached."""
        return self.files / digest[:2] / digest[2:]

    def fill(self, blobs: BlobStore, sizes: dict[str, int]) -> dict[str, Path]:
        """Make every blob in ``sizes`` (digest → size) a cached file; returns their paths."""
        paths = {d: self.path(d) for d in sizes}
        absent = [d for d, p in paths.items() if not _has(p, sizes[d])]
        small = [d for d in absent if sizes[d] < SMALL]
        for digest, data in blobs.read_many(small):
            self._write(paths[digest], data)
            progress.advance(len(data))
        for digest in absent:
            if sizes[digest] >= SMALL:
                self._fetch_large(blobs, digest, paths[digest])
                progress.advance(sizes[digest])
        self._touch(paths)
        return paths

    def _write(self, path: Path, data: bytes) -> None:
        tmp = self._temp(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def _fetch_large(self, blobs: BlobStore, digest: str, path: Path) -> None:
        tmp = self._temp(path)
        stored = blobs.local_path(digest)
        try:
            if stored is None or not _link(stored, tmp):
                blobs.read_to_file(digest, tmp)
            elif hash_file(tmp)[0] != digest:
                # The store's own file, linked: bytes can rot or be edited after they were
                # written, and a fetched blob is never delivered unverified. Set aside, it
                # heals when the bytes are logged again.
                raise CorruptBlobError(digest, str(stored), blobs.quarantine(digest))
            # Read-only, also when linked: downloads hardlink this inode, and a user writing
            # into a downloaded file must not change the cache or the store's blob.
            tmp.chmod(0o444)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def _temp(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")

    # -- use and cleanup --------------------------------------------------------------

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.root / "cache.db", timeout=60, isolation_level=None)
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS used (digest TEXT PRIMARY KEY, at REAL) WITHOUT ROWID")
            yield conn
        finally:
            conn.close()

    def _touch(self, digests: Iterable[str]) -> None:
        stamp = time.time()
        with self._db() as conn:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO used VALUES (?, ?)", ((d, stamp) for d in digests))
            conn.execute("COMMIT")

    def cleanup(self, max_bytes: int) -> tuple[int, int]:
        """Remove least recently used files until the cache holds at most ``max_bytes``.

        Returns ``(files removed, bytes freed)``. Files already placed in a folder by
        hardlink stay there: only the cache's own link goes.
        """
        found = []
        with self._db() as conn:
            used = dict(conn.execute("SELECT digest, at FROM used"))
        for sub in self.files.glob("*/*"):
            if sub.name.endswith(".tmp"):
                continue
            st = sub.stat()
            digest = sub.parent.name + sub.name
            # Last used: noted in the table, or (a download that hardlinked it) its ctime.
            found.append((max(used.get(digest, 0.0), st.st_ctime), st.st_size, sub))
        total = sum(size for _, size, _ in found)
        found.sort(key=lambda item: item[0])
        removed = freed = 0
        for _, size, path in found:
            if total - freed <= max_bytes:
                break
            path.unlink(missing_ok=True)
            removed, freed = removed + 1, freed + size
        return removed, freed

    # -- materialization --------------------------------------------------------------

    def place(self, blobs: BlobStore, items: list[tuple[str, int, str]]) -> None:
        """Put each ``(digest, size, target path)`` in place, fetching what is not cached.

        Reflink, else hardlink, else copy; decided once per call. This is the hot path of
        a warm download, so it costs one ``link`` per file: a cache miss shows up as the
        link's ENOENT rather than as an extra ``stat``.
        """
        if not items:
            return
        mode = self._mode(items[0][2])
        absent = [item for item in items if not self._place(mode, item)]
        progress.advance(sum(size for _, size, _ in items) - sum(size for _, size, _ in absent))
        if absent:
            sizes = {d: s for d, s, _ in absent}
            self.fill(blobs, sizes)  # reports each blob it fetches
            for item in absent:
                if not self._place(mode, item):
                    raise StoreError(f"{self.path(item[0])} vanished from the cache while in use")
            progress.advance(sum(size for _, size, _ in absent) - sum(sizes.values()))  # the same bytes at two paths
        if mode != "link":  # a link marks the cached file's ctime (POSIX): its use is noted already
            self._touch(d for d, _, _ in items)

    def _mode(self, target: str) -> str:
        key = (self.root, os.path.dirname(target))
        if key not in self._modes:
            probe = self.files / ".probe"
            self.files.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            dst = os.path.join(os.path.dirname(target), f".quire-probe-{uuid.uuid4().hex[:8]}")
            try:
                self._modes[key] = "reflink" if _reflink(str(probe), dst) else "link" if _link(str(probe), dst) else "copy"
            finally:
                if os.path.lexists(dst):
                    os.unlink(dst)
        return self._modes[key]

    def _place(self, mode: str, item: tuple[str, int, str]) -> bool:
        """Place one file; False when it is not cached."""
        digest, _, target = item
        src = f"{self.files}/{digest[:2]}/{digest[2:]}"
        for _ in range(2):
            try:
                if mode == "reflink" and _reflink(src, target):
                    return True
                if mode != "copy" and _link(src, target):
                    return True
                shutil.copyfile(src, target)
                return True
            except FileNotFoundError:
                return False
            except FileExistsError:
                if _same_file(src, target):
                    return True
                os.unlink(target)
        raise StoreError(f"cannot replace {target}: something keeps recreating it")


def _has(path: Path, size: int) -> bool:
    # A size check is the cheap guard against a cached file edited through a hardlink.
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _link(src: str, dst: str) -> bool:
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EACCES):
            return False
        raise


def _reflink(src: str, dst: str) -> bool:
    with open(src, "rb") as s, open(dst, "xb") as d:
        try:
            fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
            return True
        except OSError:
            pass
    os.unlink(dst)
    return False


_caches: dict[Path, Cache] = {}


def cache_for(local_dir: Path | None) -> Cache:
    """The cache to use: ``$QUIRE_CACHE_DIR``, else the store's own folder, else ~/.cache."""
    env = os.environ.get("QUIRE_CACHE_DIR")
    root = Path(env) if env else (local_dir / "cache" if local_dir else Path("~/.cache/quire"))
    root = root.expanduser().resolve()
    if root not in _caches:
        _caches[root] = Cache(root)
    return _caches[root]
