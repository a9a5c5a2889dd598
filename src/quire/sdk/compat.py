"""Quire's map of the W&B surface: for each public name of ``wandb``, its ``Run``,
``Artifact``, ``Api``, public ``Run``, ``ArtifactCollection`` and ``ArtifactType``, whether
Quire supports it, accepts and ignores it (and why), or does not support it (and what to do
instead), and the error a missing W&B name raises (naming the call and pointing at
``docs/compatibility.md``).

The names were listed once from the installed ``wandb`` (0.31) and written here: wandb is
not a dependency, and the map is plain data, so ``import quire`` stays light.
``python -m quire.sdk.compat_page > docs/compatibility.md`` writes the page;
``tests/test_compatibility.py`` checks the page and the map against Quire's objects.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass
from typing import Literal

from ..errors import UnsupportedError

Status = Literal["supported", "ignored", "unsupported"]
PAGE = "docs/compatibility.md"


@dataclass(frozen=True)
class Row:
    """One W&B name: its status and a note (why it is ignored, what to do instead, or a
    difference worth knowing)."""

    status: Status
    note: str = ""


S = Row("supported")


def ok(note: str) -> Row:
    """Supported, with a note on how Quire's behaves."""
    return Row("supported", note)


def ignored(why: str) -> Row:
    """Accepted, does nothing in Quire, for ``why``."""
    return Row("ignored", why)


def no(instead: str) -> Row:
    """Not supported: ``instead`` says why, or what to do instead."""
    return Row("unsupported", instead)


_SERVER = no("needs W&B's server (web UI, teams, users, automations); Quire is a library over storage you own")
_SWEEPS = no("sweeps need W&B's sweep controller; use a tuning library (Optuna, Ray Tune) and log artifacts from it")
_CHARTS = no("a dashboard feature: Quire records artifacts, runs and their history, not charts")
_INTERNAL = no("internal to wandb, not part of its documented API")
_TERM = no("wandb's console printing; use logging or print")
_WATCH = no("gradient and parameter logging is a dashboard feature; save checkpoints with log_model")
_URL = no("there is no web UI to link to; use the artifact's qualified_name")
_QUEUE = no("W&B Launch (jobs, run queues) is not part of Quire")
_FILES = no("run files live on W&B's server; log the files as an artifact (add_file, add_dir) instead")

WANDB: dict[str, Row] = {
    "AlertLevel": _SERVER,
    "Artifact": S,
    "ArtifactTTL": S,
    "Audio": S,
    "Classes": S,
    "CommError": S,
    "Config": ok("the type of run.config (quire.config)"),
    "Error": S,
    "EvalTable": _CHARTS,
    "Graph": no("store the graph as a file (add_file) or a Table of edges"),
    "Histogram": ok("stored in artifacts and tables as W&B's JSON; Quire draws no charts"),
    "Html": S,
    "Image": S,
    "JoinedTable": S,
    "Molecule": S,
    "Object3D": S,
    "Plotly": no("save the figure with fig.write_html(path) and add quire.Html(path)"),
    "Run": S,
    "Settings": no("pass settings to init() as a dict (settings={...}); Quire has no Settings class"),
    "Table": S,
    "UsageError": S,
    "Video": S,
    "agent": _SWEEPS,
    "alert": _SERVER,
    "api": _INTERNAL,
    "attach": no("runs cannot be attached from another process; use init(id=..., resume='allow')"),
    "box3d": _CHARTS,
    "config": S,
    "controller": _SWEEPS,
    "define_metric": ok("recorded with the run; Quire draws no charts"),
    "ensure_configured": _INTERNAL,
    "errors": S,
    "finish": S,
    "init": S,
    "join": no("an old name of finish(); call finish()"),
    "link_model": S,
    "log": S,
    "log_artifact": S,
    "log_model": S,
    "login": ok(
        "with host= (a Quire server's URL), saves key= for it in the credentials file (mode 0600); "
        "without host, returns True: a store opened directly needs no login"
    ),
    "mark_preempting": no("W&B's preemption signal for its server; resume with init(id=..., resume='allow')"),
    "patched": _INTERNAL,
    "pin_config_keys": _CHARTS,
    "plot_table": _CHARTS,
    "require": _INTERNAL,
    "restore": _FILES,
    "run": S,
    "sagemaker_auth": _SERVER,
    "save": _FILES,
    "setup": _INTERNAL,
    "summary": S,
    "sweep": _SWEEPS,
    "teardown": _INTERNAL,
    "termerror": _TERM,
    "termlog": _TERM,
    "termsetup": _TERM,
    "termwarn": _TERM,
    "unwatch": _WATCH,
    "use_artifact": S,
    "use_model": S,
    "visualize": _CHARTS,
    "watch": _WATCH,
}

