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

from ..store.blobs import SMALL, BlobStore
from .statcache import StatCache

_FICLONE = 0x40049409  # linux/fs.h: share extents (btrfs, XFS, bcachefs)


class Cache:
    """A content-addressed cache of whole files below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.files = self.root / "files"
        self.stat = StatCache(self.root / "cache.db")
        self._modes: dict[tuple[int, int], str] = {}

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
        for digest in absent:
            if sizes[digest] >= SMALL:
                self._fetch_large(blobs, digest, paths[digest])
        self._touch(paths)
        return paths

    def cached(self, sizes: dict[str, int]) -> bool:
        """Whether every blob in ``sizes`` is cached already."""
        return all(_has(self.path(d), s) for d, s in sizes.items())

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
            if stored is not None and _link(stored, tmp):
                pass  # the embedded store's own file: verified when it was written
            else:
                blobs.read_to_file(digest, tmp)
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
        for sub in self.files.glob("*/*"):
            if sub.name.endswith(".tmp"):
                continue
            st = sub.stat()
            found.append((sub.parent.name + sub.name, st.st_size, sub))
        total = sum(size for _, size, _ in found)
        with self._db() as conn:
            used = dict(conn.execute("SELECT digest, at FROM used"))
        found.sort(key=lambda item: used.get(item[0], 0.0))
        removed = freed = 0
        for digest, size, path in found:
            if total - freed <= max_bytes:
                break
            path.unlink(missing_ok=True)
            removed, freed = removed + 1, freed + size
        return removed, freed

    # -- materialization --------------------------------------------------------------

    def materialize(self, src: Path, dst: Path) -> None:
        """Place the cached file ``src`` at ``dst``: reflink, else hardlink, else copy."""
        if dst.exists() or dst.is_symlink():
            if _same_file(src, dst):
                return
            dst.unlink()
        key = (os.stat(src).st_dev, os.stat(dst.parent).st_dev)
        mode = self._modes.get(key)
        if mode in (None, "reflink") and _reflink(src, dst):
            self._modes[key] = "reflink"
            return
        if mode in (None, "reflink", "link") and _link(src, dst):
            self._modes[key] = "link"
            return
        self._modes[key] = "copy"
        shutil.copyfile(src, dst)


def _has(path: Path, size: int) -> bool:
    # A size check is the cheap guard against a cached file edited through a hardlink.
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _link(src: Path, dst: Path) -> bool:
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EACCES):
            return False
        raise


def _reflink(src: Path, dst: Path) -> bool:
    try:
        with open(src, "rb") as s, open(dst, "xb") as d:
            fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
        return True
    except OSError:
        dst.unlink(missing_ok=True)
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
