"""Merging the manifests of collaborative writers into one.

Deterministic: the result depends on the contributions, not on the order they arrived
in (callers pass them in a stable order, and that order only decides which of several
entries with the same path and digest is kept, e.g. whose ``extra`` survives). The same
path with the same digest from many writers is one entry; the same path with different
digests is a conflict, reported for every such path with every writer involved.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConflictError
from .manifest import Entry, Manifest

#: how many conflicting paths a message spells out (all are in ``ConflictError.conflicts``)
SHOWN = 10


def merge(parts: Sequence[tuple[str, Manifest]], what: str = "the version", ref: str = "ID") -> Manifest:
    """The union of ``parts`` (``(writer, manifest)`` pairs, in a stable order).

    Args:
        parts: each writer's label (for messages) and manifest.
        what: names the version being merged, for the error message.
        ref: how the error message's abort command names the pending version.

    Raises:
        ConflictError: some path holds different digests in different parts; its
            ``conflicts`` maps each such path to every ``(writer, digest)`` at it.
    """
    merged: dict[str, Entry] = {}
    clashing: set[str] = set()
    for _, manifest in parts:
        for path, entry in manifest.entries.items():
            have = merged.setdefault(path, entry)
            if have.digest != entry.digest:
                clashing.add(path)
    if clashing:
        raise _conflict(parts, clashing, what, ref)
    out = Manifest()
    out.entries = merged
    return out


def _conflict(parts: Sequence[tuple[str, Manifest]], paths: set[str], what: str, ref: str) -> ConflictError:
    conflicts: dict[str, list[tuple[str, str]]] = {p: [] for p in sorted(paths)}
    for writer, manifest in parts:
        for path in paths:
            entry = manifest.entries.get(path)
            if entry is not None:
                conflicts[path].append((writer, entry.digest))
    shown = "; ".join(
        f"{path!r}: " + ", ".join(f"{writer} wrote {digest[:12]}" for writer, digest in who)
        for path, who in list(conflicts.items())[:SHOWN]
    )
    more = f" (and {len(conflicts) - SHOWN} more paths)" if len(conflicts) > SHOWN else ""
    many = f"{len(conflicts)} paths hold" if len(conflicts) > 1 else "1 path holds"
    return ConflictError(
        f"{many} different bytes from different writers, so {what} was not committed: "
        f"{shown}{more}. Nothing was committed and every contribution is kept. Make each "
        "path come from one writer (or the same bytes), then abort the pending version "
        f"(`quire artifact pending abort {ref}`) and write again under a new distributed "
        "id; if only the finisher's files were wrong, fix them and finish again",
        conflicts,
    )
