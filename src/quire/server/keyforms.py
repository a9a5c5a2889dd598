"""The object keys a server accepts, and what each needs before it is stored.

A client of the server writes into the store behind it only under the key forms Quire
itself uses, each checked on arrival (:func:`kind_of`): a large blob's bytes must hash to
the digest its key names; a pack's index must list slots whose bytes, read back from the
pack already stored, hash to their digests; a bad-slot mark or a quarantine must name a
slot or blob that really is corrupt. So a write key can add bytes but never plant wrong
ones, or hide right ones. Other keys (a combined index, the owner record, gc's clock probe,
any key a conformance suite makes) need an admin key, which may delete everything anyway;
a path that climbs out (``..``), starts at ``/`` or holds odd characters is refused for
everyone (:func:`check_key`).
"""

from __future__ import annotations

import re

from ..errors import ValidationError

HEX = "[0-9a-f]"
#: key forms whose content the server verifies, by kind
FORMS: dict[str, re.Pattern[str]] = {
    "blob": re.compile(rf"objects/{HEX}{{2}}/{HEX}{{62}}"),
    "pack": re.compile(rf"packs/{HEX}{{32}}\.pack"),
    "index": re.compile(rf"packs/{HEX}{{32}}\.idx"),
    "mark": re.compile(rf"packs/{HEX}{{32}}\.pack\.{HEX}{{64}}\.bad"),
    "quarantine": re.compile(rf"quarantine/objects/{HEX}{{2}}/{HEX}{{62}}\.{HEX}{{12}}"),
}
#: what a key may look like at all: relative, plain segments
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=-]*(/[A-Za-z0-9][A-Za-z0-9._=-]*)*")
#: prefixes the server keeps for itself (parts of uploads in progress)
RESERVED = ("uploads/",)
MAX_KEY = 512


def check_key(key: str) -> str:
    """``key`` if it is a plain relative key, else ``ValidationError`` (never a path out)."""
    if len(key) > MAX_KEY or not _SAFE.fullmatch(key) or any(part in (".", "..") for part in key.split("/")):
        shown = key if len(key) <= 80 else key[:77] + "..."
        raise ValidationError(f"{shown!r} is not an object key this server serves")
    return key


def kind_of(key: str) -> str:
    """Which verified form ``key`` has (``blob``, ``pack``, ``index``, ``mark``,
    ``quarantine``), or ``other``."""
    check_key(key)
    return next((kind for kind, form in FORMS.items() if form.fullmatch(key)), "other")


def digest_of_blob(key: str) -> str:
    """The digest a large blob's key names (``objects/ab/cdef…`` → ``abcdef…``)."""
    return key.removeprefix("objects/").replace("/", "")
