"""Error pages: what went wrong, in words, and for a missing thing, what exists instead."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import HTMLResponse

from ...errors import QuireError
from ...store import Store
from .render import page, url, version_url
from .signin import SESSION, SIGNIN, Viewer, new_signin_token

HEADINGS = {
    400: "Bad request",
    401: "Sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    503: "Unavailable",
}
CHOICES = 20  #: things that exist a 404 page lists


def is_page(request: Request) -> bool:
    """Whether ``request`` asked for a page (else the API: errors as JSON)."""
    path = request.url.path
    return not (path.startswith("/api/") or path == "/healthz")


def error_page(request: Request, exc: Exception, status: int, viewer: Viewer | None = None) -> HTMLResponse:
    """The page for ``exc``: the sign-in page for a missing or dead key, else its message."""
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        token = request.cookies.get(SIGNIN) or new_signin_token()
        answer = page(request, "signin.html", 401, token=token, error=str(exc), viewer=None, next=target, crumbs=[])
        answer.set_cookie(
            SIGNIN, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/signin"
        )
        if request.cookies.get(SESSION):
            answer.delete_cookie(SESSION, path="/")  # a revoked key's session ends here
        return answer
    message = str(exc) if isinstance(exc, QuireError) else str(getattr(exc, "detail", "")) or "error"
    choices = _what_exists(request) if status == 404 else []
    return page(
        request,
        "error.html",
        status,
        code=status,
        heading=HEADINGS.get(status, "Error"),
        message=message,
        choices=choices,
        viewer=viewer,
        crumbs=[],
    )


def _what_exists(request: Request) -> list[tuple[str, str]]:
    """Near a missing project, collection or version: the ones that exist (of those
    the caller may read; nothing at all for a caller without a live key)."""
    from .signin import viewer as viewer_of

    try:
        who = viewer_of(request)
    except QuireError:
        return []
    store: Store = request.app.state.store
    parts = [unquote(p) for p in request.url.path.split("/")[2:]] if request.url.path.startswith("/p/") else []
    try:
        if parts and not who.may("read", parts[0]):
            return []
        if len(parts) >= 1 and parts[0] in store.catalog.projects():
            if len(parts) >= 2 and parts[1] == "~runs":
                runs = store.catalog.project_runs(parts[0], descending=True, limit=CHOICES)
                return [(r.name or r.id, url(parts[0], "~runs", r.id)) for r in runs]
            if len(parts) >= 2 and parts[1] == "~pending":
                rows = store.catalog.pending_versions(parts[0], state=None)[-CHOICES:]
                return [(f"{p.collection} {p.distributed_id}", url(parts[0], "~pending", p.id)) for p in rows]
            if len(parts) >= 2:
                try:
                    versions = store.catalog.versions(parts[0], parts[1], descending=True, limit=CHOICES)
                    return [(f"{v.collection}:v{v.index}", version_url(v)) for v in versions]
                except QuireError:
                    pass
            return [(c.name, url(parts[0], c.name)) for c in store.catalog.collections(parts[0], limit=CHOICES)]
        return [(name, url(name)) for name in store.catalog.projects() if who.may("read", name)][:CHOICES]
    except QuireError:
        return []
