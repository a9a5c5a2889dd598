"""The pages: projects → collections → versions → a version's overview, files, previews,
diff and lineage; pending versions and their contributions; runs.

Every page reads through the store's protocols only what it shows: a page of versions is
one keyset page of the catalog, a folder view seeks past subfolders
(:meth:`Manifest.children`), a preview reads a bounded head or the rows shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse

from ...core.diff import diff_manifests
from ...core.manifest import Entry, Manifest, load_manifest
from ...core.merge import merge
from ...errors import ArtifactNotFoundError, ConflictError, ValidationError
from ...store import Store
from ...store.catalog import CollectionRecord, VersionRecord
from . import graphs, transfer
from .preview import preview as make_preview
from .render import _HERE, HEADERS, page, url, version_url
from .signin import SESSION, SESSION_SECONDS, SIGNIN, Viewer, check_form, new_signin_token, viewer

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]

PAGE = 50  #: rows of a listing page
FILES_PAGE = 100  #: children of a folder view page
DIFF_ROWS = 500  #: rows of each kind a diff page shows
HISTORY_ROWS = 500  #: history rows a run page reads
#: entries past which a pending page does not merge to name conflicts (a merge costs
#: about 7 µs an entry: 20,000 fit in the 200 ms a page may take)
CONFLICT_SCAN = 20_000
MAX_FORM = 64 << 10  #: bytes of a form body


async def form(request: Request) -> dict[str, str]:
    """A posted form's fields (the last value of each), at most :data:`MAX_FORM` bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise ValidationError(f"a form of more than {MAX_FORM} bytes")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


Form = Annotated[dict[str, str], Depends(form)]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _project(request: Request, who: Viewer, project: str) -> None:
    who.caller.require("read", project)
    _store(request).catalog.project(project)  # ArtifactNotFoundError: the 404 page lists what exists


def _version(request: Request, who: Viewer, project: str, collection: str, version: str) -> VersionRecord:
    _project(request, who, project)
    return _store(request).catalog.version(project, collection, version)


def _manifest(request: Request, v: VersionRecord) -> Manifest:
    return load_manifest(_store(request).blobs, v.root)


# -- signing in ---------------------------------------------------------------------------


@router.get("/signin")
def signin_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    token = request.cookies.get(SIGNIN) or new_signin_token()
    answer = page(request, "signin.html", status, token=token, error=error, viewer=None)
    answer.set_cookie(SIGNIN, token, httponly=True, samesite="strict", secure=_tls(request), path="/signin")
    return answer


@router.post("/signin")
def signin(request: Request, fields: Form) -> Response:
    token = request.cookies.get(SIGNIN, "")
    if not token or fields.get("csrf") != token:
        return signin_page(request, "the sign-in form expired: try again", 400)
    key = fields.get("key", "").strip()
    record = request.app.state.keys.key_for(key) if key else None
    if record is None:
        return signin_page(request, "that API key is not valid on this server (wrong, or revoked)", 401)
    answer = RedirectResponse(_next(fields.get("next")), status_code=303)
    answer.set_cookie(
        SESSION, key, max_age=SESSION_SECONDS, httponly=True, samesite="lax", secure=_tls(request), path="/"
    )
    answer.delete_cookie(SIGNIN, path="/signin")
    return answer


@router.post("/signout")
def signout(request: Request, who: Who, fields: Form) -> Response:
    check_form(who, fields)
    answer = RedirectResponse("/signin", status_code=303)
    answer.delete_cookie(SESSION, path="/")
    return answer


def _tls(request: Request) -> bool:
    # behind a TLS proxy uvicorn's --proxy-headers makes the scheme https
    return request.url.scheme == "https"


