"""What a digest is, checked once: the lowercase hex of a 32-byte BLAKE3 hash.

Digests arrive from outside the process (manifest pages, contributions, a catalog row,
a crafted file) and become paths in the store and the cache. Nothing may build a path
from one before :func:`check_digest` accepted it: ``../../x`` or ``ab/../../..`` as a
"digest" would otherwise name a file anywhere the process can reach.
"""

from __future__ import annotations

import re

from ..errors import InvalidDigestError

DIGEST_HEX = 64  #: characters in a digest
_DIGEST = re.compile(r"[0-9a-f]{64}")


def is_digest(value: object) -> bool:
    """Whether ``value`` is exactly a digest in the store's hex form."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def check_digest(value: object, where: str) -> str:
    """``value`` if it is a digest, else ``InvalidDigestError`` naming ``where`` it came from."""
    if not is_digest(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise InvalidDigestError(
            f"{where} has the digest {shown}, which is not a BLAKE3 digest (64 lowercase hex "
            "characters); the data is damaged or was not written by Quire, so nothing was read or written"
        )
    return value  # type: ignore[return-value]


def digest_path(digest: str) -> str:
    """The relative path of a digest's file (``ab/cdef…``): the one fan-out rule for the
    store's large blobs and the cache's files. ``digest`` must be checked already."""
    return f"{digest[:2]}/{digest[2:]}"
