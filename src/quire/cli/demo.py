"""``quire demo``: run :mod:`quire.demo` and show what it made."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Annotated

import typer

from .common import VERSION_COLUMNS, api, settings, table, version_rows


def demo(
    ctx: typer.Context,
    server: Annotated[
        bool,
        typer.Option(
            "--server",
            help="Run it through a `quire server` on the store: started on a free loopback port with a "
            "write key made for it, both gone after.",
        ),
    ] = False,
) -> None:
    """Make a few versions on the store, and show them.

    Logs a small generated dataset, changes it and logs it again, logs it unchanged
    (no new version), sets an alias, then downloads and verifies it. Then writer
    processes each upsert a shard of predictions as a table part and a finisher commits
    them as one version with a partitioned table over them (collaborative mode), which
    is read back and queried. Then a daily scraper appends a table part a day
    (incremental versions) and a patch fixes one part (patch mode). The data is
    deterministic: running the demo again makes no new versions.
    """
    from quire.demo import PROJECT, run_demo  # here: help lists the command without loading it

    store = settings(ctx).store
    with contextlib.ExitStack() as stack:
        if server:
            from quire.server.run import serving  # the server extra: only for --server

            url, key = stack.enter_context(serving(store))
            typer.echo(f"Started quire server on {url} over the store {api(ctx).store.url}")
            stack.enter_context(_environment(QUIRE_STORE=url, QUIRE_API_KEY=key))  # writer processes too
            store = url
        typer.echo(f"Quire demo on the store {quire_store(store, ctx)}")  # a bad store fails here, before any step
        made = run_demo(store, say=lambda text: typer.echo(f"  - {text}"))
        table(f"\nVersions in project {PROJECT}", VERSION_COLUMNS, version_rows(made))
    where = f" --store {settings(ctx).store}" if settings(ctx).store else ""
    typer.echo(f"\nNext: quire{where} artifact versions {PROJECT}/{made[0].collection_name}")
    typer.echo(
        "Or in a browser (pip install 'quire[server]'): `quire server init` prints a key, "
        f"`quire server` serves the store; open http://127.0.0.1:8080/p/{PROJECT} and sign in"
    )


def quire_store(store: str | None, ctx: typer.Context) -> str:
    """The URL of the store the demo runs on, fit to show (opening it: a bad one fails here)."""
    import quire

    return quire.Api(store=store).store.url if store else api(ctx).store.url


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
