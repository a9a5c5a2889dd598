"""``Draft``: what a new version will hold, as data the commit code takes.

The sdk's ``Artifact`` is the W&B-compatible facade; what it is made of while it is a
draft lives here, so that committing (``quire.core.commit``), collaborative writing and
media code take a ``Draft`` as an argument instead of reaching into the facade.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store.catalog import INHERIT, TTL, VersionRecord
from .manifest import Manifest


@dataclass
class Draft:
    """The content of an uncommitted version.

    Attributes:
        collection: the collection it will be a version of.
        type: the collection's type.
        manifest: its entries.
        removed: paths removed from ``parent`` (patch mode).
        incremental: overlay the entries on the collection's latest version at commit
            time (patch mode) instead of committing them as the whole version.
        parent: the version it was made from (``new_draft``), if any.
        metadata, description: what the version will carry.
        ttl: its time to live (``NewVersion.ttl``; default: its collection's).
    """

    collection: str
    type: str
    manifest: Manifest = field(default_factory=Manifest)
    removed: set[str] = field(default_factory=set)
    incremental: bool = False
    parent: VersionRecord | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    ttl: TTL = INHERIT
