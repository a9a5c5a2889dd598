"""Merging the manifests of collaborative writers into one.

Deterministic: the result depends on the contributions, not on the order they arrived
in (callers pass them in a stable order, and that order only decides which of several
entries with the same path and digest is kept, e.g. whose ``extra`` survives). The same
path with the same digest from many writers is one entry; the same path with different
digests is a conflict, reported for every such path with every writer involved, and so
is a stored file beside a reference (or two references to other URIs) at one path. So is
a path that some writer wrote as a file and another as a folder (``a`` beside ``a/b``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConflictError
from ..store.digests import check_digest, is_digest
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
        InvalidDigestError: an entry's digest is not one (nothing is merged).
        ConflictError: some path holds different digests in different parts, or is a
            file in some and a folder in others; its ``conflicts`` maps each such path to
            every ``(writer, digest)`` at it (or, for a folder, of a file below it).
    """
    merged: dict[str, Entry] = {}
    clashing: set[str] = set()
    for writer, manifest in parts:
        for path, entry in manifest.entries.items():
            if not is_digest(entry.digest):  # a contribution is data: its digests become paths
                check_digest(entry.digest, f"{writer}'s contribution to {what}, at {path!r},")
            have = merged.setdefault(path, entry)
            # A reference holds no bytes in the store: beside a stored file with its
            # digest (or another reference's URI) it is other content, not the same.
            if have.digest != entry.digest or have.ref != entry.ref:
                clashing.add(path)
    out = Manifest()
    out.entries = merged
    folders = set(out.folder_clashes()) if not clashing else set()
    if clashing or folders:
        raise _conflict(parts, clashing or folders, bool(folders), what, ref)
    return out


def _conflict(
    parts: Sequence[tuple[str, Manifest]], paths: set[str], folders: bool, what: str, ref: str
) -> ConflictError:
    """The error for ``paths``: written with different digests, or (``folders``) written
    as files by some writers and as folders of other paths by others."""
    conflicts: dict[str, list[tuple[str, str]]] = {p: [] for p in sorted(paths)}
    said: dict[str, list[str]] = {p: [] for p in conflicts}
    for writer, manifest in parts:
        for path in conflicts:
            entry = manifest.entries.get(path)
            if entry is not None:
                conflicts[path].append((writer, entry.digest))
                wrote = f"a reference to {entry.ref}" if entry.ref is not None else entry.digest[:12]
                said[path].append(f"{writer} wrote {wrote}")
            elif folders and (below := next(iter(manifest.under(path)), None)) is not None:
                conflicts[path].append((writer, below.digest))
                said[path].append(f"{writer} wrote {below.path!r}")
    shown = "; ".join(f"{path!r}: " + ", ".join(said[path]) for path in list(conflicts)[:SHOWN])
    more = f" (and {len(conflicts) - SHOWN} more paths)" if len(conflicts) > SHOWN else ""
    n = len(conflicts)
    if folders:
        problem = f"{n} paths are both files and folders" if n > 1 else "1 path is both a file and a folder"
    else:
        problem = f"{n} paths hold different content" if n > 1 else "1 path holds different content"
    return ConflictError(
        f"{problem} from different writers, so {what} was not committed: {shown}{more}. "
        "Nothing was committed and every contribution is kept. Make each path come from "
        "one writer (or the same bytes), then abort the pending version "
        f"(`quire artifact pending abort {ref}`) and write again under a new distributed "
        "id; if only the finisher's files were wrong, fix them and finish again",
        conflicts,
    )
