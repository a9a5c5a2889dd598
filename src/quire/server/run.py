"""``quire server``: check the store, then serve it with uvicorn until told to stop."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import QuireError, StoreError
from ..store.keys import Scope
from .app import Settings, create_app, log

#: seconds a stopping server gives the requests in flight (a commit, an upload) to finish
GRACE = 60
#: seconds :func:`serving` waits for a server it started to answer
STARTUP = 60


def serve(
    location: str | None,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    presign: bool = False,
    max_request: int = Settings.max_request,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> None:
    """Serve the store at ``location`` on ``host:port``.

    Before it listens it opens the store and reads its catalog and key ring once, so a
    store that cannot be reached stops it with the reason (exit 1), not the first
    request. On SIGINT or SIGTERM it stops taking requests and waits up to :data:`GRACE`
    seconds for those in flight: a commit under way is finished, never cut in half.
    """
    import uvicorn

    from ..store import open_store
    from ..store.keys import key_ring

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        store = open_store(location)
        keys = key_ring(store.catalog).keys()
        store.catalog.gc_epoch()
    except QuireError as exc:
        raise StoreError(f"quire server cannot serve {location or 'the store'}: {exc}") from None
    if not any(k.scope == "admin" and k.revoked_at is None for k in keys):
        log.warning(
            "the store %s has no admin key yet: make one with `quire server init --store %s`", store.url, store.url
        )
    settings = Settings(max_request=max_request, presign=presign)
    app = create_app(store, settings)
    scheme = "https" if ssl_certfile else "http"
    log.info(
        '{"serving": "%s", "on": "%s://%s:%d", "pages": "%s://%s:%d/"}',
        store.url,
        scheme,
        host,
        port,
        scheme,
        host,
        port,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,  # the app logs each request itself, without query strings
        log_level="warning",
        timeout_graceful_shutdown=GRACE,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )


@contextlib.contextmanager
def serving(location: str | None, scope: Scope = "write") -> Iterator[tuple[str, str]]:
    """A ``quire server`` process over the store at ``location`` on a free loopback port,
    and a key with ``scope`` made for it: ``(url, key)``. The key is revoked and the server
    stopped on the way out (``quire demo --server`` runs the demo through one)."""
    import socket
    import subprocess
    import tempfile
    import time
    import urllib.request

    from .keys import create_key, revoke_key

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    where = location or os.environ.get("QUIRE_STORE") or str(Path("~/.quire").expanduser())
    key, record = create_key(where, scope, label="quire demo --server")
    url = f"http://127.0.0.1:{port}"
    # Its log goes to a file, not a pipe no one reads (which, once full, would stop it).
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed once the server stopped, below
    server = subprocess.Popen(
        [sys.executable, "-m", "quire.cli", "server", "--store", where, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log_file.seek(0)
                    said = log_file.read().decode(errors="replace").strip().splitlines()
                    reason = said[-1] if said else "no answer"
                    raise StoreError(f"quire server did not start on {url}: {reason}") from None
                time.sleep(0.1)
        yield url, key
    finally:
        server.terminate()
        try:
            server.wait(GRACE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()
        revoke_key(where, record.id)
