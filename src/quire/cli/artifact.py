"""``quire artifact …``: log, download, list, alias, diff and verify versions."""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import quire
from quire.errors import ArtifactNotFoundError, CorruptBlobError, StoreError, ValidationError
from quire.sdk.collections import OFFSET_LIMIT, PAGE_LIMIT
from quire.sdk.names import check_alias, check_name

from . import cache, pending
from .common import (
    VERSION_COLUMNS,
    JsonFlag,
    api,
    count,
    describe,
    emit,
    fail,
    human_size,
    settings,
    table,
    version_rows,
    working,
)

if TYPE_CHECKING:
    from quire.sdk.api import ArtifactCollection

app = typer.Typer(help="Log, download, list, alias, diff and verify artifact versions.", no_args_is_help=True)
app.add_typer(pending.app, name="pending")
app.add_typer(cache.app, name="cache")  # W&B's `wandb artifact cache cleanup`; also `quire cache`

#: how many rows a listing shows unless --limit says otherwise
DEFAULT_LIMIT = 50

Address = Annotated[str, typer.Argument(metavar="NAME", help="[project/]name[:vN|:alias]; no suffix means latest.")]


#: a URI's scheme and location (RFC 3986's scheme characters), the rest checked by add_reference
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://.")


class Policy(StrEnum):
    """How ``put`` treats the files (see ``Artifact.add_file``)."""

    mutable = "mutable"
    immutable = "immutable"


@app.command()
def put(
    ctx: typer.Context,
    path: Annotated[
        str,
        typer.Argument(
            help="A file or a folder to log, or a URI (s3://, gs://, file://, http(s)://) to log as a reference.",
            show_default=False,
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="[entity/][project/]name of the collection (default: the path's name)."),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="Free text describing the version.")
    ] = None,
    type_: Annotated[str, typer.Option("--type", "-t", help="The artifact type.")] = "dataset",
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", "-a", help="An alias for the version (repeatable); latest is always set."),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--id", help="Log from the run with this id (reopened if it exists).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="With --id: reopen that run (as W&B's). Alone: a new run (Quire keeps no last run)."
        ),
    ] = False,
    skip_cache: Annotated[
        bool,
        typer.Option(
            "--skip_cache",
            "--skip-cache",
            help="Keep no copy of the files when adding them (as --policy immutable): "
            "they must not change until the upload is done.",
        ),
    ] = False,
    policy: Annotated[
        Policy,
        typer.Option(
            help="mutable: keep a copy now, so later edits of the files cannot change the version; "
            "immutable: trust the files not to change until the upload is done."
        ),
    ] = Policy.mutable,
    json_: JsonFlag = False,
) -> None:
    """Log a file, a folder or a URI reference as a version of a collection.

    The version logged becomes latest. If the files equal a version the collection
    already has, no version is made: that one is reported, gets the aliases and
    becomes latest again (as in W&B).
    """
    reference = "://" in path  # as W&B tells a URI from a path
    if reference and not _URI.match(path):
        raise ValidationError(f"invalid URI {path!r}: write scheme://location, e.g. s3://bucket/key or file:///data")
    local = Path(path)
    default_name = path.rstrip("/").rsplit("/", 1)[-1] if reference else local.resolve().name
    project, collection = _split_collection(name or default_name)
    artifact = quire.Artifact(collection, type_, description=description)
    aliases = [check_alias(a) for a in alias or []]
    # Checked before the run starts, so bad input writes nothing.
    if reference:
        with working(f"checking {path}"):
            artifact.add_reference(path)
    elif not local.exists():
        raise ValidationError(f"{path} does not exist: give a file, a folder or a URI such as s3://bucket/key")
    with _cli_run(ctx, project, run_id, resume) as run:
        committed = False
        if not reference:
            with working(f"storing {path}", total=lambda: _bytes_below(local)):
                if local.is_dir():
                    artifact.add_dir(local, skip_cache=skip_cache, policy=policy.value)
                else:
                    artifact.add_file(local, skip_cache=skip_cache, policy=policy.value)
                if policy is Policy.mutable:  # the commit writes the last pack: the bar's last bytes
                    run.log_artifact(artifact, aliases=aliases)
                    committed = True
        if not committed:
            run.log_artifact(artifact, aliases=aliases)
        # A new version's first run is this one; an equal older version was logged before.
        logged = artifact.logged_by()
        created = logged is not None and logged.id == run.id
    if json_:
        emit({**describe(artifact), "created": created})
        return
    what = "Logged" if created else "No new version: the files equal"
    typer.echo(f"{what} {artifact.qualified_name} ({_summary(artifact)}).")