RUN: dict[str, Row] = {
    "alert": _SERVER,
    "config": S,
    "config_static": no("use run.config"),
    "define_metric": ok("recorded with the run; Quire draws no charts"),
    "dir": S,
    "disabled": ok("True for a run of mode='disabled'"),
    "display": _CHARTS,
    "entity": S,
    "finish": S,
    "finish_artifact": S,
    "get_url": ok("older wandb's name for url"),
    "group": S,
    "id": S,
    "job_type": S,
    "link_artifact": S,
    "link_model": S,
    "log": ok("recorded as the run's history in the catalog (numbers, strings, media); no charts"),
    "log_artifact": S,
    "log_code": no("log the source files as an artifact (add_dir) instead"),
    "log_model": S,
    "mark_preempting": no("W&B's preemption signal for its server; resume with init(id=..., resume='allow')"),
    "name": S,
    "notes": S,
    "offline": ignored("always False: Quire writes to the store it is given"),
    "path": S,
    "pin_config_keys": _CHARTS,
    "project": S,
    "project_url": _URL,
    "restore": _FILES,
    "resumed": S,
    "save": _FILES,
    "settings": no("Quire keeps the settings given to init() but exposes no Settings object"),
    "start_time": S,
    "starting_step": no("history steps start where the resumed run's history ends; read it with history()"),
    "status": _SERVER,
    "step": S,
    "summary": S,
    "sweep_id": _SWEEPS,
    "sweep_url": _SWEEPS,
    "sync_dir": no("Quire writes straight to the store; nothing is synced later"),
    "tags": S,
    "to_html": _CHARTS,
    "unwatch": _WATCH,
    "upsert_artifact": S,
    "url": ok("a quire:// address of the run (there is no web UI)"),
    "use_artifact": S,
    "use_model": S,
    "watch": _WATCH,
    "write_logs": _INTERNAL,
}

ARTIFACT: dict[str, Row] = {
    "add": S,
    "add_dir": S,
    "add_file": S,
    "add_reference": S,
    "aliases": S,
    "checkout": S,
    "collection": S,
    "commit_hash": no("W&B's server-side commit id; use digest, which names the content"),
    "created_at": S,
    "delete": S,
    "description": S,
    "digest": ok("a BLAKE3 hash over the (path, entry digest) pairs, not W&B's MD5"),
    "digest_algorithm": ignored("Quire hashes with BLAKE3 whatever is asked, so digests stay comparable"),
    "distributed_id": S,
    "download": S,
    "entity": S,
    "file": S,
    "file_count": S,
    "files": S,
    "finalize": ok("an artifact is also finalized when it is logged"),
    "get": S,
    "get_added_local_path_name": S,
    "get_entry": S,
    "get_path": S,
    "history_step": no("read the run's history with Api().run(path).history()"),
    "id": S,
    "incremental": S,
    "is_draft": S,
    "is_link": S,
    "json_encode": S,
    "link": S,
    "linked_artifacts": S,
    "linked_at": no("the link version's created_at says when it was linked"),
    "logged_by": S,
    "manifest": S,
    "metadata": ok("coerced as W&B does (NaN and infinity become null; numpy, datetime, sets become JSON)"),
    "name": S,
    "new_draft": S,
    "new_file": S,
    "project": S,
    "qualified_name": S,
    "remove": S,
    "save": S,
    "size": S,
    "source_artifact": S,
    "source_collection": S,
    "source_entity": S,
    "source_name": S,
    "source_project": S,
    "source_qualified_name": S,
    "source_version": S,
    "state": S,
    "tags": S,
    "ttl": S,
    "type": S,
    "unlink": S,
    "updated_at": S,
    "url": _URL,
    "use_as": no("deprecated in W&B; use use_artifact(name) and keep the returned artifact"),
    "used_by": S,
    "verify": S,
    "version": S,
    "wait": ok("returns at once: a logged Quire artifact is committed when log_artifact returns"),
}

