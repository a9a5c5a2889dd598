"""The ``quire`` command line: a thin layer over the public Python API.

Each command group is a module holding ``app = typer.Typer(...)`` (or a single command
function), registered below with one line. Commands call the API (``quire.Api``,
``quire.init``, ``quire.Artifact``) and print through :mod:`quire.cli.common`, which also
turns a :class:`~quire.errors.QuireError` into one line on stderr and exit code 1.
"""

from __future__ import annotations

from typing import Annotated

import typer

import quire

from . import artifact, cache, demo, gc, login, server, store
from .common import QuireGroup, Settings

app = typer.Typer(
    cls=QuireGroup,
    name="quire",
    help="Quire: versioned artifacts for machine learning, on storage you own.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
)

# One line per command group or command.
app.add_typer(artifact.app, name="artifact")
app.add_typer(cache.app, name="cache")
app.command("demo")(demo.demo)
app.command("gc")(gc.gc)
app.command("login")(login.login)
app.add_typer(server.app, name="server")
app.add_typer(store.app, name="store")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"quire {quire.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="LOCATION",
            help="The store: a directory, or a postgresql:// URL (default: $QUIRE_STORE, else ~/.quire).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Quire: versioned artifacts for machine learning, on storage you own."""
    ctx.obj = Settings(store=store)


def main() -> None:
    """The console script ``quire``."""
    app(prog_name="quire")
