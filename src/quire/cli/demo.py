"""``quire demo``: run :mod:`quire.demo` and show what it made."""

from __future__ import annotations

import typer

from .common import VERSION_COLUMNS, api, settings, table, version_rows


def demo(ctx: typer.Context) -> None:
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
    typer.echo(f"Quire demo on the store {api(ctx).store.url}")  # a bad store fails here, before any step
    made = run_demo(store, say=lambda text: typer.echo(f"  - {text}"))
    table(f"\nVersions in project {PROJECT}", VERSION_COLUMNS, version_rows(made))
    where = f" --store {store}" if store else ""
    typer.echo(f"\nNext: quire{where} artifact versions {PROJECT}/{made[0].collection_name}")
