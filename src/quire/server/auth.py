"""Who is calling: the API key of a request, its scope and its project."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ..errors import AuthenticationError, PermissionDeniedError
from ..store.keys import SCOPES, KeyRing, Scope


@dataclass(frozen=True)
class Caller:
    """The holder of a live API key."""

    key_id: str
    scope: Scope
    project: str | None  #: the one project the key may reach, or None for all

    def allows(self, scope: Scope, project: str | None = None) -> bool:
        """Whether the key has ``scope`` (or a higher one) and may reach ``project``
        (None: a call that names no project; it needs a key for all projects unless
        its scope is read)."""
        if SCOPES.index(self.scope) < SCOPES.index(scope):
            return False
        return self.project is None or project == self.project

    def require_scope(self, scope: Scope) -> None:
        """Raise ``PermissionDeniedError`` unless the key has ``scope``, whatever project it
        is limited to: for reading and adding the store's objects, which belong to no
        project (content-addressed, shared). Deleting or moving them needs ``require``."""
        self.require(scope, self.project)

    def require(self, scope: Scope, project: str | None = None) -> None:
        """Raise ``PermissionDeniedError`` (HTTP 403) unless :meth:`allows`."""
        if not self.allows(scope, project):
            where = f" in project {project!r}" if project else ""
            limit = f" (limited to project {self.project!r})" if self.project else ""
            raise PermissionDeniedError(
                f"API key {self.key_id} has scope {self.scope!r}{limit}: not enough to {scope}{where}"
            )


def caller(request: Request) -> Caller:
    """The caller of ``request`` (a FastAPI dependency): its ``Authorization: Bearer``
    key looked up in the key ring of the store behind the server, on every request (a
    revoked key stops working at once, on every replica); ``AuthenticationError``
    (HTTP 401) without a live key. The key itself is never logged or echoed."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationError(
            "this Quire server needs an API key: send it as 'Authorization: Bearer <key>' "
            "(QUIRE_API_KEY, or `quire login URL`)"
        )
    ring: KeyRing = request.app.state.keys
    record = ring.key_for(key.strip())
    if record is None:
        raise AuthenticationError("the API key is not valid on this server (wrong, or revoked)")
    found = Caller(record.id, record.scope, record.project)
    request.state.key_id = record.id  # for the request log
    return found
