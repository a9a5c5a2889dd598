"""``quire login URL``: save an API key for a Quire server (see ``quire.login``)."""

from __future__ import annotations

from typing import Annotated

import typer

import quire


def login(
    url: Annotated[str, typer.Argument(metavar="URL", help="The server, http://… or https://….")],
    key: Annotated[
        str | None,
        typer.Option(help="The API key (default: asked for, hidden, when stdin is a terminal).", show_default=False),
    ] = None,
) -> None:
    """Save an API key for a Quire server, for `QUIRE_STORE=URL` to use.

    Kept in the credentials file ($QUIRE_CONFIG_DIR, else ~/.config/quire), readable by
    you alone, beside the keys of other servers.
    """
    quire.login(key=key, host=url)
    typer.echo(f"Saved the API key for {url.rstrip('/')}.")
