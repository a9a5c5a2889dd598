"""The server's ASGI application: routes, the caller of each request, errors as JSON."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .. import __version__
from ..errors import QuireError, ValidationError
from ..store import Store
from ..store import wire


@dataclass(frozen=True)
class Settings:
    """How a server runs (``quire server`` flags)."""

    max_request: int = 64 << 20  #: bytes of one request body, beyond which it is 413
    presign: bool = False  #: hand clients presigned URLs of the object store (S3/GCS/Azure)
    presign_seconds: int = 300  #: how long a presigned URL is good for


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """The application serving ``store``."""
    from . import catalog_api, meta_api, objects_api

    app = FastAPI(
        title="Quire",
        version=__version__,
        openapi_url=f"{wire.API}/openapi.json",
        docs_url=f"{wire.API}/docs",
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings or Settings()
    app.include_router(meta_api.router)
    app.include_router(catalog_api.router, prefix=wire.API)
    app.include_router(objects_api.router, prefix=wire.API)

    @app.exception_handler(QuireError)
    async def quire_error(request: Request, exc: QuireError) -> JSONResponse:
        return JSONResponse(wire.error_body(exc), status_code=wire.status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = ValidationError(f"malformed request: {exc.errors()[:3]}")
        return JSONResponse(wire.error_body(error), status_code=400)

    return app
