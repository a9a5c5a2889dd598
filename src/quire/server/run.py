"""``quire server``: check the store, then serve it with uvicorn until told to stop."""

from __future__ import annotations

import logging
import sys

from ..errors import QuireError, StoreError
from .app import Settings, create_app, log

#: seconds a stopping server gives the requests in flight (a commit, an upload) to finish
GRACE = 60


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
    log.info('{"serving": "%s", "on": "http://%s:%d"}', store.url, host, port)
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
