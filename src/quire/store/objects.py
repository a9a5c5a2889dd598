"""Object stores: a flat namespace of immutable keys holding bytes.

``ObjectStore`` is the protocol every backend implements (a local directory here, an
object store in ``s3.py``); the content addressing, packs and verification above it live
once, in :mod:`quire.store.blobs`. Keys are ``/``-separated and never rewritten: a put of
a key that exists is a no-op that reports success ("already exists" is success).

A backend *declares* what it can do beyond the protocol in :class:`Capabilities`
(callers never probe it with ``getattr``), and a caller asks for the narrowest protocol
it needs: :class:`ObjectReader`, :class:`ObjectWriter`, :class:`ObjectCollector` (list +
delete, all gc needs). :func:`require` turns a missing capability into a clear error.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from ..errors import MissingCapabilityError, ObjectNotFoundError, StoreError
from ..files import fsync, publish, write_new
from .staging import real_folder


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object."""

    key: str
    size: int
    mtime: float  # seconds since the epoch


@dataclass(frozen=True)
class Capabilities:
    """What an object store can do beyond the :class:`ObjectStore` protocol, declared by
    the backend (a class attribute or a property named ``capabilities``)."""

    #: ``put``/``put_file`` fsync local files before returning: a writer that stages a
    #: file for them starts its writeback early (see :func:`start_writeback`)
    durable_local_writes: bool = False
    #: ``put_source`` (:class:`SourceUploader`): a large file is uploaded from where it
    #: is, with no staging copy, and abandoned if it changed since it was hashed
    upload_from_file: bool = False
    #: large files worth having in flight at once (a remote store's latency, not a disk,
    #: is its limit)
    concurrency: int = 4
    #: keys are files on this machine: reading many in parallel threads only costs
    local: bool = False
    #: objects can be deleted (gc needs it; an append-only bucket cannot)
    deletes: bool = True
    #: ``sign_get`` (:class:`GetSigner`): a URL that reads a key without credentials
    presigned_reads: bool = False


#: what each capability lets a store do, for error messages
_CAN = {
    "durable_local_writes": "write local files durably",
    "upload_from_file": "upload a file from its place",
    "local": "keep its objects on this machine",
    "deletes": "delete objects",
    "presigned_reads": "sign URLs that read its keys",
}


@runtime_checkable
class ObjectReader(Protocol):
    """Reading keys: what a reader of blobs needs."""

    url: str

    def get(self, key: str) -> bytes:
        """All bytes of ``key``; ``ObjectNotFoundError`` when absent."""
        ...

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of ``key`` from ``offset``; ``ObjectNotFoundError`` when absent."""
        ...

    def get_file(self, key: str, dest: Path) -> None:
        """Stream ``key`` into the new file ``dest``; ``ObjectNotFoundError`` (and no
        file left) when absent."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        ...

    def size(self, key: str) -> int | None:
        """The bytes stored under ``key``, or None when it is absent."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path on this machine holding the bytes of ``key``, when the backend has one."""
        ...


