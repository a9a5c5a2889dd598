"""The local cache: whole files by digest, and materialization into a folder.

Downloads fill the cache from the blob store (verified on the way in), then place each
file in the target folder by reflink, else a read-only hardlink, else a copy. The cache
holds its own copy of every blob (a copy, or a reflink where the filesystem shares
extents): the store's file is never linked, so nothing done to a downloaded file can
reach the store.

A hardlinked download shares its inode with the cache, so a user can change a cached
file (as root, or after ``chmod u+w``). Every cached file is therefore **sealed** when it
enters the cache: its mtime's nanoseconds are set to a value derived from its digest
(:func:`_seal`). Any write to the file sets its mtime to the current time and breaks the
seal; a file found with a broken seal, or of the wrong size, is hashed again before it
is used, and replaced by a fresh, verified fetch if its bytes are wrong. Checking a seal
costs the one ``stat`` a download makes per file and no catalog or cache.db query, so a
warm download stays a few syscalls per file.

What a seal cannot see: bytes edited in place whose mtime is then set back to the exact
nanosecond (a deliberate ``os.utime``/``touch -r`` from the file itself), and bytes that
rot on the disk without any write. The inode change time would show the first, but every
link and unlink changes it (each download, each deleted download), so checking it means
hashing every file again after any of those: 2-4x the time of a warm download, measured.
``quire artifact verify`` reads and checks every byte.

Use is recorded per digest so :meth:`Cache.cleanup` removes the least recently used
files first; a hardlinked file's use is its ctime (POSIX ``link`` updates it). A file
removed by a cleanup while a download uses it is fetched again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from ..errors import CorruptBlobError, StoreError
from ..files import NO_LINK, discard, new_temp, replace, temp_name
from ..hashing import hash_bytes, hash_file
from ..store.blobs import SMALL, BlobStore, read_small
from ..store.digests import digest_path, is_digest
from . import progress
from .cachedb import CacheDB
from .statcache import StatCache
from .targets import copy_into, link_new, write_new

_FICLONE = 0x40049409  # linux/fs.h: share extents (btrfs, XFS, bcachefs)


class Cache:
    """A content-addressed cache of whole files below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.files = self.root / "files"
        self.db = CacheDB(self.root / "cache.db")
        self.stat = StatCache(self.db)
        self._modes: dict[tuple[Path, str], str] = {}

    def path(self, digest: str) -> Path:
        """Where the file with this digest is (or would be) cached."""
        return self.files / digest_path(digest)

    def fill(self, blobs: BlobStore, sizes: dict[str, int]) -> dict[str, Path]:
        """Make every blob in ``sizes`` (digest → size) a verified cached file; returns their paths."""
        paths = self._paths(sizes)
        self._ensure(blobs, sizes, paths)
        self._touch(paths)
        return {d: Path(p) for d, p in paths.items()}

    def pages(self, blobs: BlobStore) -> CachedPages:
        """Manifest pages read through this cache (see :class:`CachedPages`)."""
        return CachedPages(self, blobs)

    def _paths(self, digests: Iterable[str]) -> dict[str, str]:
        files = os.fspath(self.files)
        return {d: f"{files}/{digest_path(d)}" for d in digests}

    def _ensure(self, blobs: BlobStore, sizes: dict[str, int], paths: dict[str, str]) -> int:
        """Make each blob a cached file that is sealed or checked right; returns the bytes fetched.

        A sealed file of the right size costs one ``stat``; any other is hashed, sealed
        again if its bytes are right (an older cache's file, a ``touch``), and fetched
        again (verified) if they are not.
        """
        absent, stat = [], os.stat
        for digest, size in sizes.items():
            path = paths[digest]
            try:
                st = stat(path)
            except FileNotFoundError:
                absent.append(digest)
                continue
            if st.st_size == size and st.st_mtime_ns % _SECOND == _seal(digest):
                continue
            if st.st_size == size and _holds(path, digest, size):
                _reseal(path, digest)
                continue
            absent.append(digest)  # changed through a hardlink, or damaged: replaced below
        small = [d for d in absent if sizes[d] < SMALL]
        for digest, data in blobs.read_many(small):
            self._put(self._write_temp(self.path(digest), data, digest), digest)
            progress.advance(len(data))
        for digest in absent:
            if sizes[digest] >= SMALL:
                self._put(self._fetch_large(blobs, digest, self.path(digest)), digest)
                progress.advance(sizes[digest])
        return sum(sizes[d] for d in absent)

    def _fetch_temp(self, blobs: BlobStore, digest: str, size: int) -> Path:
        """A verified copy of the blob at a temporary name beside its cached path."""
        path = self.path(digest)
        if size >= SMALL:
            return self._fetch_large(blobs, digest, path)
        return self._write_temp(path, next(iter(blobs.read_many([digest])))[1], digest)

    def _put(self, tmp: Path, digest: str) -> None:
        """Move a verified, sealed temporary file into the cache. Not fsynced: a file lost
        to a power loss is fetched again, and a torn one fails its seal or its size."""
        try:
            replace(tmp, self.path(digest), durable=False)
        except BaseException:
            discard(tmp)
            raise

    def _write_temp(self, path: Path, data: bytes, digest: str) -> Path:
        """A sealed file holding ``data`` at a new temporary name beside ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_temp(path, 0o444)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()  # a write after the seal would break it
                _reseal(f.fileno(), digest)
        except BaseException:
            discard(tmp)
            raise
        return Path(tmp)

    def _fetch_large(self, blobs: BlobStore, digest: str, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(temp_name(path))  # made new by whichever of the two writes it
        stored = blobs.local_path(digest)
        try:
            # A reflink of the store's file shares its extents but not its inode: a write
            # to either copies the block. Never a hardlink: a download links the cache's
            # file, and the store's must not be reachable from a user's folder.
            if stored is None or not _reflink(str(stored), str(tmp)):
                blobs.read_to_file(digest, tmp)  # verified
            elif hash_file(tmp)[0] != digest:
                # Read through a reflink of the store's own file: bytes can rot after they
                # were written, and a fetched blob is never delivered unverified. Set
                # aside, it heals when the bytes are logged again.
                raise CorruptBlobError(digest, str(stored), blobs.quarantine(digest))
            tmp.chmod(0o444)  # downloads hardlink it: a reminder not to write into them
            _reseal(str(tmp), digest)
            return tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # -- use and cleanup --------------------------------------------------------------

    def _touch(self, digests: Iterable[str]) -> None:
        stamp = time.time()
        with self.db.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO used VALUES (?, ?)", ((d, stamp) for d in digests))

    def cleanup(self, max_bytes: int) -> tuple[int, int]:
        """Remove least recently used files until the cache holds at most ``max_bytes``.

        Returns ``(files removed, bytes freed)``. Files already placed in a folder by
        hardlink stay there: only the cache's own link goes.
        """
        found = []
        used = dict(self.db.connection().execute("SELECT digest, at FROM used"))
        for sub in self.files.glob("*/*"):
            digest = sub.parent.name + sub.name  # the inverse of digest_path
            if not is_digest(digest) or digest_path(digest) != f"{sub.parent.name}/{sub.name}":
                continue  # a download's temporary file (or an older Quire's), not a cached one
            try:
                st = sub.stat()
            except FileNotFoundError:
                continue  # removed by another cleanup meanwhile
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

        Reflink, else hardlink, else copy; decided once per call. The target's folder
        must exist and be a real one (see :func:`~quire.core.targets.make_folders`);
        whatever is at the target is replaced, never written through. This is the hot
        path of a warm download: a cached file costs a ``stat`` (is its seal intact?) and
        its ``link``; a link marks the file's use by its ctime, other modes note it in
        one transaction.
        """
        if not items:
            return
        mode = self._mode(items[0][2])
        sizes = {d: s for d, s, _ in items}
        paths = self._paths(sizes)
        fetched = self._ensure(blobs, sizes, paths)
        rest, link = items, os.link
        if mode == "link":  # the common case first, one call per file: nothing at the target yet
            rest = []
            for item in items:
                try:
                    link(paths[item[0]], item[2])
                except OSError:
                    rest.append(item)
        missed = [item for item in rest if not self._place(mode, paths[item[0]], item[2])]
        if missed:
            self._place_evicted(blobs, mode, missed)
        progress.advance(sum(size for _, size, _ in items) - fetched)
        if mode != "link":  # a link marks the cached file's ctime (POSIX): its use is noted already
            self._touch(paths)

    def _place_evicted(self, blobs: BlobStore, mode: str, items: list[tuple[str, int, str]]) -> None:
        """Place files a cleanup removed from the cache after they were checked: fetched
        again to a temporary name (which cleanup leaves alone), placed from it, then
        moved into the cache; so a cleanup running beside a download never fails it."""
        targets: dict[str, list[str]] = {}
        for digest, _, target in items:
            targets.setdefault(digest, []).append(target)
        sizes = {d: s for d, s, _ in items}
        for digest, paths in targets.items():
            tmp = self._fetch_temp(blobs, digest, sizes[digest])
            try:
                for target in paths:
                    if not self._place(mode, str(tmp), target):
                        raise StoreError(f"{tmp} vanished while in use; is something deleting files in {self.files}?")
                self._put(tmp, digest)
            finally:
                discard(tmp)

    def _mode(self, target: str) -> str:
        key = (self.root, os.path.dirname(target))
        if key not in self._modes:
            probe = self.files / ".probe"
            self.files.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            dst = os.path.join(os.path.dirname(target), f".quire-probe-{uuid.uuid4().hex[:8]}")
            try:
                if _reflink(str(probe), dst):
                    self._modes[key] = "reflink"
                else:
                    self._modes[key] = "link" if _link(str(probe), dst) else "copy"
            finally:
                if os.path.lexists(dst):
                    os.unlink(dst)
        return self._modes[key]

    def _place(self, mode: str, src: str, target: str) -> bool:
        """Place one file from ``src``; False when ``src`` is gone."""
        try:
            if mode == "link":
                try:
                    os.link(src, target)  # the common case: nothing at the target yet
                    return True
                except FileExistsError:
                    if _same_inode(src, target):
                        return True  # placed by an earlier download, and the cached file is checked
                    if link_new(src, target):
                        return True
                except OSError as exc:
                    if exc.errno not in NO_LINK:
                        raise
            with open(src, "rb") as s:
                write_new(target, lambda fd, _: _clone_or_copy(mode, s.fileno(), fd))
            return True
        except FileNotFoundError:
            if not os.path.exists(src):
                return False
            raise


