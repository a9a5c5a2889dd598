"""``quire cache …`` (also ``quire artifact cache …``): the local cache of downloaded files."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import JsonFlag, api, emit, human_size, parse_size

app = typer.Typer(help="Manage the local cache of downloaded files.", no_args_is_help=True)


@app.command()
def cleanup(
    ctx: typer.Context,
    max_bytes: Annotated[
        int, typer.Argument(metavar="SIZE", parser=parse_size, help="Keep at most this much: 0, 500MB, 10GB, 2GiB.")
    ],
    remove_temp: Annotated[
        bool,
        typer.Option(
            "--remove-temp/--no-remove-temp",
            help="Accepted for W&B; Quire leaves temporary files alone: they belong to downloads in progress.",
        ),
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Remove the least recently used cached files until the cache holds at most SIZE
    (also `quire artifact cache cleanup`, as W&B's `wandb artifact cache cleanup`).

    Downloaded folders keep their files: only the cache's own copies go.
    """
    cache = api(ctx).cache
    removed, freed = cache.cleanup(max_bytes)
    if json_:
        emit({"cache": str(cache.root), "removed_files": removed, "freed_bytes": freed, "max_bytes": max_bytes})
        return
    typer.echo(f"Removed {removed} files ({human_size(freed)}) from {cache.root}.")