API: dict[str, Row] = {
    "artifact": S,
    "artifact_collection": S,
    "artifact_collection_exists": S,
    "artifact_collections": S,
    "artifact_exists": S,
    "artifact_type": S,
    "artifact_types": S,
    "artifact_versions": S,
    "artifacts": S,
    "automation": _SERVER,
    "automations": _SERVER,
    "create_automation": _SERVER,
    "create_custom_chart": _CHARTS,
    "create_project": no("a project is made when a run first logs into it"),
    "create_registry": S,
    "create_run": no("start a run with quire.init()"),
    "create_run_queue": _QUEUE,
    "create_team": _SERVER,
    "create_user": _SERVER,
    "default_entity": ignored("always None: Quire has no entities"),
    "delete_automation": _SERVER,
    "flush": no("Quire's Api caches nothing, so there is nothing to flush"),
    "from_path": no("use artifact(path), run(path) or artifact_collection(type, name)"),
    "integrations": _SERVER,
    "job": _QUEUE,
    "list_jobs": _QUEUE,
    "organization": _SERVER,
    "project": S,
    "projects": S,
    "queued_run": _QUEUE,
    "registries": S,
    "registry": S,
    "reports": _CHARTS,
    "run": S,
    "run_queue": _QUEUE,
    "runs": ok("filters on state, tags, name, group, job_type, created_at, config.* and summary_metrics.*"),
    "slack_integrations": _SERVER,
    "sweep": _SWEEPS,
    "sync_tensorboard": _CHARTS,
    "team": _SERVER,
    "update_automation": _SERVER,
    "upsert_run_queue": _QUEUE,
    "user": _SERVER,
    "user_agent": _INTERNAL,
    "users": _SERVER,
    "viewer": _SERVER,
    "webhook_integrations": _SERVER,
}

PUBLIC_RUN: dict[str, Row] = {
    "beta_scan_history": no("use scan_history()"),
    "config": S,
    "console_logs": _FILES,
    "create": no("start a run with quire.init()"),
    "created_at": S,
    "delete": no("runs are kept as the lineage of the versions they made"),
    "display": _CHARTS,
    "download_history_exports": no("use history(pandas=True) and write the frame"),
    "entity": ignored("always None: Quire has no entities"),
    "file": _FILES,
    "files": _FILES,
    "group": S,
    "history": ok("rows or a pandas frame; sampling options are accepted, every row is returned"),
    "id": S,
    "job_type": S,
    "json_config": no("use json.dumps(run.config)"),
    "lastHistoryStep": no("read the last row of history()"),
    "load": S,
    "load_full_data": _INTERNAL,
    "log_artifact": S,
    "logged_artifacts": S,
    "metadata": _SERVER,
    "name": S,
    "path": S,
    "project": S,
    "rawconfig": no("use run.config"),
    "save": no("a recorded run's name, tags and notes change through the run while it is active"),
    "scan_history": S,
    "snake_to_camel": _INTERNAL,
    "state": S,
    "stop": _SERVER,
    "storage_id": _INTERNAL,
    "summary": S,
    "summary_metrics": no("use run.summary"),
    "sweep": _SWEEPS,
    "sweep_name": _SWEEPS,
    "system_metrics": _CHARTS,
    "to_html": _CHARTS,
    "update": S,
    "update_state": _SERVER,
    "upload_file": _FILES,
    "url": ignored("always None: there is no web UI to link to"),
    "use_artifact": S,
    "used_artifacts": S,
    "username": _SERVER,
    "wait_until_finished": _SERVER,
}

COLLECTION: dict[str, Row] = {
    "aliases": S,
    "artifacts": S,
    "change_type": S,
    "created_at": S,
    "delete": S,
    "description": S,
    "entity": ignored("always None: Quire has no entities"),
    "id": S,
    "is_sequence": S,
    "load": _INTERNAL,
    "name": S,
    "project": S,
    "project_id": _INTERNAL,
    "project_internal_id": _INTERNAL,
    "save": S,
    "tags": S,
    "type": S,
    "updated_at": no("the newest version's updated_at says when it last changed"),
}

ARTIFACT_TYPE: dict[str, Row] = {
    "collection": S,
    "collections": S,
    "id": ok("the type's name: a type is named, not numbered"),
    "load": _INTERNAL,
    "name": S,
}


@dataclass(frozen=True)
class Surface:
    """One W&B object: its title on the page, the Quire object that offers it (a module or
    ``module:Class``), and its names."""

    title: str
    quire: str
    rows: dict[str, Row]


