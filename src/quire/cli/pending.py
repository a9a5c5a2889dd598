"""``quire artifact pending …``: the pending versions of collaborative mode.

A pending version gathers the contributions of ``upsert_artifact`` writers until a
``finish_artifact`` commits it. These commands list them, show who contributed what, and
abort one that will never be finished.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from quire.sdk.names import check_name

from .common import JsonFlag, api, count, emit, human_size, table

if TYPE_CHECKING:
    from quire.sdk.collaborative import PendingVersion

app = typer.Typer(help="List, inspect and abort pending versions (collaborative mode).", no_args_is_help=True)

Ref = Annotated[
    str,
    typer.Argument(
        metavar="ID", help="The pending version's id, or its distributed id if no other pending version has it."
    ),
]


class State(StrEnum):
    """Which pending versions ``ls`` lists."""

    open = "open"
    committed = "committed"
    aborted = "aborted"
    all = "all"


@app.command("ls")
def list_pending(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Argument(help="A project (default: every project).")] = None,
    state: Annotated[State, typer.Option(help="Which ones to list.")] = State.open,
    json_: JsonFlag = False,
) -> None:
    """List pending versions (open ones, by default), oldest first."""
    project = check_name(project, "project name") if project else None
    found = api(ctx).pending_versions(project, None if state is State.all else state.value)
    if json_:
        emit([p.to_dict() for p in found])
        return
    if not found:
        typer.echo(
            f"No {'' if state is State.all else state.value + ' '}pending versions"
            + (f" in project {project}" if project else "")
        )
        return
    rows = [
        [
            p.id,
            f"{p.project}/{p.name}",
            p.distributed_id,
            _state(p),
            p.contribution_count,
            p.file_count,
            p.created_at[:16].replace("T", " "),
        ]
        for p in found
    ]
    columns = ("id", "collection", "distributed id", "state", "contributions", "files", "created (UTC)")
    table(None, columns, rows)


@app.command()
def show(ctx: typer.Context, ref: Ref, json_: JsonFlag = False) -> None:
    """Show a pending version and its contributions, one per writer upsert."""
    found = api(ctx).pending_version(ref)
    parts = found.contributions()
    if json_:
        emit({**found.to_dict(), "contributions": [c.to_dict() for c in parts]})
        return
    typer.echo(f"{_title(found)}: {_state(found)}, {count(len(parts), 'contribution')}")
    rows = [[c.writer, c.role, c.file_count, human_size(c.size), c.created_at[:19].replace("T", " ")] for c in parts]
    if rows:
        table(None, ("writer", "role", "files", "size", "added (UTC)"), rows)


@app.command()
def abort(ctx: typer.Context, ref: Ref, json_: JsonFlag = False) -> None:
    """Abort an open pending version: nothing of it will be committed, and its distributed
    id can no longer be used (its bytes become collectable by gc)."""
    found = api(ctx).pending_version(ref)
    was = found.state
    found.abort()
    if json_:
        emit(found.to_dict())
        return
    what = (
        "was already aborted"
        if was == "aborted"
        else (f"aborted ({count(found.contribution_count, 'contribution')} discarded)")
    )
    typer.echo(f"{_title(found)} {what}.")


def _title(p: PendingVersion) -> str:
    return f"Pending version {p.distributed_id!r} of {p.project}/{p.name} ({p.type}, id {p.id})"


def _state(p: PendingVersion) -> str:
    return f"committed as {p.version}" if p.version else p.state