def _cli_run(ctx: typer.Context, project: str | None, run_id: str | None, resume: bool) -> quire.Run:
    """The run ``put`` logs from: a new one, or (``--id``) the run with that id, reopened
    when it exists (W&B's ``wandb artifact put --id``)."""
    store = settings(ctx).store
    if run_id is None:
        if resume:  # W&B resumes the last run started in this folder; Quire keeps none
            typer.echo("Note: --resume without --id starts a new run (Quire keeps no last run)", err=True)
        return quire.init(project=project, job_type="cli", store=store)
    # resume= comes with init's whole W&B signature (issue 12, item 1), typed there.
    reopen: dict[str, Any] = {"id": run_id, "resume": "allow"}
    return quire.init(project=project, job_type="cli", store=store, **reopen)


@app.command()
def get(
    ctx: typer.Context,
    name: Address,
    root: Annotated[
        Path | None, typer.Option(help="The folder to download into (default: ./artifacts/NAME:vN).")
    ] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="The type the artifact must have (refused otherwise).")
    ] = None,
    path_prefix: Annotated[
        str | None, typer.Option(help="Download only the files at or below this path of the artifact.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Download a version's files into a folder."""
    artifact = api(ctx).artifact(name, type_)
    chosen = artifact.manifest.under(path_prefix) if path_prefix else None
    files = len(chosen) if chosen is not None else artifact.file_count
    if path_prefix and not files:
        raise ArtifactNotFoundError(f"{artifact.qualified_name} has no files at or below {path_prefix!r}")
    with working(
        f"downloading {artifact.qualified_name}",
        total=lambda: sum(e.size or 0 for e in chosen) if chosen is not None else artifact.size,
    ):
        target = artifact.download(root, path_prefix=path_prefix)
    if json_:
        emit({**describe(artifact), "root": str(Path(target).resolve()), "downloaded_files": files})
        return
    typer.echo(f"Downloaded {artifact.qualified_name} ({count(files, 'file')}) to {target}")


Limit = Annotated[int, typer.Option("--limit", min=1, max=PAGE_LIMIT, help="Show at most this many (one page).")]
Offset = Annotated[int, typer.Option("--offset", min=0, max=OFFSET_LIMIT, help="Skip this many first.")]


def _next_page(command: str, offset: int, limit: int, shown: int, total: int, json_: bool) -> None:
    """Say which rows were shown and, when more are left, the command that shows the next
    page (on stderr with --json, so stdout stays the page's JSON list)."""
    if total <= offset + shown:
        return
    flags = f" --offset {offset + shown}" + (f" --limit {limit}" if limit != DEFAULT_LIMIT else "")
    where = f"{offset + 1}-{offset + shown}" if shown else "none"
    typer.echo(f"Showing {where} of {total}; next page: {command}{flags}{' --json' if json_ else ''}", err=json_)


@app.command("ls")
def list_collections(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Argument(help="A project (default: every project).")] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="Only collections of this type.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    json_: JsonFlag = False,
) -> None:
    """List the latest version of each collection: its type, when it last changed, its
    size and its name (W&B's columns), by type, then name; a page of --limit at a time.

    The collections' rows are read whole (no version is), the latest version of those on
    the page only.
    """
    quire_api = api(ctx)
    projects = [check_name(project, "project name")] if project else [p.name for p in quire_api.projects()]
    every = sorted(
        (c for p in projects for c in quire_api.artifact_collections(p, type_)),
        key=lambda c: (c.type, c.project, c.name),
    )
    collections = every[offset : offset + limit]
    latest = {(c.project, c.name): _latest(quire_api, c) for c in collections}
    command = "quire artifact ls" + (f" {project}" if project else "") + (f" --type {type_}" if type_ else "")
    if json_:
        emit([_collection_data(c, latest[c.project, c.name]) for c in collections])
        _next_page(command, offset, limit, len(collections), len(every), json_)
        return
    if not collections:
        where = f" (project {project})" if project else ""
        past = f" past the first {offset} ({len(every)} in all)" if offset and every else ""
        typer.echo(f"No artifacts in {quire_api.store.url}{where}{past}")
        return
    rows = []
    for c in collections:
        found = latest[c.project, c.name]
        shown = f"{c.name}:{found.version}" if found else f"{c.name} (no versions)"
        if not project:
            shown = f"{c.project}/{shown}"
        updated = found.updated_at[:16].replace("T", " ") if found else "-"
        rows.append([c.type, updated, human_size(found.size) if found else "0 B", shown])
    table(None, ("type", "updated (UTC)", "size", "name"), rows)
    _next_page(command, offset, limit, len(collections), len(every), json_)


def _latest(quire_api: quire.Api, c: ArtifactCollection) -> quire.Artifact | None:
    """The collection's latest version (None: every version was deleted)."""
    try:
        return quire_api.artifact(f"{c.project}/{c.name}:latest")
    except ArtifactNotFoundError:
        return None


@app.command()
def versions(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="[project/]name of a collection.")],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    json_: JsonFlag = False,
) -> None:
    """List the versions of a collection, oldest first, a page of --limit at a time
    (only the page's versions are read)."""
    from quire.sdk.collections import version_listing

    quire_api = api(ctx)
    collection = _find_collection(quire_api, name)
    listing = version_listing(quire_api.store, collection.project, collection.name, per_page=limit, offset=offset)
    found = listing[:limit]
    # Counted (one COUNT) only when there is more than the page: then the total says how much.
    total = len(listing) if listing.more else offset + len(found)
    command = f"quire artifact versions {collection.project}/{collection.name}"
    if json_:
        emit([describe(v) for v in found])
        _next_page(command, offset, limit, len(found), total, json_)
        return
    table(f"{collection.project}/{collection.name} ({collection.type})", VERSION_COLUMNS, version_rows(found))
    _next_page(command, offset, limit, len(found), total, json_)