SURFACES: dict[str, Surface] = {
    "wandb": Surface("`wandb` (the module)", "quire", WANDB),
    "Run": Surface("`Run` (from `init()`)", "quire.sdk.run:Run", RUN),
    "Artifact": Surface("`Artifact`", "quire.sdk.artifact:Artifact", ARTIFACT),
    "Api": Surface("`Api`", "quire.sdk.api:Api", API),
    "PublicRun": Surface(
        "public `Run` (from `Api().run()`, `artifact.logged_by()`)", "quire.sdk.public_run:PublicRun", PUBLIC_RUN
    ),
    "ArtifactCollection": Surface("`ArtifactCollection`", "quire.sdk.collections:ArtifactCollection", COLLECTION),
    "ArtifactType": Surface("`ArtifactType`", "quire.sdk.collections:ArtifactType", ARTIFACT_TYPE),
}

#: how a call is written in the message: ``wandb.watch``, ``Run.alert``, ``Api.runs``
_CALLED = {"wandb": "wandb", "PublicRun": "Api().run(...)"}

#: behaviour kept safer than W&B's, on purpose (the page's last section)
DIFFERENCES: list[tuple[str, str]] = [
    (
        "Digests",
        "Quire hashes with BLAKE3 (`digest_algorithm` is accepted and ignored): a digest names the "
        "content, the same in every store.",
    ),
    (
        "Artifact names, types and project names",
        "keep Quire's rule, 1 to 128 of `A-Z a-z 0-9 _ . -` (W&B refuses only `/`): a name is a folder "
        "name in `download()`'s default root and a part of an address, where `:` or `..` would be read "
        "as something else.",
    ),
    (
        "Aliases and tags longer than 128 characters",
        "are refused with a `ValidationError` before anything is written (the catalog's columns hold "
        "128; W&B's client sets no limit). An empty alias, or one with NUL, is refused too.",
    ),
    (
        "What W&B drops silently",
        "a repeated alias or tag is kept once, with a warning saying so.",
    ),
    (
        "Metadata keys",
        "numbers, `True` and `None` become their JSON text as in W&B, but two keys that would become one "
        "(`1` and `'1'`) are refused: W&B keeps the last and loses the other value.",
    ),
    (
        "Metadata arrays",
        "are kept whole, as numbers: W&B stores an array of more than 32 items as its truncated text, "
        "and a one-item array as text.",
    ),
    (
        "Metadata objects with no text of their own",
        "are refused, naming the key: W&B would store `<… object at 0x…>`, which says nothing. Objects "
        "with a `str` (`Path`, `Decimal`, `UUID`) are stored as it, as in W&B.",
    ),
    (
        "`latest`",
        "every commit moves it to the version it lands on (a new one, or an older one whose files it "
        "equals), as in W&B; it can be moved by hand (`save()`, `quire artifact alias NAME:vN latest`) "
        "but is never removed: a `save()` from a stale copy that lacks it does not take it away, and "
        "deleting the version that holds it moves it to the newest one left.",
    ),
    (
        "Deleting a version that registry links point at",
        "is refused, naming the links (unlink them first): a link never outlives its source, and gc "
        "never deletes the bytes a link reads.",
    ),
    (
        "`init()` while a run is current",
        "finishes that run and starts the new one (W&B, outside notebooks, returns the current run "
        "whatever the new call asks): a call with another project or config must not log into the "
        "previous run. `reinit='return_previous'` gives W&B's behaviour.",
    ),
    (
        "`resume='auto'` (or `True`) without an `id`",
        "starts a fresh run: Quire keeps no resume file of the last run started in a folder.",
    ),
    (
        "History keys starting with `_`",
        "are refused by `log()`: `_step`, `_runtime` and `_timestamp` are the run's own.",
    ),
    (
        "`entry.digest`",
        "is BLAKE3 hex (W&B shows a base64 MD5); `entry.md5` gives the real MD5, read from the bytes.",
    ),
    (
        "`download(path_prefix=...)` that matches nothing",
        "raises `ArtifactNotFoundError` and writes nothing (W&B downloads nothing, silently).",
    ),
    (
        "An entry's `ref_url()` added to another artifact",
        "becomes a stored entry sharing the same bytes, not a reference: it survives the source's deletion and a gc.",
    ),
    (
        "A media file changed after its object was made",
        "is refused when it is added: the stored `sha256` would otherwise disagree with the stored bytes.",
    ),
    (
        "Media in tables",
        "a media column holds one media kind (or None), stored in the Parquet file as a struct "
        "`{path, meta}` beside the media files, so DuckDB, pandas and Arrow read it; W&B writes a "
        "`table.json`.",
    ),
    (
        "Listing filters",
        "`Api().artifacts(..., filters=...)` and `artifact_collections(...)` refuse filters they do not "
        "implement rather than list what a filter would exclude; `Api().runs(filters=...)` implements "
        "W&B's MongoDB-style operators on state, tags, name, group, job type, dates, config and summary.",
    ),
]