class CachedPages:
    """Manifest pages from the local cache, else from the store (and then cached).

    A warm download then reads nothing from the blob store: not even the pack indexes,
    which finding a page in the store would load (all of them, 40 ms of a 20,000-file
    download). A page is small, so it is hashed on every read from the cache instead of
    trusted by its seal; a wrong one is read from the store again.
    """

    def __init__(self, cache: Cache, blobs: BlobStore) -> None:
        self.cache, self.blobs = cache, blobs

    def read(self, digest: str) -> bytes:
        """The verified bytes of the page ``digest``."""
        path = self.cache.path(digest)
        try:
            data = read_small(path)
        except OSError:  # not cached (or not readable): the store has it
            data = None
        if data is not None and hash_bytes(data) == digest:
            return data
        data = self.blobs.read(digest)
        with contextlib.suppress(OSError):  # a cache that cannot take it (full, read-only): the page was read anyway
            self.cache._put(self.cache._write_temp(path, data, digest), digest)
        return data


_SECOND = 1_000_000_000


def _seal(digest: str) -> int:
    """The nanoseconds of a cached file's mtime: 1 … 999,999,999, from its digest.

    Never 0, so a tool that writes whole seconds (``SOURCE_DATE_EPOCH``, tar, zip)
    cannot leave a seal intact by chance; any other write gives it odds of 1 in 10**9.
    """
    return int(digest[:15], 16) % (_SECOND - 1) + 1