@app.command()
def alias(
    ctx: typer.Context,
    name: Address,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="The alias, e.g. best or production.")],
    remove: Annotated[bool, typer.Option("--remove", help="Remove the alias instead of adding it.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Add an alias to a version (moving it from the version that held it), or remove it.

    latest may be moved too (it names the version logged last until then, and moves on
    with the next version logged), never removed.
    """
    check_alias(alias_name)
    quire_api = api(ctx)
    artifact = quire_api.artifact(name)
    if remove and alias_name == "latest":
        raise ValidationError(
            "'latest' cannot be removed: it moves on by itself to the next version logged; "
            f"to point it elsewhere, run `quire artifact alias {artifact.project}/{artifact.collection_name}:vN latest`"
        )
    if remove:
        if alias_name not in artifact.aliases:
            raise ArtifactNotFoundError(
                f"{artifact.qualified_name} has no alias {alias_name!r}", sorted(artifact.aliases)
            )
        artifact.aliases.remove(alias_name)
        done = f"Removed {alias_name!r} from {artifact.qualified_name}"
    else:
        address = f"{artifact.project}/{artifact.collection_name}:{alias_name}"
        held_by = quire_api.artifact(address).version if quire_api.artifact_exists(address) else None
        if alias_name not in artifact.aliases:
            artifact.aliases.append(alias_name)
        moved = f" (moved from {held_by})" if held_by and held_by != artifact.version else ""
        done = f"{alias_name!r} now names {artifact.qualified_name}{moved}"
    artifact.save()
    if json_:
        emit(describe(artifact))
        return
    typer.echo(f"{done}; its aliases: {', '.join(sorted(artifact.aliases)) or 'none'}")


@app.command()
def verify(
    ctx: typer.Context,
    name: Address,
    root: Annotated[
        Path | None,
        typer.Option(
            help="A downloaded folder to check. Without it, the store's copy is checked: every "
            "blob read from the store (not the local cache) and hashed, nothing written to disk."
        ),
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Check the store's copy and store any damaged or missing file again "
            "from --from DIR (exit 1 if some are still missing).",
        ),
    ] = False,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="DIR",
            help="With --repair: a folder holding the version's files, "
            "found by their path below it first, else by their content.",
        ),
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Check that a folder, or the store, holds exactly a version's bytes (exit 1 if not).

    The store's copy is read pack by pack, packs and large files in parallel, and the
    missing and corrupt files are listed by path. A corrupt blob found is set aside, as
    every read does: it then counts as missing, and the next log of those bytes stores
    them again. With --repair --from DIR, damaged or missing files of the store's copy
    are restored from the files below DIR, and the store is checked again.
    """
    if repair != (source is not None):
        raise typer.BadParameter("--repair and --from DIR go together", param_hint="--repair/--from")
    if repair and root is not None:
        raise typer.BadParameter("--root checks a folder; --repair checks and mends the store", param_hint="--root")
    artifact = api(ctx).artifact(name)
    if source is not None:
        _repair(artifact, source, json_)
        return
    if root is None:
        _check_store(artifact, json_)
        return
    artifact.verify(root)
    if json_:
        emit({**describe(artifact), "verified": str(root), "ok": True})
        return
    typer.echo(f"OK: {root} holds {artifact.qualified_name} intact ({_summary(artifact)}).")


def _check_store(artifact: quire.Artifact, json_: bool) -> None:
    """``verify`` without ``--root``: list the damaged files; fail if there are any."""
    name = artifact.qualified_name
    with working(f"verifying {name} in the store", total=lambda: artifact.size):
        try:
            report = artifact.check_store()
        except CorruptBlobError as exc:  # a page of the manifest
            raise StoreError(
                f"the manifest of {name} is damaged in the store (blob {exc.digest} at {exc.where} is corrupt"
                f"{', now set aside' if exc.set_aside else ''}); restore it with "
                f"`quire artifact verify {name} --repair --from DIR` (DIR holding exactly its files)"
            ) from exc
    if json_:
        emit({**describe(artifact), "verified": "the store", **report.to_dict()})
    else:
        for path, problem in sorted(report.damaged.items()):
            typer.echo(f"{problem}: {path}")
    if not report.ok:
        paths = sorted(report.damaged)
        shown = ", ".join(paths[:10]) + (", ..." if len(paths) > 10 else "")
        fail(
            f"{count(len(paths), 'file')} of {name} damaged in the store (missing or corrupt; a corrupt "
            f"blob is now set aside): {shown}; restore them with `quire artifact verify {name} "
            "--repair --from DIR`, or log the files again"
        )
    if not json_:
        typer.echo(f"OK: the store holds {name} intact ({_summary(artifact)}).")


def _repair(artifact: quire.Artifact, source: Path, json_: bool) -> None:
    """``verify --repair --from DIR``: report what was restored; fail if anything is still missing."""
    with working(f"checking {artifact.qualified_name} in the store"):
        report = artifact.repair(source)
    if json_:
        emit({**describe(artifact), **report.to_dict()})
    else:
        if report.pages:
            typer.echo(f"restored: the manifest's pages (made again from the files below {source})")
        for path, file in sorted(report.restored.items()):
            typer.echo(f"restored: {path} (from {file})")
    if not report.ok:
        shown = ", ".join(report.unrestored[:10]) + (", ..." if len(report.unrestored) > 10 else "")
        fail(
            f"{count(len(report.unrestored), 'file')} of {artifact.qualified_name} still missing from "
            f"the store: {shown}; put them below {source} (at their paths) and run this again, or log "
            "them again"
        )
    if not json_:
        done = f"restored {count(len(report.restored), 'file')}" if report.restored else "nothing to repair"
        done += " and the manifest's pages" if report.pages else ""
        typer.echo(f"OK: the store holds {artifact.qualified_name} intact ({_summary(artifact)}); {done}.")


@app.command()
def diff(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="[project/]name[:vN|:alias] to compare from.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="[project/]name[:vN|:alias] to compare to.")],
    json_: JsonFlag = False,
) -> None:
    """Show what changed from version OLD to version NEW: paths added, removed and changed.

    Versions that share most of their files are compared without reading what they share.
    """
    quire_api = api(ctx)
    before, after = quire_api.artifact(old), quire_api.artifact(new)
    changes = before.diff(after)
    if json_:
        emit({"old": before.qualified_name, "new": after.qualified_name, **changes.to_dict()})
        return
    rows = [["+", e.path, _size(e.size)] for e in changes.added]
    rows += [["-", e.path, _size(e.size)] for e in changes.removed]
    rows += [["~", b.path, f"{_size(a.size)} -> {_size(b.size)}"] for a, b in changes.changed]
    rows.sort(key=lambda row: row[1])
    title = f"{before.qualified_name} -> {after.qualified_name}"
    if rows:
        table(title, ("", "path", "size"), rows)
    grown = sum(e.size or 0 for e in changes.added) - sum(e.size or 0 for e in changes.removed)
    grown += sum((b.size or 0) - (a.size or 0) for a, b in changes.changed)
    typer.echo(
        f"{title}: {len(changes.added)} added, {len(changes.removed)} removed, "
        f"{len(changes.changed)} changed ({'+' if grown >= 0 else '-'}{human_size(abs(grown))})"
    )


def _bytes_below(path: Path) -> int:
    """The bytes of a file, or of every file below a folder (what ``put`` will read)."""
    if not path.is_dir():
        return path.stat().st_size
    # As put walks: symlinks to files are followed, symlinks to folders are not.
    return sum(
        os.stat(file).st_size
        for folder, _, names in os.walk(path)
        for name in names
        if os.path.isfile(file := os.path.join(folder, name))
    )


def _size(n: int | None) -> str:
    return "?" if n is None else human_size(n)


def _split_collection(text: str) -> tuple[str | None, str]:
    """``[entity/][project/]name`` → (project or None, name), both checked; the entity is
    accepted and ignored, as in every Quire address (a store has no entities)."""
    if ":" in text:
        raise ValidationError(f"invalid collection name {text!r}: give [project/]name, without ':vN' or ':alias'")
    parts = text.split("/")
    if len(parts) > 3:
        raise ValidationError(f"invalid collection name {text!r}: give [entity/][project/]name")
    project = parts[-2] if len(parts) > 1 else None
    return (check_name(project, "project name") if project is not None else None), check_name(parts[-1])


def _find_collection(quire_api: quire.Api, text: str) -> ArtifactCollection:
    from quire.sdk.collections import ArtifactCollection

    project, name = _split_collection(text)
    where = project or quire_api.default_project
    store = quire_api.store
    if quire_api.store.catalog.collection_type(where, name) is None:  # one row read, not the project's
        raise ArtifactNotFoundError(
            f"no collection {where}/{name} in {store.url}", [c.name for c in quire_api.artifact_collections(where)]
        )
    return ArtifactCollection(store.catalog.collection(where, name), store)


def _collection_data(c: ArtifactCollection, latest: quire.Artifact | None) -> dict[str, object]:
    return {
        "project": c.project,
        "name": c.name,
        "type": c.type,
        "versions": c.version_count,
        "aliases": c.aliases,
        "description": c.description,
        "latest": None if latest is None else latest.version,
        "size": None if latest is None else latest.size,
        "updated_at": None if latest is None else latest.updated_at,
    }


def _summary(artifact: quire.Artifact) -> str:
    aliases = ", ".join(sorted(artifact.aliases)) or "none"
    return (
        f"{count(artifact.file_count, 'file')}, {human_size(artifact.size)}, "
        f"digest {artifact.digest[:12]}, aliases: {aliases}"
    )
