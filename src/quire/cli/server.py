"""``quire server …``: serve a store over HTTP, and manage the API keys that reach it.

``quire server --store LOCATION`` serves (``pip install 'quire[server]'``);
``quire server init`` makes the first admin key and ``quire server key …`` the others.
A key is printed once, when it is made: the store keeps only its hash. Key commands open
the store directly (whoever can open it can make keys), never through a server.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import JsonFlag, emit, settings, table

if TYPE_CHECKING:
    from quire.store.keys import KeyRecord

app = typer.Typer(
    help="Serve a store over HTTP (the Quire server), and manage its API keys.",
    invoke_without_command=True,
)
key_app = typer.Typer(help="Make, list and revoke the API keys of a store's server.", no_args_is_help=True)
app.add_typer(key_app, name="key")

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="LOCATION",
        help="The store: a directory, or a postgresql:// URL (default: quire --store, else $QUIRE_STORE).",
        show_default=False,
    ),
]


def _location(ctx: typer.Context, store: str | None) -> str | None:
    """The store this command names: its own ``--store``, else the root one, else
    ``$QUIRE_STORE`` (None: the default store, as every command has it)."""
    return store or settings(ctx).store or os.environ.get("QUIRE_STORE") or None


def _record(record: KeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "scope": record.scope,
        "project": record.project,
        "label": record.label,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }


def _minute(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"


def _show_once(key: str) -> None:
    typer.echo(key)
    typer.echo("This key is shown only now (the store keeps its hash): save it, e.g. `quire login URL --key KEY`.")


@app.callback()
def serve(
    ctx: typer.Context,
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8080,
    presign: Annotated[
        bool,
        typer.Option("--presign", help="Hand clients presigned URLs of the object store (S3, GCS, Azure)."),
    ] = False,
    max_request_mb: Annotated[
        int,
        typer.Option(
            "--max-request-mb",
            metavar="MB",
            help="The largest request body accepted, in MiB (a larger blob goes in parts).",
        ),
    ] = 256,
    ssl_certfile: Annotated[
        str | None, typer.Option("--ssl-certfile", metavar="PEM", help="Serve HTTPS with this certificate.")
    ] = None,
    ssl_keyfile: Annotated[
        str | None, typer.Option("--ssl-keyfile", metavar="PEM", help="The certificate's private key.")
    ] = None,
) -> None:
    """Serve the store over HTTP, to clients with API keys (`quire server init` makes the first).

    Without a command, serves until stopped. The server keeps no state of its own: run
    as many as you like on one store.
    """
    if ctx.invoked_subcommand is not None:
        return
    # the server extra (FastAPI, uvicorn) loads only to serve
    from quire.server.run import serve as run_server

    run_server(
        _location(ctx, store),
        host=host,
        port=port,
        presign=presign,
        max_request=max_request_mb << 20,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )


@app.command()
def init(ctx: typer.Context, store: StoreOption = None, json_: JsonFlag = False) -> None:
    """Make the store's first admin key, and print it (only now).

    Refused once the store has a live admin key: an admin makes more with
    `quire server key create --scope admin`.
    """
    from quire.server import keys

    key, record = keys.init_admin(_location(ctx, store))
    if json_:
        emit({"key": key, "id": record.id, "scope": record.scope})
        return
    typer.echo(f"Made admin key {record.id}:")
    _show_once(key)


@key_app.command("create")
def create(
    ctx: typer.Context,
    scope: Annotated[
        str, typer.Option(metavar="read|write|admin", help="What the key may do: each allows what those before it do.")
    ],
    project: Annotated[str | None, typer.Option(help="The one project the key may reach (default: all).")] = None,
    label: Annotated[str, typer.Option(help="Who or what the key is for, shown by `key ls`.")] = "",
    store: StoreOption = None,
    json_: JsonFlag = False,
) -> None:
    """Make an API key, and print it (only now)."""
    from quire.server import keys

    # A str: the key ring checks it, so a wrong scope is a one-line error (exit 1).
    key, record = keys.create_key(_location(ctx, store), scope, project, label)  # type: ignore[arg-type]
    if json_:
        emit({"key": key, "id": record.id, "scope": record.scope, "project": record.project})
        return
    where = f" for project {record.project}" if record.project else ""
    typer.echo(f"Made {record.scope} key {record.id}{where}:")
    _show_once(key)


@key_app.command("ls")
def ls(ctx: typer.Context, store: StoreOption = None, json_: JsonFlag = False) -> None:
    """List the store's API keys, revoked ones too, oldest first (their ids, never a key)."""
    from quire.server import keys

    records = keys.list_keys(_location(ctx, store))
    if json_:
        emit([_record(r) for r in records])
        return
    if not records:
        typer.echo("No API keys: `quire server init` makes the first.")
        return
    rows = [
        [r.id, r.scope, r.project or "(all)", r.label or "-", _minute(r.created_at), _minute(r.revoked_at)]
        for r in records
    ]
    table(None, ("id", "scope", "project", "label", "created (UTC)", "revoked (UTC)"), rows)


@key_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id, as `key ls` shows it.")],
    store: StoreOption = None,
    json_: JsonFlag = False,
) -> None:
    """Revoke an API key: every server on the store refuses it from now on."""
    from quire.server import keys

    record = keys.revoke_key(_location(ctx, store), key_id)
    if json_:
        emit(_record(record))
        return
    typer.echo(f"Revoked key {record.id} ({record.scope}) at {record.revoked_at}.")
