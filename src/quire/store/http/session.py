"""One connection to a Quire server: the base URL, the API key, error translation."""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ...errors import CommError, UnreachableError
from .. import wire

#: seconds to wait for a server's answer (a commit's transaction or a pack's upload)
TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=300.0, pool=60.0)
ATTEMPTS = 5  #: tries of a request that could not be sent or lost its answer
BACKOFF = (0.2, 0.5, 1.0, 2.0)  #: seconds before each next try
#: catalog verbs not sent twice: a second one would fail where the first succeeded
ONCE = frozenset({"create_project", "begin_sweep"})


def _reason(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__


def credentials_file() -> Path:
    """Where ``quire login`` keeps API keys (mode 0600): ``$QUIRE_CONFIG_DIR`` else
    ``~/.config/quire``, file ``credentials.json`` (``{"<server url>": "<key>"}``)."""
    base = os.environ.get("QUIRE_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "quire"
    )
    return Path(base) / "credentials.json"


def server_url(url: str) -> str:
    """``url`` in the one form keys are saved under: no trailing slash."""
    return url.rstrip("/")


def api_key(url: str) -> str | None:
    """The API key for the server at ``url``: ``$QUIRE_API_KEY``, else the one saved by
    ``quire login``, else None (every call then answers 401)."""
    if os.environ.get("QUIRE_API_KEY"):
        return os.environ["QUIRE_API_KEY"]
    try:
        saved = json.loads(credentials_file().read_text())
    except (OSError, ValueError):
        return None
    key = saved.get(server_url(url)) if isinstance(saved, dict) else None
    return key if isinstance(key, str) else None


class Session:
    """Requests to one server with one key; every failure is a Quire error."""

    def __init__(self, url: str, key: str | None, client: Callable[[], httpx.Client] | None = None) -> None:
        """``client()`` makes the ``httpx.Client`` to send through (default: one to ``url``;
        a test passes one whose transport calls an app in process)."""
        self.url = server_url(url)  #: the server, fit to show (it holds no secret)
        self._info: dict[str, Any] | None = None
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._make = client or (lambda: httpx.Client(base_url=self.url, timeout=TIMEOUT))
        self._client: httpx.Client | None = None
        self._direct: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        """The connection pool, opened on first use (again after :meth:`close`)."""
        with self._lock:
            if self._client is None:
                client = self._make()
                client.follow_redirects = False  # a presigned URL is fetched without the key
                client.headers.update(self._headers)
                self._client = client
                # A session dropped unclosed (a store a script forgot) closes its sockets
                # when it goes, instead of leaving them to the garbage collector.
                weakref.finalize(self, client.close)
            return self._client

    def request(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> httpx.Response:
        """Send one request to ``path`` (under the server's URL) and return its answer;
        an error answer is raised as the Quire error it carries. A request that could not
        be sent, or whose answer was lost, is sent again a few times when ``retry`` (every
        call of the API is safe to repeat but the ones that say otherwise)."""
        for attempt in range(ATTEMPTS):
            try:
                answer = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if not retry or attempt == ATTEMPTS - 1 or isinstance(exc, httpx.UnsupportedProtocol):
                    raise UnreachableError(f"could not reach the Quire server at {self.url}: {_reason(exc)}") from None
                time.sleep(BACKOFF[attempt])
                continue
            if answer.status_code >= 400:
                raise self.error(answer)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(self, method: str, path: str, **kwargs: Any) -> Any:
        """``client.stream`` (a context manager of the answer), errors raised as Quire errors
        by the caller's :meth:`check`."""
        return self.client.stream(method, path, **kwargs)

    def check(self, answer: httpx.Response) -> httpx.Response:
        """``answer``, or the Quire error it carries (reading a streamed body first)."""
        if answer.status_code >= 400:
            answer.read()
            raise self.error(answer)
        return answer

    def error(self, answer: httpx.Response) -> CommError | Exception:
        """The Quire error an error answer carries."""
        try:
            body = answer.json()
        except ValueError:
            body = None
        exc = wire.error_from(body, answer.status_code)
        if body is None and answer.status_code == 503:
            return UnreachableError(f"the Quire server at {self.url} is unavailable (HTTP 503)")
        return exc

    def call(self, verb: str, args: list[Any], kwargs: dict[str, Any], runs: list[Any] | None = None) -> Any:
        """Run the catalog verb ``verb`` on the server and return its decoded result
        (``runs``: deferred runs the server records first)."""
        body = {"args": wire.encode(args), "kwargs": wire.encode(kwargs), "runs": wire.encode(runs or [])}
        answer = self.request("POST", f"{wire.API}/catalog/{verb}", json=body, retry=verb not in ONCE)
        return wire.decode(answer.json()["result"])

    def info(self) -> dict[str, Any]:
        """What ``GET /api/v1/store`` says: the catalog's id, the caller's key (id, scope,
        project), the server's request limit; asked once per session."""
        if self._info is None:
            self._info = self.request("GET", f"{wire.API}/store").json()
        return self._info

    @property
    def direct(self) -> httpx.Client:
        """A client that sends no key: for the presigned URLs of the bucket behind."""
        with self._lock:
            if self._direct is None:
                self._direct = httpx.Client(timeout=TIMEOUT)
                weakref.finalize(self, self._direct.close)
            return self._direct

    def close(self) -> None:
        """Close the connections (they reopen on next use)."""
        with self._lock:
            clients, self._client, self._direct = (self._client, self._direct), None, None
        for client in clients:
            if client is not None:
                client.close()