def _next(target: str | None) -> str:
    """Where to go after signing in: a page of this server only (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/static/quire.css")
def stylesheet() -> FileResponse:
    return FileResponse(
        _HERE / "static" / "quire.css", media_type="text/css", headers={"cache-control": "max-age=3600"}
    )


# -- projects and collections -------------------------------------------------------------


@router.get("/")
def home(request: Request, who: Who) -> HTMLResponse:
    catalog = _store(request).catalog
    names = [n for n in catalog.projects() if who.may("read", n)]
    return page(request, "home.html", viewer=who, projects=names, crumbs=[])


@router.get("/p/{project}")
def project_page(
    request: Request, who: Who, project: str, type: str | None = None, q: str | None = None, after: str | None = None
) -> HTMLResponse:
    _project(request, who, project)
    catalog = _store(request).catalog
    type_ = type or None
    if q:
        # The catalog lists by name; a search reads pages of names until a page of
        # matches (or a bounded number of names) is found.
        found: list[CollectionRecord] = []
        cursor, scanned = after, 0
        while len(found) < PAGE and scanned < 20 * PAGE * 10:
            batch = catalog.collections(project, type_, after=cursor, limit=PAGE * 10)
            if not batch:
                cursor = None
                break
            scanned += len(batch)
            for c in batch:
                cursor = c.name
                if q.lower() in c.name.lower():
                    found.append(c)
                    if len(found) == PAGE:
                        break
            else:
                if len(batch) < PAGE * 10:
                    cursor = None
                    break
        collections, more = found, cursor
    else:
        collections = catalog.collections(project, type_, after=after, limit=PAGE + 1)
        more = collections[PAGE - 1].name if len(collections) > PAGE else None
        collections = collections[:PAGE]
    total = catalog.count_collections(project, type_)
    pending = len(catalog.pending_versions(project))
    return page(
        request,
        "project.html",
        viewer=who,
        project=project,
        collections=collections,
        type=type_ or "",
        q=q or "",
        more=more,
        total=total,
        pending=pending,
        crumbs=[(project, url(project))],
    )


# -- pending versions ---------------------------------------------------------------------


@router.get("/p/{project}/~pending")
def pending_list(request: Request, who: Who, project: str) -> HTMLResponse:
    _project(request, who, project)
    rows = _store(request).catalog.pending_versions(project, state=None)
    rows.sort(key=lambda p: (p.state != "open", p.created_at), reverse=False)
    return page(
        request,
        "pending_list.html",
        viewer=who,
        project=project,
        pending=rows,
        crumbs=[(project, url(project)), ("pending", url(project, "~pending"))],
    )


@router.get("/p/{project}/~pending/{pending_id}")
def pending_page(request: Request, who: Who, project: str, pending_id: str) -> HTMLResponse:
    _project(request, who, project)
    catalog = _store(request).catalog
    p = _maybe(lambda: catalog.pending(pending_id))
    if p is None or p.project != project:
        raise ArtifactNotFoundError(f"project {project!r} has no pending version {pending_id!r}")
    contributions = catalog.contributions(p.id)
    conflicts: dict[str, list[tuple[str, str]]] | None = None
    scanned = sum(c.file_count for c in contributions) <= CONFLICT_SCAN
    if scanned and p.state == "open" and len(contributions) > 1:
        blobs = _store(request).blobs
        try:
            merge([(c.key, load_manifest(blobs, c.root)) for c in contributions], f"{p.collection}")
            conflicts = {}
        except ConflictError as exc:
            conflicts = exc.conflicts
    return page(
        request,
        "pending.html",
        viewer=who,
        p=p,
        contributions=contributions,
        conflicts=conflicts,
        scanned=scanned,
        may_abort=who.may("admin", project) and p.state == "open",
        crumbs=[(project, url(project)), ("pending", url(project, "~pending")), (p.distributed_id, "")],
    )


@router.post("/p/{project}/~pending/{pending_id}/abort")
def abort_pending(request: Request, who: Who, fields: Form, project: str, pending_id: str) -> Response:
    check_form(who, fields)
    _project(request, who, project)
    who.caller.require("admin", project)
    catalog = _store(request).catalog
    if catalog.pending(pending_id).project != project:
        raise ArtifactNotFoundError(f"project {project!r} has no pending version {pending_id!r}")
    catalog.abort_pending(pending_id)
    return RedirectResponse(url(project, "~pending", pending_id), status_code=303)


# -- runs ---------------------------------------------------------------------------------


@router.get("/p/{project}/~runs")
def runs_page(request: Request, who: Who, project: str, offset: int = 0) -> HTMLResponse:
    _project(request, who, project)
    offset = max(offset, 0)
    runs = _store(request).catalog.project_runs(project, descending=True, limit=PAGE + 1, offset=offset)
    return page(
        request,
        "runs.html",
        viewer=who,
        project=project,
        runs=runs[:PAGE],
        offset=offset,
        more=offset + PAGE if len(runs) > PAGE else None,
        crumbs=[(project, url(project)), ("runs", url(project, "~runs"))],
    )


@router.get("/p/{project}/~runs/{run_id}")
def run_page(request: Request, who: Who, project: str, run_id: str) -> HTMLResponse:
    _project(request, who, project)
    catalog = _store(request).catalog
    run = _maybe(lambda: catalog.run(run_id))
    if run is None or run.project != project:
        raise ArtifactNotFoundError(f"project {project!r} has no run {run_id!r}")
    history = catalog.history(run.id, 0, HISTORY_ROWS)
    # what the run logged (the sdk's own _runtime and _timestamp are left out, as in the chart)
    keys = sorted({k for row in history for k in row.data if not k.startswith("_")})
    return page(
        request,
        "run.html",
        viewer=who,
        run=run,
        logged=catalog.versions_of(run.id, "output"),
        used=catalog.versions_of(run.id, "input"),
        history=history,
        keys=keys,
        chart=graphs.line_chart_svg(graphs.numeric_series(history)),
        config=json.dumps(run.config, indent=2, sort_keys=True, default=str) if run.config else "",
        summary=json.dumps(run.summary, indent=2, sort_keys=True, default=str) if run.summary else "",
        crumbs=[(project, url(project)), ("runs", url(project, "~runs")), (run.name or run.id, "")],
    )


# -- collections and versions (after the ~ routes, which a name cannot shadow: no name holds ~) --


@router.get("/p/{project}/{collection}")
def collection_page(
    request: Request, who: Who, project: str, collection: str, after: int | None = None
) -> HTMLResponse:
    _project(request, who, project)
    catalog = _store(request).catalog
    c = catalog.collection(project, collection)
    rows = catalog.versions(
        project, collection, descending=True, after=(after, after) if after is not None else None, limit=PAGE + 1
    )
    more = rows[PAGE - 1].index if len(rows) > PAGE else None
    return page(
        request,
        "collection.html",
        viewer=who,
        c=c,
        versions=rows[:PAGE],
        more=more,
        crumbs=[(project, url(project)), (collection, url(project, collection))],
    )


# -- a version ----------------------------------------------------------------------------


def _crumbs(v: VersionRecord, *tail: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        (v.project, url(v.project)),
        (v.collection, url(v.project, v.collection)),
        (f"v{v.index}", version_url(v)),
        *tail,
    ]


@router.get("/p/{project}/{collection}/{version}")
def version_page(request: Request, who: Who, project: str, collection: str, version: str) -> HTMLResponse:
    v = _version(request, who, project, collection, version)
    catalog = _store(request).catalog
    parent = _maybe(lambda: catalog.version_by_id(v.parent_id)) if v.parent_id else None
    source = _maybe(lambda: catalog.version_by_id(v.source_id)) if v.source_id else None
    producer = _maybe(lambda: catalog.run(v.run_id)) if v.run_id else None
    users = catalog.runs_of(v.id, "input")
    return page(
        request,
        "version.html",
        viewer=who,
        v=v,
        tab="overview",
        parent=parent,
        source=source,
        producer=producer,
        users=users,
        metadata=json.dumps(v.metadata, indent=2, sort_keys=True, default=str) if v.metadata else "",
        may_write=who.may("write", v.project),
        crumbs=_crumbs(v),
    )


def _maybe(read: Any) -> Any:
    try:
        return read()
    except ArtifactNotFoundError:
        return None


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


@router.post("/p/{project}/{collection}/{version}/edit")
def edit_version(request: Request, who: Who, fields: Form, project: str, collection: str, version: str) -> Response:
    check_form(who, fields)
    v = _version(request, who, project, collection, version)
    who.caller.require("write", v.project)
    _store(request).catalog.update_version(
        v.id, aliases=_names(fields.get("aliases", "")), tags=_names(fields.get("tags", ""))
    )
    return RedirectResponse(version_url(v), status_code=303)


@router.get("/p/{project}/{collection}/{version}/files")
@router.get("/p/{project}/{collection}/{version}/files/{folder:path}")
def files_page(
    request: Request, who: Who, project: str, collection: str, version: str, folder: str = "", after: str | None = None
) -> Response:
    v = _version(request, who, project, collection, version)
    manifest = _manifest(request, v)
    folder = folder.strip("/")
    children: list[Entry | str] = []
    more = None
    for child in manifest.children(folder, after):
        if len(children) == FILES_PAGE:
            more = children[-1] if isinstance(children[-1], str) else children[-1].path.rsplit("/", 1)[-1]
            break
        children.append(child)
    if folder and not children and after is None:
        if manifest.get(folder) is not None:  # a file: its preview
            return RedirectResponse(version_url(v, "preview", *folder.split("/")), status_code=303)
        raise ArtifactNotFoundError(f"{v.project}/{v.collection}:v{v.index} has no folder {folder!r}")
    parts = folder.split("/") if folder else []
    trail = [(p, version_url(v, "files", *parts[: i + 1])) for i, p in enumerate(parts)]
    return page(
        request,
        "files.html",
        viewer=who,
        v=v,
        tab="files",
        folder=folder,
        children=children,
        more=more,
        crumbs=_crumbs(v, ("files", version_url(v, "files")), *trail),
    )


def _entry(manifest: Manifest, v: VersionRecord, path: str) -> Entry:
    entry = manifest.get(path)
    if entry is None:
        raise ArtifactNotFoundError(f"{v.project}/{v.collection}:v{v.index} has no file {path!r}")
    return entry


@router.get("/p/{project}/{collection}/{version}/preview/{path:path}")
def preview_page(
    request: Request,
    who: Who,
    project: str,
    collection: str,
    version: str,
    path: str,
    page_: Annotated[int, Query(alias="page")] = 0,
    sort: str | None = None,
    desc: int = 0,
) -> HTMLResponse:
    v = _version(request, who, project, collection, version)
    manifest = _manifest(request, v)
    entry = _entry(manifest, v, path)
    parts = path.split("/")

    def sort_url(column: str, descending: bool) -> str:
        return version_url(v, "preview", *parts, sort=column, desc=int(descending) or None)

    def page_url(n: int) -> str:
        return version_url(v, "preview", *parts, page=n or None, sort=sort, desc=desc or None)

    shown = make_preview(
        _store(request).blobs,
        manifest,
        entry,
        raw_url=version_url(v, "raw", *parts),
        page=max(page_, 0),
        sort=sort,
        descending=bool(desc),
        sort_url=sort_url,
        page_url=page_url,
    )
    trail = [(p, version_url(v, "files", *parts[: i + 1])) for i, p in enumerate(parts[:-1])]
    return page(
        request,
        "preview.html",
        viewer=who,
        v=v,
        tab="files",
        entry=entry,
        shown=shown,
        crumbs=_crumbs(v, ("files", version_url(v, "files")), *trail, (parts[-1], "")),
    )


@router.get("/p/{project}/{collection}/{version}/raw/{path:path}")
def raw(request: Request, who: Who, project: str, collection: str, version: str, path: str) -> Response:
    v = _version(request, who, project, collection, version)
    entry = _entry(_manifest(request, v), v, path)
    if entry.ref is not None:
        raise ArtifactNotFoundError(f"{path!r} is a reference to {entry.ref}: its bytes are not in this store")
    media = transfer.media_type(path)
    name = path.rsplit("/", 1)[-1]
    disposition = "inline" if media.startswith(("image/", "audio/", "video/")) else "attachment"
    headers = {
        **HEADERS,
        "content-length": str(entry.size),
        "content-disposition": f"{disposition}; filename*=UTF-8''{_rfc5987(name)}",
    }
    return StreamingResponse(
        transfer.stream(_store(request).blobs, entry.digest, entry.size or 0), media_type=media, headers=headers
    )


def _epoch(stamp: str) -> int:
    """An ISO 8601 time as seconds since 1970 (a tar member's time)."""
    import datetime as dt

    try:
        return int(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def _rfc5987(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@router.get("/p/{project}/{collection}/{version}/archive")
def archive_download(request: Request, who: Who, project: str, collection: str, version: str) -> Response:
    v = _version(request, who, project, collection, version)
    manifest = _manifest(request, v)
    name = f"{v.collection}-v{v.index}.tar"
    headers = {**HEADERS, "content-disposition": f"attachment; filename*=UTF-8''{_rfc5987(name)}"}
    stream: Iterator[bytes] = transfer.tar_stream(
        _store(request).blobs, manifest.after(None), f"{v.collection}-v{v.index}", mtime=_epoch(v.created_at)
    )
    return StreamingResponse(stream, media_type="application/x-tar", headers=headers)


@router.get("/p/{project}/{collection}/{version}/diff")
def diff_page(
    request: Request, who: Who, project: str, collection: str, version: str, against: str | None = None
) -> HTMLResponse:
    v = _version(request, who, project, collection, version)
    catalog = _store(request).catalog
    if against is None:
        other = _maybe(lambda: catalog.version_by_id(v.parent_id)) if v.parent_id else None
        if other is None and v.index > 0:
            other = _maybe(lambda: catalog.version(v.project, v.collection, f"v{v.index - 1}"))
    else:
        other = catalog.version(v.project, v.collection, against)
    result = diff_manifests(_manifest(request, other), _manifest(request, v)) if other is not None else None
    return page(
        request,
        "diff.html",
        viewer=who,
        v=v,
        tab="diff",
        other=other,
        diff=result,
        limit=DIFF_ROWS,
        crumbs=_crumbs(v, ("diff", "")),
    )


@router.get("/p/{project}/{collection}/{version}/lineage")
def lineage_page(request: Request, who: Who, project: str, collection: str, version: str) -> HTMLResponse:
    v = _version(request, who, project, collection, version)
    graph = graphs.lineage(_store(request).catalog, v)

    def href(node: graphs.Node) -> str:
        record: Any = node.record
        if node.kind == "run":
            return url(record.project, "~runs", record.id)
        return version_url(record)

    return page(
        request,
        "lineage.html",
        viewer=who,
        v=v,
        tab="lineage",
        svg=graphs.lineage_svg(graph, href),
        graph=graph,
        href=href,
        crumbs=_crumbs(v, ("lineage", "")),
    )
