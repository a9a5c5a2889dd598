"""``HTTPObjects``: the :class:`~quire.store.objects.ObjectStore` protocol over a Quire server.

Reads are ``GET`` (with ``Range`` for a slot of a pack) and ``HEAD``; a server that hands
out presigned URLs answers ``307`` and the bytes come straight from its bucket, fetched
without the API key. Writes are streamed from the file where they are (no staging copy:
``upload_from_file``), and the server checks them on arrival; a file larger than the
server takes in one request goes in parts, and a part whose upload was cut off is sent
again, on whichever replica answers, without sending the parts stored already.
"""

from __future__ import annotations

import getpass
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ...errors import ObjectNotFoundError, UnreachableError
from .. import wire
from ..objects import Capabilities, ObjectInfo, missing_key
from ..staging import private_folder
from .session import ATTEMPTS, BACKOFF, Session

CHUNK = 1 << 20  #: bytes read or written at a time while streaming


class HTTPObjects:
    """The object store behind the Quire server ``session`` talks to."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.url = session.url
        uid = os.geteuid() if hasattr(os, "geteuid") else getpass.getuser()
        self._scratch = Path(tempfile.gettempdir()) / f"quire-staging-{uid}"

    def __repr__(self) -> str:
        return f"HTTPObjects({self.url!r})"

    @cached_property
    def capabilities(self) -> Capabilities:
        """Uploads from the file's place, 8 at once; deletes (gc, combining pack indexes)
        only with an admin key: the server would refuse them to any other."""
        admin = self.session.info()["key"]["scope"] == "admin"
        return Capabilities(upload_from_file=True, concurrency=8, deletes=admin)

    @cached_property
    def _part_size(self) -> int:
        return int(self.session.info()["max_request"])

    @property
    def _direct(self) -> httpx.Client:
        """For presigned URLs: no API key goes to the bucket."""
        return self.session.direct

    @staticmethod
    def _path(key: str) -> str:
        return f"{wire.API}/objects/{quote(key, safe='/')}"

    # -- writing ----------------------------------------------------------------------

    def temp_path(self) -> Path:
        """A fresh local file name to stage an upload in (``put_file`` removes it)."""
        return private_folder(self._scratch) / f"{uuid.uuid4().hex}.partial"

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self._part_size:
            tmp = self.temp_path()
            tmp.write_bytes(data)
            self.put_file(key, tmp)
            return
        self.session.request("PUT", self._path(key), content=data)

    def put_file(self, key: str, path: Path) -> None:
        try:
            self._upload(key, path)
        finally:
            path.unlink(missing_ok=True)

    def put_source(
        self,
        key: str,
        path: Path,
        digest: str,
        hashed: os.stat_result | None = None,
        report: Callable[[int], None] | None = None,
    ) -> None:
        """Upload the file at ``path`` (left in place); the server stores it only if it
        hashes to ``digest``, the digest ``key`` names (``ValidationError`` otherwise)."""
        self._upload(key, path, report)

    def _upload(self, key: str, path: Path, report: Callable[[int], None] | None = None) -> None:
        size = path.stat().st_size
        if size <= self._part_size:
            self._send(self._path(key), path, 0, size, lambda: self.size(key) == size)
            if report is not None:
                report(size)
            return
        begun = self.session.request("POST", f"{wire.API}/uploads", json={"key": key}).json()
        upload, part_size = begun["upload"], int(begun["part_size"])
        base = f"{wire.API}/uploads/{upload}"
        count = -(-size // part_size)
        for n in range(count):
            start, length = n * part_size, min(part_size, size - n * part_size)

            def arrived(n: int = n, length: int = length) -> bool:
                # any replica knows: the parts are objects of the store behind
                return bool(self.session.request("GET", base).json()["parts"].get(str(n)) == length)

            self._send(f"{base}/{n}", path, start, length, arrived)
            if report is not None:
                report(length)
        self.session.request("POST", f"{base}/complete", json={"parts": count})

    def _send(self, url: str, path: Path, start: int, length: int, arrived: Callable[[], bool]) -> None:
        """PUT ``length`` bytes of ``path`` from ``start`` to ``url``, streamed from the
        file; after a dropped connection send them again, unless ``arrived()`` says the
        server has them (the answer, not the bytes, was lost)."""
        for attempt in range(ATTEMPTS):
            try:
                self.session.request(
                    "PUT", url, content=_chunks(path, start, length), headers=_length(length), retry=False
                )
                return
            except UnreachableError:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(BACKOFF[attempt])
                if arrived():
                    return

    # -- reading ----------------------------------------------------------------------

    def _get(self, key: str, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            answer = self.session.request("GET", self._path(key), headers=headers)
        except ObjectNotFoundError:
            raise missing_key(key, self.url) from None
        if answer.status_code == 307:  # a presigned URL of the bucket behind the server
            answer = self._fetch_direct(key, answer.headers["location"], headers)
        return answer

    def _fetch_direct(self, key: str, url: str, headers: dict[str, str] | None) -> httpx.Response:
        try:
            answer = self._direct.get(url, headers=headers)
        except httpx.TransportError as exc:
            raise UnreachableError(f"could not reach the bucket behind {self.url}: {exc}") from None
        if answer.status_code == 404:
            raise missing_key(key, self.url)
        if answer.status_code >= 400:
            raise UnreachableError(f"the bucket behind {self.url} answered HTTP {answer.status_code} for {key}")
        return answer

    def get(self, key: str) -> bytes:
        return self._get(key).content

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            if not self.exists(key):
                raise missing_key(key, self.url)
            return b""
        answer = self._get(key, {"range": f"bytes={offset}-{offset + length - 1}"})
        if answer.status_code == 200:  # a server or bucket that ignored the range
            return answer.content[offset : offset + length]
        return answer.content

    def get_file(self, key: str, dest: Path) -> None:
        for attempt in range(ATTEMPTS):
            try:
                with self.session.stream("GET", self._path(key)) as answer:
                    if answer.status_code == 307:
                        with self._direct.stream("GET", answer.headers["location"]) as direct:
                            if direct.status_code == 404:
                                raise missing_key(key, self.url)
                            _write(direct.iter_bytes(CHUNK), dest)
                        return
                    if answer.status_code == 404:
                        raise missing_key(key, self.url)
                    self.session.check(answer)
                    _write(answer.iter_bytes(CHUNK), dest)
                    return
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS - 1:
                    raise UnreachableError(f"could not read {key} from the Quire server at {self.url}: {exc}") from None
                time.sleep(BACKOFF[attempt])

    def _head(self, key: str) -> int | None:
        answer = self.session.client.head(self._path(key))
        if answer.status_code == 404:
            return None
        self.session.check(answer)
        return int(answer.headers["x-quire-size"])

    def exists(self, key: str) -> bool:
        return self._retrying(self._head, key) is not None

    def size(self, key: str) -> int | None:
        found: int | None = self._retrying(self._head, key)
        return found

    def _retrying(self, fn: Callable[[str], Any], key: str) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                return fn(key)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS - 1:
                    raise UnreachableError(f"could not reach the Quire server at {self.url}: {exc}") from None
                time.sleep(BACKOFF[attempt])

    def local_path(self, key: str) -> Path | None:
        return None

    # -- listing and collecting --------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The objects under ``prefix``, as the server streams them (one record a line:
        a listing of millions takes neither side more than a line of memory).

        A connection dropped before the first record (most often a kept-alive socket the
        server closed as the request went out) is tried again; one dropped after records
        were given raises :class:`UnreachableError`, as a second listing could not say
        which of its records the caller already has without holding them all."""
        for attempt in range(ATTEMPTS):
            given = False
            try:
                with self.session.stream("GET", f"{wire.API}/objects", params={"prefix": prefix}) as answer:
                    self.session.check(answer)
                    for line in answer.iter_lines():
                        if line:
                            given = True
                            yield wire.decode(json.loads(line))
                return
            except httpx.TransportError as exc:
                if given or attempt == ATTEMPTS - 1:
                    where = f"could not list {prefix!r} on the Quire server at {self.url}"
                    raise UnreachableError(f"{where}: {exc}") from None
                time.sleep(BACKOFF[attempt])

    def delete(self, key: str) -> None:
        self.session.request("DELETE", self._path(key))

    def move(self, key: str, new_key: str) -> None:
        try:
            self.session.request("POST", f"{wire.API}/objects:move", json={"key": key, "new_key": new_key})
        except ObjectNotFoundError:
            raise missing_key(key, self.url) from None


def _length(size: int) -> dict[str, str]:
    return {"content-length": str(size), "content-type": "application/octet-stream"}


def _chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of ``path`` from ``start``, a chunk at a time (a body httpx streams)."""
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                return  # cut short: the server sees fewer bytes than announced and stores nothing
            left -= len(chunk)
            yield chunk


def _write(chunks: Iterator[bytes], dest: Path) -> None:
    with open(dest, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
