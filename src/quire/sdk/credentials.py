"""The API keys ``quire.login`` saves, one per server, in the credentials file.

The file (:func:`quire.store.http.session.credentials_file`, read by the server's client)
is ``{"<server url>": "<key>"}``, mode 0600. It is written whole, atomically, through a
new file made 0600 from the start (never the old file rewritten in place, so one left
readable by others is replaced by one that is not), keeping the other servers' keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UsageError
from ..files import write_all, write_atomic


def _saved(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        saved = json.loads(text)
    except ValueError:
        saved = None
    if not isinstance(saved, dict) or not all(isinstance(v, str) for v in saved.values()):
        # Never overwritten: it may hold keys a person wants back.
        raise UsageError(f"{path} is not a Quire credentials file ({{server url: key}}); fix or remove it")
    return saved


def save_key(url: str, key: str) -> Path:
    """Save ``key`` as the API key for the server at ``url`` (in the form keys are looked
    up by); the credentials file's path."""
    from ..store.http.session import credentials_file, server_url  # httpx: only for a server

    path = credentials_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    saved = {**_saved(path), server_url(url): key}
    data = (json.dumps(saved, indent=2, sort_keys=True) + "\n").encode()

    def fill(fd: int, _: str) -> None:
        os.fchmod(fd, 0o600)  # whatever the umask: the owner only
        write_all(fd, data)

    write_atomic(path, fill, durable=True, mode=0o600)
    return path
