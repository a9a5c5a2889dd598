"""``POST /api/v1/catalog/{verb}``: the catalog's verbs, one request each.

The body is ``{"args": [...], "kwargs": {...}, "runs": [...]}`` in wire form
(:mod:`quire.store.wire`); the answer ``{"result": ...}``, or an error as its class. Each
verb's scope and the projects it reaches come from :data:`quire.store.verbs.VERBS`;
``runs`` are the runs the client deferred (``defer_run``): deferred in turn on a handle of
the request's own (``Catalog.handle``), they are recorded in the verb's transaction, or,
when it fails, not at all (a retried request records a run once: recording is idempotent).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import TooLargeError, UsageError, ValidationError
from ..store import wire
from ..store.catalog import Catalog, RunRecord
from ..store.verbs import VERBS, Verb, bind, projects_reached
from .auth import Caller, caller

router = APIRouter()
#: bytes of one catalog request's JSON (a request is read whole; blobs go to /objects)
JSON_LIMIT = 32 << 20


@router.post("/catalog/{verb}", summary="Run one catalog verb (see the Catalog protocol)")
async def call(verb: str, request: Request, who: Annotated[Caller, Depends(caller)]) -> JSONResponse:
    spec = VERBS.get(verb)
    if spec is None:
        raise UsageError(f"this server has no catalog verb {verb[:60]!r}")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ValidationError("a catalog request is a JSON object {'args': [...], 'kwargs': {...}}")
    args, kwargs, runs = (wire.decode(body.get(k, d)) for k, d in (("args", []), ("kwargs", {}), ("runs", [])))
    if not isinstance(args, list) or not isinstance(kwargs, dict) or not isinstance(runs, list):
        raise ValidationError("a catalog request's args is a list, kwargs an object and runs a list")
    catalog: Catalog = request.app.state.store.catalog
    result = await run_in_threadpool(run_verb, catalog, who, verb, spec, args, kwargs, runs)
    return JSONResponse({"result": wire.encode(result)})


async def read_json(request: Request) -> Any:
    """The JSON body of ``request``: ``TooLargeError`` past :data:`JSON_LIMIT`,
    ``ValidationError`` when it is not JSON."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > JSON_LIMIT:
            raise TooLargeError(f"a catalog request may hold at most {JSON_LIMIT} bytes of JSON")
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise ValidationError(f"the request body is not JSON: {exc}") from None


def run_verb(
    catalog: Catalog, who: Caller, verb: str, spec: Verb, args: list[Any], kwargs: dict[str, Any], runs: list[Any]
) -> Any:
    """Check the caller may make the call, then make it (the deferred ``runs`` first)."""
    bound = bind(verb, args, kwargs)
    if runs and not spec.records_runs:
        raise ValidationError(f"runs are recorded with a change to the catalog, not with {verb!r}")
    deferred: dict[str, str] = {}  # run id → project, of the runs this request records
    for run in runs:
        if type(run) is not RunRecord:
            raise ValidationError("the runs sent with a request are run records")
        who.require("write", run.project)
        deferred[run.id] = run.project
    for reach in spec.reach:
        if reach == "any":
            who.require(spec.scope, who.project)
            continue
        if reach == "store":
            who.require(spec.scope)
            continue
        how, _, name = reach.partition(":")
        project: str | None
        if how == "run" and bound.arguments.get(name) in deferred:
            project, known = deferred[bound.arguments[name]], True
        else:
            project, known = projects_reached(catalog, reach, bound.arguments)
        if not known and who.project is not None:
            bound.arguments[name] = project = who.project  # a limited key sees its own project
        who.require(spec.scope, project)
    if runs:
        catalog = catalog.handle()  # recorded in the verb's own transaction, or not at all
        for run in runs:
            catalog.defer_run(run)
    result = getattr(catalog, verb)(*bound.args, **bound.kwargs)
    if verb == "projects":
        result = [name for name in result if who.allows("read", name)]
    elif verb == "resolve_pending":
        who.require("read", result.project)
    return result
