"""``quire gc``: delete what no version references (see ``quire.Api.gc``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from .common import JsonFlag, api, count, emit, human_size, table

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``0``, ``90s``, ``30m``, ``1h`` or ``7d``."""
    m = _DURATION.fullmatch(text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a duration: write e.g. 0, 90s, 30m, 1h or 7d")
    return float(m.group(1)) * _SECONDS[m.group(2).lower()]


def gc(
    ctx: typer.Context,
    grace: Annotated[
        float,
        typer.Option(
            metavar="DURATION",
            parser=parse_duration,
            help="Keep everything younger than this (0, 90s, 30m, 1h, 7d): uploads in progress are younger.",
        ),
    ] = "1h",  # type: ignore[assignment]
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Delete nothing: list what would go, and how many bytes.")
    ] = False,
    lease: Annotated[
        float | None,
        typer.Option(
            metavar="DURATION",
            parser=parse_duration,
            help="How long the sweep holds writers' commits off between renewals (default 30s, or "
            "QUIRE_GC_LEASE): a gc that dies holds them off this long.",
        ),
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Delete the blobs and manifest pages that no version and no pending contribution references.

    Packs that hold mostly garbage are rewritten with only their live blobs. Nothing
    younger than --grace, or written since a live writer began staging, is touched, and
    commits made meanwhile are kept: gc is safe while others write. Objects that are not
    Quire's are never deleted.
    """
    quire_api = api(ctx)
    store = quire_api.store
    with showing_progress():
        report = quire_api.gc(grace=grace, dry_run=dry_run, lease=lease)
    if json_:
        emit(report.to_dict())
        return
    if dry_run and (report.deleted or report.repacked):
        rows = [[kind, key, human_size(size)] for kind, key, size in report.deleted]
        rows += [["repack", key, human_size(size)] for key, size in report.repacked]
        table(f"Would delete from {store.url}", ("kind", "object", "size"), rows)
    verb = "Would free" if dry_run else "Freed"
    typer.echo(
        f"{verb} {human_size(report.freed)}: {count(len(report.deleted), 'object')} deleted, "
        f"{count(len(report.repacked), 'pack')} rewritten; {report.live} blobs and pages in use, "
        f"{count(report.young, 'unused object')} younger than the grace period kept; "
        f"{count(len(report.expired), 'expired version')} {'would be ' if dry_run else ''}deleted."
    )


class _StatusLine(logging.Handler):
    """Shows each progress line of gc (logger ``quire.gc``) as the status's text."""

    def __init__(self, update: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._update = update

    def emit(self, record: logging.LogRecord) -> None:
        self._update(record.getMessage())


@contextmanager
def showing_progress() -> Iterator[None]:
    """gc's progress (pages walked, packs swept) as a status line on stderr while the
    block runs, when stderr is a terminal; stdout (``--json``) gets none of it."""
    err = Console(stderr=True)
    if not err.is_terminal:
        yield
        return
    logger = logging.getLogger("quire.gc")
    with err.status("gc: starting") as status:
        handler = _StatusLine(lambda text: status.update(text))
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
