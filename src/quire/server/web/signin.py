"""Who is looking at a page: the API key in the session cookie (set by signing in) or in
an ``Authorization: Bearer`` header, and the CSRF token every form carries.

The server keeps no sessions: the cookie holds the key itself (HttpOnly, so no script
reads it; SameSite=Lax, so another site's form does not send it; Secure behind TLS), and
the key ring is read on every request, so a revoked key ends every session at once, on
every replica. A form's CSRF token is a keyed hash of the key: any replica can check it,
and a page of another site, which cannot read the key, cannot make it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request

from ...errors import AuthenticationError, PermissionDeniedError
from ...store.keys import KeyRing
from ..auth import Caller

#: the cookie holding a signed-in browser's API key
SESSION = "quire_session"
#: the cookie holding the sign-in form's token (before there is a key to derive one from)
SIGNIN = "quire_signin"
#: how long a session lasts (seconds); signing in again renews it
SESSION_SECONDS = 7 * 24 * 3600


class SignInNeeded(AuthenticationError):
    """A page was asked for without a live key: the answer is the sign-in page (401)."""


@dataclass(frozen=True)
class Viewer:
    """The holder of a live key looking at a page."""

    caller: Caller
    csrf: str  #: the token this viewer's forms carry
    cookie: bool  #: signed in with the session cookie (else a Bearer header)

    def may(self, scope: str, project: str | None = None) -> bool:
        return self.caller.allows(scope, project)  # type: ignore[arg-type]


def csrf_token(key: str) -> str:
    """The CSRF token of the forms a holder of ``key`` is shown."""
    return hmac.new(key.encode(), b"quire web form", hashlib.sha256).hexdigest()[:40]


def new_signin_token() -> str:
    return secrets.token_urlsafe(24)


def viewer(request: Request) -> Viewer:
    """The viewer of ``request`` (a FastAPI dependency), or :class:`SignInNeeded`."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    header = bearer.strip() if scheme.lower() == "bearer" else ""
    key = header or request.cookies.get(SESSION, "")
    if not key:
        raise SignInNeeded("sign in with an API key to see this store")
    ring: KeyRing = request.app.state.keys
    record = ring.key_for(key)
    if record is None:
        raise SignInNeeded("the API key is not valid on this server (wrong, or revoked): sign in again")
    request.state.key_id = record.id  # for the request log
    return Viewer(Caller(record.id, record.scope, record.project), csrf_token(key), not header)


def check_form(viewer: Viewer, form: dict[str, str]) -> None:
    """Refuse a form whose CSRF token is missing or not this viewer's (nothing is changed)."""
    if not hmac.compare_digest(form.get("csrf", ""), viewer.csrf):
        raise PermissionDeniedError("the form's CSRF token is missing or wrong: reload the page and try again")
