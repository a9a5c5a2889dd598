"""What changed between two manifests: paths added, removed, and changed (new digest)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import pages
from .manifest import Entry, Manifest


@dataclass
class ManifestDiff:
    """The paths that differ between an old and a new manifest, each list sorted by path."""

    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)
    changed: list[tuple[Entry, Entry]] = field(default_factory=list)  #: (old, new)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def __len__(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: paths with sizes (and digests)."""

        def one(e: Entry) -> dict[str, Any]:
            return {"path": e.path, "size": e.size, "digest": e.digest}

        return {
            "added": [one(e) for e in self.added],
            "removed": [one(e) for e in self.removed],
            "changed": [
                {
                    "path": new.path,
                    "old_size": old.size,
                    "size": new.size,
                    "old_digest": old.digest,
                    "digest": new.digest,
                }
                for old, new in self.changed
            ],
        }


def diff_manifests(old: Manifest, new: Manifest) -> ManifestDiff:
    """What changed from ``old`` to ``new``.

    Two stored manifests are compared page by page: the pages they share are skipped
    unread, so the cost follows the size of the change, not of the manifests.
    """
    result = ManifestDiff()
    for a, b in _pairs(old, new):
        if a is None:
            result.added.append(b)  # type: ignore[arg-type]
        elif b is None:
            result.removed.append(a)
        else:
            result.changed.append((a, b))
    return result


def _pairs(old: Manifest, new: Manifest) -> Iterator[tuple[Entry | None, Entry | None]]:
    if old.stored_digest is not None and new.stored_digest is not None:
        assert old._tree is not None and new._tree is not None
        for old_row, new_row in pages.diff(old._tree, new._tree):
            yield (Entry.from_row(old_row) if old_row else None), (Entry.from_row(new_row) if new_row else None)
        return
    left, right = _sorted(old), _sorted(new)
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.path < b.path):
            yield a, None
            a = next(left, None)
        elif a is None or b.path < a.path:
            yield None, b
            b = next(right, None)
        else:
            if (a.digest, a.ref) != (b.digest, b.ref):
                yield a, b
            a, b = next(left, None), next(right, None)


def _sorted(manifest: Manifest) -> Iterator[Entry]:
    # A stored manifest iterates in path order already; one built in memory may not.
    return iter(manifest) if manifest._tree is not None else iter(sorted(manifest, key=lambda e: e.path))
