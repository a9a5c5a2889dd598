"""The server's ASGI application: routes, the caller of each request, errors as JSON,
one log line per request."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .. import __version__
from ..errors import CommError, QuireError, UsageError, ValidationError
from ..store import Store, wire
from ..store.keys import key_ring

#: the request log: one JSON line per request (method, route, status, time, key id; never
#: a key, a query or a body)
log = logging.getLogger("quire.server")


@dataclass(frozen=True)
class Settings:
    """How a server runs (``quire server`` flags)."""

    #: bytes of one request body, beyond which it is 413 (a larger blob goes in parts)
    max_request: int = 256 << 20
    presign: bool = False  #: hand clients presigned URLs of the object store (S3/GCS/Azure)
    presign_seconds: int = 300  #: how long a presigned URL is good for


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """The application serving ``store``."""
    from . import catalog_api, meta_api, objects_api
    from .web import pages
    from .web.errors import error_page, is_page

    app = FastAPI(
        title="Quire",
        version=__version__,
        summary="Versioned artifacts for machine learning: the catalog and objects of one store.",
        # Served by meta_api behind a key (every route but /healthz needs one); no docs
        # page: it would load its script from a CDN, and servers are often offline.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.keys = key_ring(store.catalog)
    app.state.settings = settings or Settings()
    app.include_router(meta_api.router)
    app.include_router(catalog_api.router, prefix=wire.API)
    app.include_router(objects_api.router, prefix=wire.API)
    app.include_router(pages.router)  # the web UI: every path outside /api and /healthz

    @app.exception_handler(QuireError)
    async def quire_error(request: Request, exc: QuireError) -> Response:
        if is_page(request):
            return error_page(request, exc, wire.status_of(exc))
        return JSONResponse(wire.error_body(exc), status_code=wire.status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in exc.errors()[:3])
        if is_page(request):
            return error_page(request, ValidationError(f"malformed request: {where}"), 400)
        return JSONResponse(wire.error_body(ValidationError(f"malformed request: {where}")), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        error = UsageError(f"{request.method} {request.url.path}: {exc.detail}")
        if is_page(request):
            return error_page(request, error, exc.status_code)
        return JSONResponse(wire.error_body(error), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # The client went away before its body arrived (a dropped connection, a killed
        # process): nothing was stored, and it is no failure of the server's. Nobody reads
        # the answer; the request log records it as a 400.
        error = ValidationError(f"{request.method} {request.url.path}: the client left before its body arrived")
        return JSONResponse(wire.error_body(error), status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug of the server's, not the caller's: the traceback goes to the log (under
        # the request's id), the answer names the id and nothing of the internals.
        rid = getattr(request.state, "request_id", "-")
        log.error("request %s failed", rid, exc_info=exc)
        error = CommError(f"the Quire server failed on this request (request id {rid}); its log says why")
        return JSONResponse(wire.error_body(error), status_code=500)

    @app.middleware("http")
    async def request_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = rid = uuid.uuid4().hex[:12]
        start = time.perf_counter()
        status = 500
        try:
            answer = await call_next(request)
            status = answer.status_code
            answer.headers["x-request-id"] = rid
            return answer
        finally:
            route = request.scope.get("route")
            log.info(
                json.dumps(
                    {
                        "request": rid,
                        "method": request.method,
                        "route": getattr(route, "path", "-"),
                        "verb": request.path_params.get("verb"),
                        "status": status,
                        "ms": round((time.perf_counter() - start) * 1000, 1),
                        "key": getattr(request.state, "key_id", None),
                    }
                )
            )

    return app
