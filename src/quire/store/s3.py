"""Objects in a bucket: S3 (or any S3-compatible server), Google Cloud Storage, Azure.

:class:`CloudObjects` implements the :class:`~quire.store.objects.ObjectStore` protocol
over obstore (``pip install 'quire[s3]'``). Credentials, region and endpoint come from
the store's standard environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP`` for a plain-http server such as a
local MinIO; ``GOOGLE_SERVICE_ACCOUNT``…; ``AZURE_STORAGE_ACCOUNT_NAME``…).

Writes are put-if-absent: a small object is one conditional PUT (``If-None-Match: *``),
and "already exists" is success. A large one (:data:`MULTIPART_MIN` and up) is uploaded
in parallel parts; object stores cannot make a multipart upload conditional, so it is
skipped when the key exists and otherwise written unconditionally: keys are content
addresses (or unique pack names), so two hosts racing on one key write the same bytes
and one object results. Throttling (503 SlowDown, 429), 5xx answers and dropped
connections are retried with exponential backoff and jitter; what still fails becomes a
:class:`~quire.errors.StoreError` that names the bucket URL and what to check.

A large file being ingested is uploaded straight from where it is (:meth:`CloudObjects.put_source`:
no local staging copy), and the upload is abandoned if the file changed since it was
hashed. obstore's I/O threads do not survive ``fork()``: a process forked after the store
was used gets a clear error (use the ``spawn`` or ``forkserver`` start method).
"""

from __future__ import annotations

import collections
import getpass
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError, ObjectNotFoundError, StoreError, ValidationError
from ..hashing import new_hasher
from .objects import Capabilities, ObjectInfo, missing_key
from .staging import private_folder

try:
    import obstore
    from obstore import exceptions as obs_exc
    from obstore.store import from_url
except ImportError:  # pragma: no cover - exercised only without the extra
    obstore = None  # type: ignore[assignment]

MULTIPART_MIN = 16 << 20  #: objects this large are uploaded in parallel parts
PART_SIZE = 8 << 20  #: bytes per part
PART_CONCURRENCY = 8  #: parts in flight per upload
RACY_NS = 2_000_000_000  #: a file changed this recently is re-hashed as it is uploaded
_S3_CODE = re.compile(r"<Code>(\w+)</Code>")
_ALLOW_HTTP = ("AWS_ALLOW_HTTP", "GOOGLE_ALLOW_HTTP", "AZURE_ALLOW_HTTP", "ALLOW_HTTP")
_ENDPOINTS = {
    "s3": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"),
    "gs": ("GOOGLE_ENDPOINT",),
    "az": ("AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"),
}


