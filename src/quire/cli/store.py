"""``quire store …``: maintenance of the store itself."""

from __future__ import annotations

import typer

from .common import JsonFlag, api, count, emit

app = typer.Typer(help="Maintain the store itself.", no_args_is_help=True)


@app.command()
def upgrade(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """Bring the store up to the current layout: write one combined index over its packs.

    A store written before the combined index works without this (every process then
    reads each pack's own index), but opening it costs what the store holds; after it,
    what a process touches. Safe while others read and write; running it again only
    adds the packs written since.
    """
    store = api(ctx).store
    done = store.blobs.consolidate()
    if json_:
        emit(
            {
                "store": store.url,
                "combined_index": done.key,
                "written": done.written,
                "packs": done.packs,
                "blobs": done.rows,
                "merged": done.merged,
                "pack_indexes_read": done.newer,
                "deleted": done.deleted,
            }
        )
        return
    if done.key is None:
        typer.echo(f"{store.url} holds no packs: nothing to index.")
    elif not done.written:
        typer.echo(f"{store.url} is up to date: {done.key} covers every pack ({count(done.rows, 'blob')}).")
    else:
        typer.echo(
            f"Wrote {done.key} over {count(done.packs, 'pack')} ({count(done.rows, 'blob')}), from the "
            f"indexes of {count(done.newer, 'pack')} and {count(len(done.merged), 'earlier combined index file')}; "
            f"deleted {count(len(done.deleted), 'combined index file')} it replaces."
        )
