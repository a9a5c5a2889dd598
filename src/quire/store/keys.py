"""API keys of ``quire server``: the ``KeyRing`` protocol and its records.

A key is shown once, when it is made, and stored only as a hash, in the catalog behind
the server (the server keeps no state of its own, so every replica sees a revocation at
once). A key has one scope (``read`` < ``write`` < ``admin``: each allows what the ones
below it do) and is optionally limited to one project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ..errors import StoreError

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")


@dataclass(frozen=True)
class KeyRecord:
    """An API key as the catalog keeps it: never the key itself."""

    id: str  #: public and stable: what `key ls` shows, `key revoke` takes, and logs name
    scope: Scope
    project: str | None  #: the one project it may reach, or None for all
    label: str
    created_at: str
    revoked_at: str | None = None


@runtime_checkable
class KeyRing(Protocol):
    """Where a server's API keys live. Passes :class:`quire.testing.KeyRingTests`."""

    def create_key(self, scope: Scope, project: str | None = None, label: str = "") -> tuple[str, KeyRecord]:
        """Make a key: the key (≥ 128 random bits; shown once) and its record."""
        ...

    def key_for(self, key: str) -> KeyRecord | None:
        """The live (not revoked) record of ``key``, or None for a wrong or revoked key."""
        ...

    def keys(self) -> list[KeyRecord]:
        """Every key's record, revoked ones included, oldest first."""
        ...

    def revoke_key(self, key_id: str) -> KeyRecord:
        """Revoke the key ``key_id`` (at once, everywhere); ``ArtifactNotFoundError`` if none."""
        ...


def key_ring(catalog: object) -> KeyRing:
    """The key ring of ``catalog`` (the SQL catalog keeps one in its ``api_keys`` table);
    ``StoreError`` for a catalog that cannot hold keys."""
    # Imported here: SQLAlchemy loads only once a SQL catalog is open (one is, if it
    # is a SQLCatalog), and quire.store.sql imports this module.
    from .sql import SQLCatalog
    from .sql.keys import SQLKeyRing

    if isinstance(catalog, SQLCatalog):
        return SQLKeyRing(catalog.tx, catalog.url)
    shown = getattr(catalog, "url", type(catalog).__name__)
    raise StoreError(
        f"the catalog {shown} cannot hold API keys (only a SQL catalog, SQLite or PostgreSQL, "
        "keeps a key ring): serve a store whose catalog is a directory or a postgresql:// URL"
    )
