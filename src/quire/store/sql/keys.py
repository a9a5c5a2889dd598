"""The key ring of a SQL catalog: :class:`SQLKeyRing`, on the ``api_keys`` table.

A key is ``qk_<id>_<secret>``: the id (12 hex digits) is public, the secret
(``secrets.token_urlsafe(24)``: 192 random bits) is shown once. The table keeps the
sha256 of the whole key, never the key: a copy of the catalog calls no server. A key is
looked up by its id and its hash compared in constant time, so a wrong secret takes as
long to refuse as a right one takes to accept.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...errors import ArtifactNotFoundError, ValidationError
from ..catalog import now
from ..keys import SCOPES, KeyRecord, Scope
from . import schema as t

if TYPE_CHECKING:
    from .txn import Transactions

#: what every key begins with, so a leaked one is recognised (by people and scanners)
PREFIX = "qk_"
#: a key as made here; the secret's length bounds are loose so that a longer one made
#: later still parses, while a megabyte of garbage is refused before it is hashed
_KEY = re.compile(r"qk_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})")
_LONGEST = 3 + 12 + 1 + 128
#: the projects table's name column is this wide
_PROJECT_LIMIT = 128


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    """A fresh key id and the whole key."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


def parse_id(key: object) -> str | None:
    """The id of ``key`` if it has the form of one, else None (never raises)."""
    if not isinstance(key, str) or len(key) > _LONGEST:
        return None
    m = _KEY.fullmatch(key)
    return m.group(1) if m else None


def check_scope(scope: object) -> Scope:
    """``scope`` if it is one of :data:`~quire.store.keys.SCOPES`."""
    for known in SCOPES:
        if scope == known:
            return known
    raise ValidationError(f"invalid scope {scope!r:.40}: use one of {', '.join(SCOPES)}")


def check_project(project: object) -> str | None:
    """``project`` if it can name a project (None: every project)."""
    if project is None:
        return None
    # The name rules live in quire.core, above this layer; the catalog's column is the
    # limit here, and a key for a project that does not exist merely reaches nothing.
    if not isinstance(project, str) or not project.strip() or len(project) > _PROJECT_LIMIT:
        raise ValidationError(
            f"invalid project {project!r:.80} for an API key: a project name of 1 to {_PROJECT_LIMIT} characters"
        )
    return project


def _record(row: sa.Row[Any]) -> KeyRecord:
    return KeyRecord(row.id, check_scope(row.scope), row.project, row.label, row.created_at, row.revoked_at)


class SQLKeyRing:
    """A :class:`~quire.store.keys.KeyRing` on the transactions of a SQL catalog."""

    def __init__(self, tx: Transactions, url: str) -> None:
        self.tx = tx
        self.url = url  #: the catalog, fit to show

    def create_key(self, scope: Scope, project: str | None = None, label: str = "") -> tuple[str, KeyRecord]:
        """Make a key (see the protocol): checked first, then stored as its hash."""
        scope = check_scope(scope)
        project = check_project(project)
        if not isinstance(label, str):
            raise ValidationError(f"invalid label {label!r:.80} for an API key: a label is a string")
        key_id, key = _new_key()
        created = now()

        def create(conn: sa.Connection) -> KeyRecord:
            nonlocal key_id, key
            have = conn.scalar(sa.select(t.api_keys.c.hash).where(t.api_keys.c.id == key_id))
            if have is not None and hmac.compare_digest(have, _hash(key)):
                pass  # an earlier attempt stored it; its answer to COMMIT was lost
            else:
                if have is not None:  # 48-bit ids rarely meet, but they may: draw again
                    key_id, key = _new_key()
                values = {"scope": scope, "project": project, "label": label, "created_at": created}
                conn.execute(t.api_keys.insert().values(id=key_id, hash=_hash(key), **values))
            return _record(conn.execute(sa.select(t.api_keys).where(t.api_keys.c.id == key_id)).one())

        record = self.tx.write(create)
        return key, record

    def key_for(self, key: str) -> KeyRecord | None:
        """The live record of ``key``; None for a malformed, unknown, wrong or revoked key."""
        key_id = parse_id(key)
        if key_id is None:
            return None
        query = sa.select(t.api_keys).where(t.api_keys.c.id == key_id)
        row = self.tx.read(lambda conn: conn.execute(query).first())
        if row is None or row.revoked_at is not None:
            return None
        return _record(row) if hmac.compare_digest(row.hash, _hash(key)) else None

    def keys(self) -> list[KeyRecord]:
        """Every key's record, revoked ones included, oldest first."""
        query = sa.select(t.api_keys).order_by(t.api_keys.c.created_at, t.api_keys.c.id)
        return [_record(row) for row in self.tx.read(lambda conn: conn.execute(query).all())]

    def revoke_key(self, key_id: str) -> KeyRecord:
        """Revoke the key ``key_id``; a second revocation keeps the first one's time."""

        def revoke(conn: sa.Connection) -> KeyRecord:
            keys = t.api_keys
            conn.execute(keys.update().where(keys.c.id == key_id, keys.c.revoked_at.is_(None)).values(revoked_at=now()))
            row = conn.execute(sa.select(keys).where(keys.c.id == key_id)).first()
            if row is None:
                have = list(conn.scalars(sa.select(keys.c.id).order_by(keys.c.created_at, keys.c.id)))
                raise ArtifactNotFoundError(f"no API key with id {key_id!r:.80} in {self.url}", have)
            return _record(row)

        return self.tx.write(revoke)
