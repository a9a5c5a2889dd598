"""Manifests: the map from logical path to entry that a version is.

A version's digest is a hash over its sorted ``(path, entry digest)`` pairs only, so the
same files give the same digest whatever the name, type, metadata or order of adding.
A manifest is stored as a blob (deterministic JSON), and the catalog keeps its digest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StoreError, ValidationError
from ..store.blobs import BlobStore, hash_bytes
from .names import check_path

FORMAT = "quire.manifest/1"


@dataclass(eq=False)
class Entry:
    """One file of an artifact.

    Attributes:
        path: the logical path inside the artifact (posix, relative).
        digest: BLAKE3 hex of the bytes; for an unchecksummed reference, a hash of its URI.
        size: bytes, or None when unknown (references without checksum).
        ref: for a reference, the URI the bytes live at (they are not in the store).
        extra: free-form details (an object-store version id, an ETag, ...).
        local_path: in a draft, the file the bytes were read from.
    """

    path: str
    digest: str
    size: int | None = None
    ref: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    local_path: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return (self.path, self.digest, self.size, self.ref, self.extra) == (
            other.path, other.digest, other.size, other.ref, other.extra
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def stored(self) -> bool:
        """Whether the bytes live in the blob store (a reference's do not)."""
        return self.ref is None

    def _row(self) -> list[Any]:
        return [self.path, self.digest, self.size, self.ref, self.extra or None]


class Manifest:
    """Logical path → :class:`Entry`; the content of one version."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.entries: dict[str, Entry] = {e.path: e for e in entries}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def __contains__(self, path: object) -> bool:
        return path in self.entries

    def copy(self) -> Manifest:
        """A shallow copy: new mapping, same entries (entries are not mutated in place)."""
        m = Manifest()
        m.entries = dict(self.entries)
        return m

    @property
    def digest(self) -> str:
        """The version digest: a hash over sorted ``(path, entry digest)`` pairs."""
        text = "".join(f"{p}\x00{self.entries[p].digest}\n" for p in sorted(self.entries))
        return hash_bytes(text.encode())

    @property
    def size(self) -> int:
        """Total bytes of the entries whose size is known."""
        return sum(e.size or 0 for e in self.entries.values())

    def under(self, folder: str) -> list[Entry]:
        """The entries at or below ``folder`` (a path or a folder prefix), sorted by path."""
        folder = folder.rstrip("/")
        return sorted(
            (e for p, e in self.entries.items() if p == folder or p.startswith(folder + "/")),
            key=lambda e: e.path,
        )

    def folder_clashes(self) -> list[str]:
        """Paths that are also the folder of other paths (``a`` beside ``a/b``), sorted.

        Such a manifest cannot be placed in a folder, so it must not be committed.
        """
        paths = self.entries
        clashes = set()
        for path in paths:
            cut = path.rfind("/")
            while cut > 0:
                if path[:cut] in paths:
                    clashes.add(path[:cut])
                cut = path.rfind("/", 0, cut)
        return sorted(clashes)

    def to_bytes(self) -> bytes:
        """Deterministic serialisation: same entries, same bytes, same blob."""
        rows = [self.entries[p]._row() for p in sorted(self.entries)]
        return json.dumps({"format": FORMAT, "entries": rows}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse what :meth:`to_bytes` wrote."""
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise StoreError(f"unknown manifest format {doc.get('format')!r}; upgrade quire")
        return cls(Entry(p, d, s, r, x or {}) for p, d, s, r, x in doc["entries"])


def save_manifest(blobs: BlobStore, manifest: Manifest) -> str:
    """Store a manifest durably; returns the blob digest the catalog records."""
    return blobs.put_bytes(manifest.to_bytes())


def load_manifest(blobs: BlobStore, digest: str) -> Manifest:
    """The manifest stored under ``digest`` (verified like every blob)."""
    return Manifest.from_bytes(blobs.read(digest))


def check_manifest_path(path: str, root: Path) -> str:
    """``path`` if it stays inside ``root`` when joined to it; a manifest is data, not trusted."""
    try:
        return check_path(path)
    except ValidationError:
        raise StoreError(f"manifest path {path!r} would land outside {root}; refused") from None


def safe_target(root: Path, path: str) -> Path:
    """``root/path``, refusing any manifest path that would land outside ``root``."""
    return root / check_manifest_path(path, root)