def _reseal(file: str | int, digest: str) -> None:
    """Set the seal of the cached file ``file`` (a path or an open descriptor)."""
    now = time.time_ns()
    os.utime(file, ns=(now, now // _SECOND * _SECOND + _seal(digest)))


def _holds(path: str, digest: str, size: int) -> bool:
    """Whether the file at ``path`` holds exactly the blob (hashed again)."""
    if size >= SMALL:
        return hash_file(path)[0] == digest
    # Small files are the many: one read and no buffer juggling (a third of hash_file's cost).
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, size + 1)
    finally:
        os.close(fd)
    return len(data) == size and hash_bytes(data) == digest


def _clone_or_copy(mode: str, src_fd: int, dst_fd: int) -> None:
    if mode == "reflink":
        try:
            fcntl.ioctl(dst_fd, _FICLONE, src_fd)
            return
        except OSError:
            pass  # this pair of files cannot share extents after all: copy
    copy_into(src_fd, dst_fd)


def _same_inode(src: str, target: str) -> bool:
    try:
        a, b = os.stat(src), os.lstat(target)  # lstat: a symlink to the cached file is not it
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _link(src: str, dst: str) -> bool:
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno in NO_LINK:
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


class Caches:
    """The caches a process uses, one :class:`Cache` per folder: each holds what is worth
    keeping between downloads (its ``cache.db`` connections, the placement mode found
    per target folder), so every user of one folder shares one."""

    def __init__(self) -> None:
        self._by_root: dict[Path, Cache] = {}
        self._lock = threading.Lock()  # two threads asking at once get the same Cache

    def at(self, root: Path) -> Cache:
        """The cache in the folder ``root``."""
        root = Path(root).expanduser().resolve()
        with self._lock:
            cache = self._by_root.get(root)
            if cache is None:
                cache = self._by_root[root] = Cache(root)
            return cache

    def for_store(self, local_dir: Path | None) -> Cache:
        """The cache to use with a store: ``$QUIRE_CACHE_DIR``, else the store's own folder
        (``local_dir``, for an embedded store), else ``~/.cache/quire``."""
        env = os.environ.get("QUIRE_CACHE_DIR")
        return self.at(Path(env) if env else (local_dir / "cache" if local_dir else Path("~/.cache/quire")))

    def close(self) -> None:
        """Close this thread's ``cache.db`` connections and forget every cache."""
        with self._lock:
            caches, self._by_root = list(self._by_root.values()), {}
        for cache in caches:
            cache.db.close()


#: This process's caches.
CACHES = Caches()


def cache_for(local_dir: Path | None) -> Cache:
    """The cache to use: ``$QUIRE_CACHE_DIR``, else the store's own folder, else ~/.cache
    (:meth:`Caches.for_store` of :data:`CACHES`)."""
    return CACHES.for_store(local_dir)