def surface_of(obj: object) -> str | None:
    """The key in :data:`SURFACES` of the W&B object that ``obj`` stands for."""
    if isinstance(obj, types.ModuleType):
        return "wandb" if obj.__name__ == "quire" else None
    for cls in type(obj).__mro__:
        key = _BY_CLASS.get(f"{cls.__module__}:{cls.__qualname__}")
        if key:
            return key
    return None


_BY_CLASS = {s.quire: key for key, s in SURFACES.items()}


def missing(obj: object, name: str) -> AttributeError:
    """The error for ``obj.name``, for ``__getattr__`` to raise when normal lookup failed.

    - ``name`` is defined on ``obj``'s type (a property whose getter raised an
      ``AttributeError``, such as :class:`~quire.errors.ArtifactNotLoggedError`): that
      error is raised again, never replaced by a "not supported" one;
    - ``name`` is W&B's and Quire's map says it is not supported: an
      :class:`~quire.errors.UnsupportedError` naming the call and pointing at the page;
    - otherwise Python's usual ``AttributeError``, with a "did you mean" when a name is close.
    """
    if not name.startswith("__") and any(name in vars(cls) for cls in type(obj).__mro__):
        object.__getattribute__(obj, name)  # raises the getter's own error again
        return AttributeError(f"{name!r} of {type(obj).__name__!r} failed, then worked; ask again")
    key = surface_of(obj)
    row = SURFACES[key].rows.get(name) if key else None
    if key and row is not None:
        call = f"{_CALLED.get(key, key)}.{name}"
        if row.status != "unsupported":  # the map is ahead of the code: a bug to report
            return UnsupportedError(
                f"{call} is W&B API that Quire's map lists as {row.status}, but this Quire lacks it "
                f"(see {PAGE}); please report it",
                name=name,
                obj=obj,
            )
        why = f": {row.note}" if row.note else ""
        return UnsupportedError(f"{call} is W&B API that Quire does not support{why} (see {PAGE})", name=name, obj=obj)
    owner = f"module {obj.__name__!r}" if isinstance(obj, types.ModuleType) else f"{type(obj).__name__!r} object"
    # a typo gets a hint; a dunder is a protocol probe (copy, numpy, pickle), asked often: none
    public = [] if name.startswith("_") else [n for n in dir(obj) if not n.startswith("_")]
    close = difflib.get_close_matches(name, public, n=1)
    hint = f". Did you mean: {close[0]!r}?" if close else ""
    # no name= on it: a traceback would add a second hint, from dir(None)
    return AttributeError(f"{owner} has no attribute {name!r}{hint}")


_STATUS_TEXT = {"supported": "supported", "ignored": "accepted, ignored", "unsupported": "not supported"}


def page() -> str:
    """The compatibility page, in Markdown (``docs/compatibility.md`` is this text)."""
    lines = [
        "# Compatibility with the W&B API",
        "",
        "`import quire as wandb` runs W&B artifact code unchanged. This page lists every public name of",
        "W&B's artifact, run and Api surface (as wandb 0.31 has it) and what Quire does with it:",
        "",
        "- **supported**: it behaves as in W&B (a note says where Quire's differs);",
        "- **accepted, ignored**: it is there and does nothing in Quire, for the reason given;",
        "- **not supported**: using it raises `quire.errors.UnsupportedError` (an `AttributeError` too, so",
        "  `hasattr` is False), naming the call and pointing here, with what to do instead.",
        "",
        "A name W&B does not have raises Python's usual `AttributeError`.",
        "",
        "This page is generated from `src/quire/sdk/compat.py` (`python -m quire.sdk.compat_page >",
        "docs/compatibility.md`), and `tests/test_compatibility.py` checks both against Quire's objects.",
        "",
    ]
    for surface in SURFACES.values():
        counts = {s: sum(r.status == s for r in surface.rows.values()) for s in _STATUS_TEXT}
        lines += [
            f"## {surface.title}",
            "",
            f"{counts['supported']} supported, {counts['ignored']} accepted and ignored, "
            f"{counts['unsupported']} not supported.",
            "",
            "| Name | Status | Note |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| `{name}` | {_STATUS_TEXT[row.status]} | {row.note} |".replace(" |  |", " | |")
            for name, row in sorted(surface.rows.items(), key=lambda item: item[0].lower())
        ]
        lines.append("")
    lines += ["## Where Quire differs on purpose", ""]
    lines += [f"- **{what}**: {how}" for what, how in DIFFERENCES]
    return "\n".join(lines) + "\n"
