"""What every command module shares: the store, output (text, tables, JSON), progress,
sizes, and the one place errors become exit codes.

Commands stay thin: they call the public API (:func:`api`, ``quire.init``), then hand
the result to :func:`emit` (``--json``) or print it for people.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

import quire
from quire.errors import QuireError

#: ``--json`` as every command spells it.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON to stdout.")]


@dataclass
class Settings:
    """The global options (``quire --store DIR artifact ls``)."""

    store: str | None = None


def settings(ctx: typer.Context) -> Settings:
    """The global options of the command being run."""
    return ctx.find_object(Settings) or Settings()


def api(ctx: typer.Context) -> quire.Api:
    """The public API over the store the command line names (``--store``, else ``QUIRE_STORE``)."""
    return quire.Api(store=settings(ctx).store)


# -- errors ---------------------------------------------------------------------------


class QuireGroup(TyperGroup):
    """The root command group.

    A Quire error (or an OS error) becomes one line on stderr and exit code 1, without a
    traceback; usage errors keep exit code 2. ``--store`` may also follow the command
    (``quire demo --store DIR``), as users type it.
    """

    # typer hands its own Context (a subclass of the one the base class names) to both.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        return super().parse_args(ctx, hoist(args, "--store"))

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `quire … | head`: the reader left; say nothing more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except (QuireError, OSError) as exc:
            fail(str(exc) or type(exc).__name__)


def hoist(args: list[str], option: str) -> list[str]:
    """``args`` with every ``option VALUE`` / ``option=VALUE`` moved to the front."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # what follows is positional, whatever it looks like
            rest += args[i:]
            break
        if arg == option and i + 1 < len(args):
            front += args[i : i + 2]
            i += 2
            continue
        (front if arg.startswith(option + "=") else rest).append(arg)
        i += 1
    return front + rest


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` on one line to stderr and exit with code 1."""
    typer.echo(f"Error: {' '.join(message.split())}", err=True)
    raise typer.Exit(1)


# -- output ---------------------------------------------------------------------------


def emit(data: Any) -> None:
    """Print ``data`` as JSON to stdout (for ``--json``)."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def console() -> Console:
    """A console on stdout; plain text, not wrapped at 80 columns, when stdout is not a terminal."""
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=240)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table for people."""
    out = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for name in columns:
        out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*(str(cell) for cell in row))
    console().print(out)


def describe(artifact: quire.Artifact) -> dict[str, Any]:
    """A committed version as plain JSON-ready data."""
    return {
        "name": artifact.qualified_name,
        "project": artifact.project,
        "collection": artifact.collection_name,
        "version": artifact.version,
        "type": artifact.type,
        "digest": artifact.digest,
        "aliases": sorted(artifact.aliases),
        "tags": sorted(artifact.tags),
        "files": artifact.file_count,
        "size": artifact.size,
        "description": artifact.description,
        "metadata": artifact.metadata,
        "created_at": artifact.created_at,
        "parent": parent.version if (parent := artifact.parent) is not None else None,
    }


def version_rows(versions: Sequence[quire.Artifact]) -> list[list[str]]:
    """One row per version, for :func:`table` under :data:`VERSION_COLUMNS`."""
    return [
        [
            v.name,
            v.digest[:8],
            ", ".join(sorted(v.aliases)) or "-",
            str(v.file_count),
            human_size(v.size),
            v.created_at[:16].replace("T", " "),
            parent.version if (parent := v.parent) else "-",
        ]
        for v in versions
    ]


VERSION_COLUMNS = ("version", "digest", "aliases", "files", "size", "created (UTC)", "parent")


@contextmanager
def working(description: str, total: Callable[[], int] | None = None) -> Iterator[None]:
    """Show a progress bar on stderr while the block runs, when stdout is a terminal:
    bytes done of ``total()`` (as the core reports them), else a pulse and the time.
    ``total`` is called only when a bar is shown (counting may walk a folder)."""
    err = Console(stderr=True)
    if not (sys.stdout.isatty() and err.is_terminal):
        yield
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    size = total() if total is not None else None
    counts = (DownloadColumn(), TransferSpeedColumn()) if size else ()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), *counts, TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=size or None)
        with quire.reporting(lambda n: bar.advance(task, n)):
            yield


# -- sizes ----------------------------------------------------------------------------

_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:([kmgtpe])(i?))?b?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in a size such as ``0``, ``500MB``, ``10GB`` (powers of 1000, as W&B's
    ``wandb artifact cache cleanup`` reads them) or ``2GiB`` (1024)."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a size: write e.g. 0, 500MB, 10GB or 2GiB")
    number, unit, binary = m.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** _UNITS[(unit or "").lower()])


def count(n: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def human_size(n: int) -> str:
    """``n`` bytes for people, in powers of 1000 (``12.3 MB``)."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