class CloudObjects:
    """Objects under ``s3://bucket/prefix`` (also ``gs://`` and ``az://``)."""

    #: files are uploaded from their place; 8 large files in flight at once (each in up
    #: to PART_CONCURRENCY parts), as a bucket's latency, not a disk, is the limit
    capabilities = Capabilities(upload_from_file=True, concurrency=8, presigned_reads=True)

    def __init__(
        self,
        url: str,
        *,
        max_retries: int = 6,
        retry_timeout: float = 120.0,
        timeout: float = 300.0,
        scratch: Path | None = None,
    ) -> None:
        """Open the bucket at ``url``; nothing is sent until the first operation.

        Args:
            url: ``s3://bucket[/prefix]``, ``gs://bucket[/prefix]`` or
                ``az://container[/prefix]``.
            max_retries: attempts after the first, on throttling, 5xx and lost connections.
            retry_timeout: seconds after which a failing request is no longer retried.
            timeout: seconds one request may take (a part of a multipart upload, say).
            scratch: the local folder for :meth:`temp_path` (default: ``quire-staging-<uid>``
                in the system's temp folder); it must be this user's and not writable by
                others (made with mode 0700), see :mod:`quire.store.staging`.
        """
        if obstore is None:
            raise MissingExtraError(f"blobs in {url.split('://')[0]}://", "s3")
        self.url = url.rstrip("/")
        retry: Any = {
            "max_retries": max_retries,
            "retry_timeout": timedelta(seconds=retry_timeout),
            "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=5), "base": 2},
        }
        client: Any = {"timeout": timedelta(seconds=timeout), "connect_timeout": timedelta(seconds=10)}
        # Client options given here replace those read from the environment: keep this one.
        if any(_truthy(os.environ.get(v)) for v in _ALLOW_HTTP):
            client["allow_http"] = True
        try:
            self._store = from_url(self.url, retry_config=retry, client_options=client)
        except (obs_exc.BaseError, ValueError) as exc:
            raise StoreError(f"cannot use the blob store {self.url}: {_first_line(exc)}") from exc
        #: the server the requests go to, when not the cloud's default (for messages)
        self.endpoint: str | None = next(
            (os.environ[v] for v in _ENDPOINTS.get(self.url.split("://")[0], ()) if os.environ.get(v)), None
        )
        # One folder per user, not one shared by all: gc finds what that user's killed
        # writers left there, and no other user can plant or read files in it.
        uid = os.geteuid() if hasattr(os, "geteuid") else getpass.getuser()
        self._scratch = scratch or Path(tempfile.gettempdir()) / f"quire-staging-{uid}"

    def __repr__(self) -> str:
        return f"CloudObjects({self.url!r})"

    # -- writing ----------------------------------------------------------------------

    def temp_path(self) -> Path:
        """A fresh local file name to stage an upload in (``put_file`` removes it).

        Raises:
            UnsafeFolderError: the staging folder is a symlink, another user's, or
                writable by others (checked on every call: it is in a shared folder).
        """
        return private_folder(self._scratch) / f"{uuid.uuid4().hex}.partial"

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` unless the key exists ("already exists" is success)."""
        if len(data) >= MULTIPART_MIN:
            self._put_large(key, data)
            return
        with self._errors("write", key):
            try:
                obstore.put(self._store, key, data, mode="create")
            except obs_exc.AlreadyExistsError:
                pass
            except obs_exc.PreconditionError:
                pass  # some S3-compatible servers answer a lost create race with 412 this way

    def put_file(self, key: str, path: Path) -> None:
        """Upload the file at ``path`` (in parallel parts when large), then remove it."""
        try:
            if os.stat(path).st_size < MULTIPART_MIN:
                self.put(key, Path(path).read_bytes())
            else:
                self._put_large(key, Path(path))
        finally:
            Path(path).unlink(missing_ok=True)

    def put_source(
        self,
        key: str,
        path: Path,
        digest: str,
        hashed: os.stat_result | None = None,
        report: Callable[[int], None] | None = None,
    ) -> None:
        """Upload the file at ``path`` (left in place) in parallel parts, completing the
        upload only if the file is still what hashed to ``digest``; otherwise raise
        ``ValidationError`` and store nothing.

        ``hashed`` is the file's stat from before it was hashed. When given and the file
        was last changed well before that, an unchanged stat (inode, size, mtime and
        ctime, which no user can set) proves nothing was written since, and the bytes are
        not hashed a second time; a file changed within :data:`RACY_NS` of being hashed
        could be rewritten within one timestamp tick, so its bytes are hashed again, as
        git does for such racy entries. Every later read verifies the digest anyway.
        """
        racy = hashed is None or time.time_ns() - max(hashed.st_mtime_ns, hashed.st_ctime_ns) < RACY_NS
        # The sizes of parts handed over and not yet reported. The upload keeps at most
        # PART_CONCURRENCY parts in flight: when it asks for the next, all but that many
        # of those handed over are uploaded (a lower bound; the last parts are the caller's
        # to count once this returns).
        in_flight: collections.deque[int] = collections.deque()

        def parts() -> Iterator[bytes]:
            hasher = new_hasher() if racy else None
            with open(path, "rb") as f:
                while chunk := f.read(PART_SIZE):
                    if hasher is not None:
                        hasher.update(chunk)
                    if report is not None:
                        if len(in_flight) >= PART_CONCURRENCY:
                            report(in_flight.popleft())
                        in_flight.append(len(chunk))
                    yield chunk
                now = os.fstat(f.fileno())
            # Raised before the last part is handed over, so the upload never completes.
            if (hasher is not None and hasher.hexdigest() != digest) or (
                hashed is not None and _signature(now) != _signature(hashed)
            ):
                raise ValidationError(f"{path} changed while it was uploaded; add it again")

        with self._errors("write", key):
            obstore.put(
                self._store, key, parts(), use_multipart=True, chunk_size=PART_SIZE, max_concurrency=PART_CONCURRENCY
            )

    def _put_large(self, key: str, source: Path | bytes) -> None:
        if self.exists(key):
            return
        with self._errors("write", key):
            obstore.put(
                self._store, key, source, use_multipart=True, chunk_size=PART_SIZE, max_concurrency=PART_CONCURRENCY
            )

    def move(self, key: str, new_key: str) -> None:
        """Copy ``key`` to ``new_key`` within the bucket, then delete ``key`` (no bytes
        pass through this machine); ``ObjectNotFoundError`` when ``key`` is absent."""
        with self._errors("move", key):
            obstore.rename(self._store, key, new_key)

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are fine."""
        with self._errors("delete", key), suppress(FileNotFoundError):
            obstore.delete(self._store, key)

    # -- reading ----------------------------------------------------------------------

    def sign_get(self, key: str, seconds: int) -> str | None:
        """A URL that reads ``key`` for ``seconds`` without credentials (what a server with
        ``--presign`` hands its clients), or None when these credentials cannot sign one."""
        try:
            return str(obstore.sign(self._store, "GET", key, timedelta(seconds=seconds)))  # type: ignore[call-overload]
        except (obs_exc.BaseError, TypeError, ValueError):
            return None

    def get(self, key: str) -> bytes:
        """All bytes of ``key``."""
        with self._errors("read", key):
            return bytes(obstore.get(self._store, key).bytes())

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of ``key`` from ``offset``."""
        if length <= 0:
            if not self.exists(key):
                raise self._missing(key)
            return b""
        with self._errors("read", key):
            return bytes(obstore.get_range(self._store, key, start=offset, length=length))

    def get_file(self, key: str, dest: Path) -> None:
        """Stream ``key`` into the new file ``dest`` (no file is left when it fails)."""
        self.fetch(key, dest)

    def fetch(self, key: str, dest: Path, version: str | None = None, if_match: str | None = None) -> dict[str, Any]:
        """Stream ``key`` (that ``version`` of it, when given) into the new file ``dest``;
        returns its metadata (``size``, ``e_tag``, ``version``).

        With ``if_match`` (an ETag) an object that was overwritten since is refused.
        """
        options: Any = {k: v for k, v in (("version", version), ("if_match", if_match)) if v}
        with self._errors("read", key):
            try:  # the request comes first: an absent key leaves no dest behind
                result = obstore.get(self._store, key, options=options or None)
            except obs_exc.PreconditionError as exc:
                raise StoreError(
                    f"{self.url}/{key} changed: its ETag is no longer {if_match} (it was "
                    "overwritten since it was recorded)"
                ) from exc
            try:
                with open(dest, "xb") as out:
                    for chunk in result.stream(min_chunk_size=PART_SIZE):
                        out.write(chunk)
            except BaseException:
                Path(dest).unlink(missing_ok=True)
                raise
            return dict(result.meta)

    def head(self, key: str) -> dict[str, Any] | None:
        """The metadata of ``key`` (``size``, ``e_tag``, ``version``), None when absent."""
        with self._errors("look up", key):
            try:
                return dict(obstore.head(self._store, key))
            except FileNotFoundError as exc:
                if _no_bucket(exc):
                    raise
                return None

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored (one HEAD request)."""
        return self.head(key) is not None

    def size(self, key: str) -> int | None:
        """The bytes stored under ``key``, None when absent (one HEAD request)."""
        meta = self.head(key)
        return None if meta is None else int(meta["size"])

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""
        for meta in self.list_meta(prefix):
            yield ObjectInfo(meta["path"], meta["size"], meta["last_modified"].timestamp())

    def list_meta(self, prefix: str = "") -> Iterator[dict[str, Any]]:
        """The metadata (``path``, ``size``, ``e_tag``, ...) of every object under ``prefix``."""
        # The store lists whole path segments; ask for the folder, filter to the prefix.
        folder = prefix.rpartition("/")[0] or None
        with self._errors("list", prefix or "/"):
            for batch in obstore.list(self._store, folder, chunk_size=1000):
                for meta in batch:
                    if meta["path"].startswith(prefix):
                        yield dict(meta)

    def local_path(self, key: str) -> Path | None:
        """Always None: the bytes are not on this machine."""
        return None

    # -- errors -----------------------------------------------------------------------

    def _missing(self, key: str) -> ObjectNotFoundError:
        return missing_key(key, self.url)

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Translate obstore's errors into Quire's by their class, naming the bucket and
        what to check. (Retrying is not done here: obstore's client retries throttling,
        5xx answers and dropped connections, bounded by ``max_retries`` and
        ``retry_timeout``; anything else fails at once.)"""
        RUNTIME.check(self.url)
        try:
            yield
        except (ObjectNotFoundError, StoreError):
            raise
        except FileNotFoundError as exc:  # obstore raises its NotFoundError as this builtin
            if _no_bucket(exc):
                raise self._no_bucket() from exc
            raise self._missing(key) from exc
        except Exception as exc:
            if obstore is None or not isinstance(exc, obs_exc.BaseError):
                raise
            raise self._translate(action, key, exc) from exc

    def _no_bucket(self) -> StoreError:
        return StoreError(f"the bucket of {self.url} does not exist{self._at()}; create it, or fix QUIRE_BLOBS")

    def _at(self) -> str:
        return f" (endpoint {self.endpoint})" if self.endpoint else ""

    def _translate(self, action: str, key: str, exc: Exception) -> StoreError:
        """The ``StoreError`` for one of obstore's errors (a ``BaseError`` subclass)."""
        what = f"cannot {action} {key} in {self.url}{self._at()}"
        answer = _Answer.of(exc)
        if isinstance(exc, (obs_exc.PermissionDeniedError, obs_exc.UnauthenticatedError)) or answer.status in (
            401,
            403,
        ):
            return StoreError(
                f"{what}: the server refused the credentials ({answer.code or 'access denied'}); check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the cloud's credentials) and "
                "the bucket's permissions"
            )
        if isinstance(exc, (obs_exc.InvalidPathError, obs_exc.NotSupportedError, obs_exc.UnknownConfigurationKeyError)):
            return StoreError(f"{what}: {_first_line(exc)}")
        if _no_bucket(exc):
            return self._no_bucket()
        if answer.status is None:  # GenericError without an HTTP answer: the request never got one
            if answer.plain_http_refused:
                return StoreError(f"{what}: the endpoint is plain http; set AWS_ALLOW_HTTP=true to allow that")
            if answer.unreachable:
                return StoreError(
                    f"{what}: the server cannot be reached; check AWS_ENDPOINT_URL (or the "
                    "cloud's endpoint) and the network"
                )
            return StoreError(f"{what}: {_first_line(exc)}")
        reason = f"HTTP {answer.status}" + (f" {answer.code}" if answer.code else "")
        tried = f" after {answer.retries} retries" if answer.retries is not None else ""
        return StoreError(f"{what}: the server answered {reason}{tried}; retry later")


@dataclass(frozen=True)
class _Answer:
    """What obstore's error says of the server's answer. obstore (0.12) carries the HTTP
    status, the S3 error code and the retries made only in its message, so they are read
    from there; which kind of error it is comes from its class."""

    status: int | None  #: the HTTP status, None when no answer came
    code: str | None  #: the store's error code (``<Code>`` of S3's XML), e.g. ``SlowDown``
    retries: int | None
    unreachable: bool  #: the connection failed (refused, DNS, timeout)
    plain_http_refused: bool  #: an ``http://`` endpoint without ``allow_http``

    @classmethod
    def of(cls, exc: BaseException) -> _Answer:
        text = str(exc)
        status = re.search(r"(\d{3}) [A-Z][\w ]+:", text)
        code = _S3_CODE.search(text)
        retries = re.search(r"after (\d+) retries", text)
        return cls(
            int(status.group(1)) if status else None,
            code.group(1) if code else None,
            int(retries.group(1)) if retries else None,
            "error sending request" in text or "tcp connect" in text.lower() or "dns error" in text,
            "BadScheme" in text,
        )


class ForkGuard:
    """Which process started obstore's I/O runtime: its threads do not survive a fork,
    so a process forked after the store was used is refused instead of hanging.

    One per process (:data:`RUNTIME`): the runtime is obstore's, shared by every store."""

    def __init__(self) -> None:
        self.first_used_in: int | None = None

    def check(self, url: str) -> None:
        """Note this process as the runtime's on first use; refuse a forked child."""
        if self.first_used_in is None:
            self.first_used_in = os.getpid()
        elif self.first_used_in != os.getpid():
            raise StoreError(
                f"cannot use {url} in this process: it was forked from one that had used the object "
                "store already, and the store's client does not survive a fork. Start workers with "
                "multiprocessing's 'spawn' or 'forkserver' method, or use the store only in the workers"
            )


RUNTIME = ForkGuard()


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _no_bucket(exc: Exception) -> bool:
    """Whether a "not found" answer is about the bucket, not the key."""
    return _Answer.of(exc).code in ("NoSuchBucket", "ContainerNotFound")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _first_line(exc: BaseException) -> str:
    # obstore appends a multi-line "Debug source" dump; the first line says what failed.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
