"""The key ring of a store, as ``quire server init`` and ``quire server key …`` use it.

Thin: each function opens the store (:func:`quire.store.open_store`) and calls its key
ring (:func:`quire.store.keys.key_ring`). No FastAPI here, so managing keys needs no
server extra.
"""

from __future__ import annotations

import os

from ..errors import UsageError
from ..store import open_store
from ..store.keys import KeyRecord, KeyRing, Scope, key_ring

Location = str | os.PathLike[str] | None


def _ring(location: Location) -> KeyRing:
    return key_ring(open_store(location).catalog)


def init_admin(location: Location) -> tuple[str, KeyRecord]:
    """Make the first admin key of the store at ``location``: the key (shown once) and
    its record; ``UsageError`` if a live admin key exists already (two inits at once
    may both make one: each is a working admin key, and ``key ls`` shows both)."""
    ring = _ring(location)
    records = ring.keys()
    live = [record.id for record in records if record.scope == "admin" and record.revoked_at is None]
    if live:
        raise UsageError(
            f"the store has an admin key already ({', '.join(live)}); "
            "to make another, run `quire server key create --scope admin`"
        )
    return ring.create_key("admin", label="made by quire server init")


def create_key(location: Location, scope: Scope, project: str | None = None, label: str = "") -> tuple[str, KeyRecord]:
    """Make a key of ``scope`` (limited to ``project``, if given): the key and its record."""
    return _ring(location).create_key(scope, project, label)


def list_keys(location: Location) -> list[KeyRecord]:
    """Every key's record, revoked ones included, oldest first (no key, no secret)."""
    return _ring(location).keys()


def revoke_key(location: Location, key_id: str) -> KeyRecord:
    """Revoke the key ``key_id`` (every replica refuses it at once)."""
    return _ring(location).revoke_key(key_id)
