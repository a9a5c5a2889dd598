"""``/healthz``, ``/api/v1/store`` (what the server serves, and to whom) and a few plain
REST reads (``/api/v1/projects``) for scripts and the web pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..store import Store, wire
from .auth import Caller, caller

router = APIRouter()
Who = Annotated[Caller, Depends(caller)]


@router.get("/healthz", summary="Whether the server and the store behind it answer (no key needed)")
def healthz(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    store.catalog.gc_epoch()  # one read: a store that does not answer is a 503 (UnreachableError)
    return JSONResponse({"ok": True, "version": __version__})


@router.get(f"{wire.API}/store", summary="The store served, and the caller's key (id, scope, project)")
def store_info(request: Request, who: Who) -> JSONResponse:
    store: Store = request.app.state.store
    settings = request.app.state.settings
    return JSONResponse(
        {
            "catalog_id": store.catalog.catalog_id,
            "version": __version__,
            "key": {"id": who.key_id, "scope": who.scope, "project": who.project},
            "max_request": settings.max_request,
            "presign": settings.presign,
        }
    )


@router.get(f"{wire.API}/openapi.json", summary="This API's OpenAPI description")
def openapi(request: Request, who: Who) -> JSONResponse:
    who.require_scope("read")
    return JSONResponse(request.app.openapi())


@router.get(f"{wire.API}/projects", summary="The projects the caller's key may read")
def projects(request: Request, who: Who) -> JSONResponse:
    who.require_scope("read")
    store: Store = request.app.state.store
    names = [name for name in store.catalog.projects() if who.allows("read", name)]
    return JSONResponse({"projects": names})