@runtime_checkable
class ObjectWriter(Protocol):
    """Writing keys (put-if-absent)."""

    url: str

    def temp_path(self) -> Path:
        """A fresh local path to stage a file in; ``put_file`` consumes it."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` durably, unless the key exists already."""
        ...

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` and consume the file (it is removed)."""
        ...


@runtime_checkable
class ObjectCollector(Protocol):
    """Listing and deleting keys: all gc asks of an object store."""

    url: str

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are fine."""
        ...


@runtime_checkable
class ObjectStore(ObjectReader, ObjectWriter, ObjectCollector, Protocol):
    """Immutable keyed bytes. Every backend passes :class:`quire.testing.ObjectStoreTests`."""

    url: str

    @property
    def capabilities(self) -> Capabilities:
        """What the store can do beyond this protocol."""
        ...

    def move(self, key: str, new_key: str) -> None:
        """Give the object ``key`` the name ``new_key`` (a fresh name: an object there is
        replaced) and free ``key``; ``ObjectNotFoundError`` when ``key`` is absent.

        Not atomic on every backend (an object store copies, then deletes): for setting
        a corrupt blob aside, where a reader finding either name is fine.
        """
        ...


@runtime_checkable
class SourceUploader(Protocol):
    """A store with the capability ``upload_from_file``."""

    def put_source(
        self,
        key: str,
        path: Path,
        digest: str,
        hashed: os.stat_result | None = None,
        report: Callable[[int], None] | None = None,
    ) -> None:
        """Upload the file at ``path`` (left in place) under ``key``, completing the upload
        only if the file still hashes to ``digest`` (``ValidationError`` otherwise);
        ``report(n)`` is told the bytes of parts as they are known uploaded, while the
        upload runs (those still in flight at its end are not: the caller counts them
        once this returns)."""
        ...


@runtime_checkable
class GetSigner(Protocol):
    """A store with the capability ``presigned_reads``."""

    def sign_get(self, key: str, seconds: int) -> str | None:
        """A URL that reads ``key`` for ``seconds`` without credentials (None: cannot sign)."""
        ...


def require(objects: ObjectStore, capability: str, needed_for: str) -> None:
    """Raise ``MissingCapabilityError`` unless ``objects`` declares ``capability``."""
    if not getattr(objects.capabilities, capability):
        raise MissingCapabilityError(
            f"{needed_for} needs an object store that can {_CAN.get(capability, capability)} "
            f"(capability {capability!r}), and {objects.url} does not declare it",
            capability,
        )


def uploader(objects: ObjectStore) -> SourceUploader | None:
    """``objects`` as a :class:`SourceUploader` when it declares ``upload_from_file``, else None."""
    if not objects.capabilities.upload_from_file:
        return None
    if not isinstance(objects, SourceUploader):
        raise MissingCapabilityError(
            f"{objects.url} declares the capability 'upload_from_file' but has no put_source method", "upload_from_file"
        )
    return cast(SourceUploader, objects)


def missing_key(key: str, url: str) -> ObjectNotFoundError:
    """The error every backend raises for an absent ``key`` (the same words everywhere)."""
    return ObjectNotFoundError(f"object {key!r} is missing from {url}", key)


class LocalObjects:
    """Objects as files below a directory; writes go to ``tmp/`` and are linked into place.

    Every object is fsynced, with its folder, before ``put``/``put_file`` returns, so a
    version committed after it survives a power loss. ``durable=False`` (or
    ``QUIRE_FSYNC=0``) leaves that to the kernel's writeback, as most tools do: faster
    for large files, but a power loss soon after a commit can lose its bytes (a later
    read then reports them corrupt or missing; it never returns wrong bytes).
    """

    def __init__(self, root: Path, durable: bool | None = None) -> None:
        if durable is None:
            durable = os.environ.get("QUIRE_FSYNC", "1").strip().lower() not in ("0", "false", "no", "off")
        self.durable = durable
        self.root = Path(root)
        self.url = self.root.as_uri()
        self.tmp = self.root / "tmp"
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the blob directory {self.root}: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreError(f"the blob directory {self.root} is not writable")

    @property
    def capabilities(self) -> Capabilities:
        """Local files: reads are cheap, writes are fsynced unless ``durable`` is off."""
        return Capabilities(durable_local_writes=self.durable, local=True)

    def temp_path(self) -> Path:
        """A fresh name in the store's scratch folder, on the same filesystem as the keys.

        Raises:
            UnsafeFolderError: ``tmp/`` is a symlink (or not a folder). Every user of a
                shared store writes there, so no owner or mode is asked for; but a symlink
                would send the staged bytes, and the objects linked from them, elsewhere.
                Checked on each call (one ``lstat`` per staged file or pack, not per small
                blob), so reads of the store work whatever became of it.
        """
        return real_folder(self.tmp) / f"{uuid.uuid4().hex}.partial"

    def _path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        if self._path(key).is_file():
            return
        tmp = self.temp_path()
        write_new(tmp, data)  # never through a planted name
        self.put_file(key, tmp)

    def put_file(self, key: str, path: Path) -> None:
        final = self._path(key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            # Never replaces: a concurrent writer of the same key wins, and since keys are
            # content-addressed its bytes are ours ("exists" is success).
            publish(path, final, durable=self.durable)
        except FileExistsError:  # a folder of other keys: "exists" would lose the write
            raise StoreError(f"cannot store {key!r} in {self.url}: a folder of other keys has that name") from None
        except OSError as exc:
            raise _store_error(exc, final) from exc
        finally:
            path.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):  # a folder is a key prefix, not a key
            raise missing_key(key, self.url) from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(offset)
                return f.read(length)
        except (FileNotFoundError, IsADirectoryError):  # a folder is a key prefix, not a key
            raise missing_key(key, self.url) from None

    def get_file(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self._path(key), dest)
        except (FileNotFoundError, IsADirectoryError):  # a folder is a key prefix, not a key
            raise missing_key(key, self.url) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None  # a folder is a key prefix

    def move(self, key: str, new_key: str) -> None:
        src, dst = self._path(key), self._path(new_key)
        if not src.is_file():
            raise missing_key(key, self.url)
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dst)
        except FileNotFoundError:
            raise missing_key(key, self.url) from None
        except OSError as exc:
            raise _store_error(exc, dst) from exc
        if self.durable:  # both names must survive a power loss as they are now
            fsync(dst.parent)
            fsync(src.parent)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) == base and d == "tmp")]
            rel = os.path.relpath(dirpath, base)
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
                if key.startswith(prefix):
                    try:
                        st = os.stat(os.path.join(dirpath, name))
                    except FileNotFoundError:
                        continue  # deleted while listing
                    yield ObjectInfo(key, st.st_size, st.st_mtime)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    import ctypes  # on first use, not at `import quire`

    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range  # Linux only
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return fn  # type: ignore[no-any-return, unused-ignore]  # typeshed's ctypes varies


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes of ``fd`` from ``offset`` to disk
    now, without waiting. A file written in chunks and fsynced at the end then overlaps
    its disk writes with the rest of the work (a third faster for 1 GiB here), instead
    of waiting for all of it in the fsync. A no-op where the call does not exist."""
    sync_file_range = _sync_file_range()
    if sync_file_range is not None:
        sync_file_range(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE; a hint: failures do not matter


def _store_error(exc: OSError, path: Path) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"no space left on the device holding {path}; free space and retry")
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")
