"""Fixtures for the server backend: a Quire server in this process, or as a subprocess.

- ``server_store``: the app of ``quire server`` over a fresh embedded store, reached in
  process (starlette's ``TestClient``, an ``httpx.Client`` whose transport calls the app:
  the same requests and answers as over a socket, without one). ``QUIRE_STORE`` is set to
  its URL and ``QUIRE_API_KEY`` to an admin key, as a user would set them; ``key(scope,
  project)`` makes more keys.
- ``server_process``: a real ``quire server`` subprocess on a free loopback port, over a
  fresh embedded store (first key made by ``quire server init``, as the docs say);
  ``served_store`` is one in ``QUIRE_STORE`` (what ``store_kind``'s server run uses).
- ``behind(location)``: the store behind a test server (tests that look behind a store).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import free_port
from support import patience

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: the URL of the in-process server (no socket: the client's transport calls the app)
IN_PROCESS = "http://quire.test"


class InProcessServer:
    """The app of ``quire server`` over the store at ``behind``, reached without a socket."""

    def __init__(self, behind: str, url: str = IN_PROCESS, **settings: Any) -> None:
        from starlette.testclient import TestClient

        from quire.server.app import Settings, create_app
        from quire.store import open_store
        from quire.store.keys import key_ring

        self.url = url
        self.location = behind
        self.store = open_store(behind)
        self.keys = key_ring(self.store.catalog)
        self.app = create_app(self.store, Settings(**settings))
        self._client = TestClient  # type: ignore[misc]
        self.admin = self.key("admin")

    def key(self, scope: str, project: str | None = None) -> str:
        """A new key with ``scope`` (limited to ``project``)."""
        key, _ = self.keys.create_key(scope, project)  # type: ignore[arg-type]
        return key

    def client(self, key: str | None = None) -> Any:
        """A fresh ``httpx.Client`` to the app, sending ``key`` (if any)."""
        client = self._client(self.app, base_url=self.url, raise_server_exceptions=False)
        if key:
            client.headers["authorization"] = f"Bearer {key}"
        return client

    def close(self) -> None:
        """Close the store behind (again: closing its clients' stores may have called it
        after the store's own connections closed)."""
        self.store.catalog.close()

    def connect(self, url: str) -> Any:
        """What the ``http`` scheme opens while this server is registered."""
        from quire.store.http import connect

        return connect(url, client=self.client)


@pytest.fixture
def server_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessServer]:
    """An in-process server over a fresh embedded store, in ``QUIRE_STORE``."""
    from quire.store import registry

    server = InProcessServer(str(tmp_path / "behind"))
    registry.register_store("http", server.connect)
    monkeypatch.setenv("QUIRE_STORE", server.url)
    monkeypatch.setenv("QUIRE_API_KEY", server.admin)
    yield server
    import quire.sdk.run
    from quire.store import close_stores

    quire.sdk.run.finish()
    close_stores()
    server.close()
    registry.register_store("http", registry._server)
    BEHIND.pop(server.url, None)


#: server URL → the location of the store behind it, for tests that look behind the server
BEHIND: dict[str, str] = {}


def behind(location: str | os.PathLike[str] | None = None) -> str:
    """The store a test server at ``location`` (default ``$QUIRE_STORE``) serves, for a
    test that looks behind the store; ``location`` itself when it is no test server."""
    where = os.fspath(location if location is not None else os.environ["QUIRE_STORE"])
    return BEHIND.get(where.rstrip("/"), where)


def not_on_a_server(why: str) -> None:
    """Skip the test when its store is a server's: it looks into the workings of a store
    that run in the server's process there (``why`` says which)."""
    if os.environ.get("QUIRE_STORE", "").startswith(("http://", "https://")):
        pytest.skip(f"not through a server: {why}")


class ServerProcess:
    """A ``quire server`` subprocess on loopback, over the store at ``behind``. Its first
    admin key comes from ``quire server init`` (``init``), or, quicker, from the key ring."""

    def __init__(self, behind: str, env: dict[str, str] | None = None, *args: str, init: bool = True) -> None:
        self.behind = behind
        self.env = {**os.environ, **(env or {})}
        self.env.pop("QUIRE_API_KEY", None)
        # This checkout's Quire, wherever the test runs (a relative PYTHONPATH, e.g.
        # ``src:tests``, means another copy, or none, once the test's cwd changed)
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, self.env.get("PYTHONPATH")) if p)
        if init:
            self.admin = json.loads(self.cli("server", "init", "--store", behind, "--json").stdout)["key"]
        else:
            from quire.store import open_store
            from quire.store.keys import key_ring

            self.admin = key_ring(open_store(behind).catalog).create_key("admin")[0]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(behind + ".server.log") if "://" not in behind else Path(f"/tmp/quire-server-{self.port}.log")
        self.proc = self._start(*args)
        BEHIND[self.url] = behind

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "quire.cli", *args], env=self.env, capture_output=True, text=True, check=check
        )

    def key(self, scope: str, project: str | None = None) -> str:
        more = ["--project", project] if project else []
        made = self.cli("server", "key", "create", "--store", self.behind, "--scope", scope, *more, "--json")
        return str(json.loads(made.stdout)["key"])

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "quire.cli", "server", "--store", self.behind, "--port", str(self.port), *args],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + patience(20)
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).close()
                return proc
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    said = self.log.read_text()[-2000:]
                    raise RuntimeError(f"quire server did not start on {self.url}: {said}") from None
                time.sleep(0.1)

    def restart(self, *args: str) -> None:
        self.stop()
        self.proc = self._start(*args)

    def stop(self) -> None:
        BEHIND.pop(self.url, None)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def served_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    """A real ``quire server`` over a fresh embedded store, in ``QUIRE_STORE`` with an
    admin key in ``QUIRE_API_KEY`` (``store_kind``'s server run: subprocesses the test
    starts reach it too)."""
    server = ServerProcess(str(tmp_path / "behind"), init=False)
    monkeypatch.setenv("QUIRE_STORE", server.url)
    monkeypatch.setenv("QUIRE_API_KEY", server.admin)
    yield server
    import quire.sdk.run
    from quire.store import close_stores

    quire.sdk.run.finish()
    close_stores()
    server.stop()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real ``quire server`` on a loopback port over a fresh embedded store."""
    server = ServerProcess(str(tmp_path / "behind"))
    yield server
    server.stop()
