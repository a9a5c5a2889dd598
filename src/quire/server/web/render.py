"""Templates and the small helpers they use: sizes, times, links to pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from ... import __version__

_HERE = Path(__file__).parent

#: no script runs on any page (none is needed: the pages work without JavaScript), so
#: markup that got past the escaping still could not run; media only from this server
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def size(n: int | None) -> str:
    """``n`` bytes for a reader: ``1.5 MiB``."""
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def when(stamp: str | None) -> str:
    """An ISO 8601 time as ``2026-12-03 19:37 UTC``."""
    if not stamp:
        return "–"
    try:
        t = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def seg(value: str) -> str:
    """One path segment of a page's URL (a name may hold ``/``, ``?``, ``#`` or ``..``)."""
    return quote(value, safe="")


def path_url(path: str) -> str:
    """A file path inside a version as the tail of a URL (its ``/`` kept)."""
    return "/".join(seg(part) for part in path.split("/"))


def url(*segments: str, **query: Any) -> str:
    """``/p/<seg>/<seg>…?query`` from raw names (None-valued query fields left out)."""
    base = "/p/" + "/".join(seg(s) for s in segments)
    fields = {k: v for k, v in query.items() if v is not None and v != ""}
    return base + ("?" + urlencode(fields) if fields else "")


def version_url(v: Any, *tail: str, **query: Any) -> str:
    return url(v.project, v.collection, f"v{v.index}", *tail, **query)


def file_url(v: Any, kind: str, path: str, **query: Any) -> str:
    """The page ``kind`` (files, preview, raw) of the file or folder ``path`` of version ``v``."""
    return version_url(v, kind, *(path.split("/") if path else []), **query)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,  # every value is escaped unless it is Markup we built from escaped parts
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(size=size, when=when, seg=seg, path_url=path_url)
_env.globals.update(url=url, version_url=version_url, file_url=file_url, quire_version=__version__)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` rendered for ``request``."""
    html = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
