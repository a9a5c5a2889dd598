"""Manifests: the map from logical path to entry that a version is.

A version's digest is a hash over its entries' paths, digests and, for references, URIs
only, so the same files give the same digest whatever the name, type, metadata or order
of adding, and a stored file differs from a reference to the same bytes. A
manifest is stored as a tree of pages (:mod:`quire.core.pages`: sorted, cut at
content-defined boundaries, shared between versions), and the catalog keeps the digest
of its root page. Read back, a manifest is lazy: one entry or one folder loads only the
pages that cover it, and an edited copy saves only the pages its changes touch.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StoreError, ValidationError
from ..store.blobs import BlobStore, BlobWriter
from ..store.digests import check_digest, is_digest
from . import pages
from .names import check_path


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
            other.path,
            other.digest,
            other.size,
            other.ref,
            other.extra,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def stored(self) -> bool:
        """Whether the bytes live in the blob store (a reference's do not)."""
        return self.ref is None

    def _row(self) -> list[Any]:
        return [self.path, self.digest, self.size, self.ref, self.extra or None]

    @classmethod
    def from_row(cls, row: list[Any]) -> Entry:
        """The entry a stored manifest row describes; ``InvalidDigestError`` when its digest
        is not one (a row is data read from the store, and digests become paths)."""
        path, digest, size, ref, extra = row
        if not is_digest(digest):
            check_digest(digest, f"the manifest entry {path!r}")
        return cls(path, digest, size, ref, extra or {})

    @classmethod
    def _of_page(cls, row: list[Any]) -> Entry:
        """The entry of a row of a stored page: :func:`~quire.core.pages.parse_page` checked
        every row of it already, all at once; checking each again here cost a warm
        download of 20,000 files 10 ms (5% of it)."""
        path, digest, size, ref, extra = row
        return cls(path, digest, size, ref, extra or {})


class Manifest:
    """Logical path → :class:`Entry`; the content of one version.

    Built in memory (``Manifest(entries)``), or read from the store by
    :func:`load_manifest`, lazily: a stored manifest loads only the pages that
    :meth:`get`, :meth:`under` or ``in`` need, and records :meth:`put` / :meth:`pop` as
    changes on top of them, so saving it again writes only the pages they touch.
    :attr:`entries` still gives the whole mapping (loading every page, once).
    """

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[str, Entry] | None = {e.path: e for e in entries}
        self._tree: pages.Tree | None = None
        self._changes: dict[str, Entry | None] = {}  # over _tree: path → new entry, or None: deleted

    @classmethod
    def _over(cls, tree: pages.Tree) -> Manifest:
        manifest = cls.__new__(cls)
        manifest._entries, manifest._tree, manifest._changes = None, tree, {}
        return manifest

    @property
    def entries(self) -> dict[str, Entry]:
        """Every entry, path → entry (for a stored manifest, this loads every page)."""
        if self._entries is None:
            assert self._tree is not None
            entries = {row[0]: Entry._of_page(row) for row in self._tree}
            for path, entry in self._changes.items():
                if entry is None:
                    entries.pop(path, None)
                else:
                    entries[path] = entry
            self._entries, self._tree, self._changes = entries, None, {}
        return self._entries

    @entries.setter
    def entries(self, value: dict[str, Entry]) -> None:
        self._entries, self._tree, self._changes = value, None, {}

    @property
    def stored_digest(self) -> str | None:
        """The digest this manifest is stored under, when it is unchanged since loading."""
        return self._tree.digest if self._tree is not None and not self._changes else None

    # -- one path --------------------------------------------------------------------

    def get(self, path: str) -> Entry | None:
        """The entry at ``path``, or None."""
        if self._tree is None:
            return self.entries.get(path)
        if path in self._changes:
            return self._changes[path]
        row = self._tree.get(path)
        return Entry._of_page(row) if row is not None else None

    def put(self, entry: Entry) -> None:
        """Add ``entry``, replacing any entry at its path."""
        if self._tree is None:
            self.entries[entry.path] = entry
        elif self._tree.get(entry.path) == entry._row():
            self._changes.pop(entry.path, None)  # as stored: nothing to save
        else:
            self._changes[entry.path] = entry

    def pop(self, path: str) -> Entry | None:
        """Remove the entry at ``path``; returns it (None when there was none)."""
        if self._tree is None:
            return self.entries.pop(path, None)
        old = self.get(path)
        if old is not None:
            self._changes[path] = None
        return old

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None

    # -- all entries -----------------------------------------------------------------

    def __len__(self) -> int:
        return self._totals(exact=False).count if self._tree is not None else len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        if self._tree is None:
            return iter(self.entries.values())
        return self._merged(iter(self._tree), sorted(self._changes))

    def _merged(self, rows: Iterator[pages.Row], changed: list[str]) -> Iterator[Entry]:
        """Stored rows (sorted) with the changes at ``changed`` (sorted) applied."""
        i = 0
        for row in rows:
            while i < len(changed) and changed[i] < row[0]:
                if (entry := self._changes[changed[i]]) is not None:
                    yield entry
                i += 1
            if i < len(changed) and changed[i] == row[0]:
                if (entry := self._changes[changed[i]]) is not None:
                    yield entry
                i += 1
            else:
                yield Entry._of_page(row)
        for path in changed[i:]:
            if (entry := self._changes[path]) is not None:
                yield entry

    def fresh_entries(self) -> list[Entry]:
        """The entries not read from the store: all of them, or a stored one's changes."""
        if self._tree is None:
            return list(self.entries.values())
        return [e for e in self._changes.values() if e is not None]

    def copy(self) -> Manifest:
        """A copy to edit; a stored manifest's copy shares its pages (entries are not
        mutated in place)."""
        if self._tree is None:
            return Manifest(self.entries.values())
        manifest = Manifest._over(self._tree)
        manifest._changes = dict(self._changes)
        return manifest

    def _totals(self, exact: bool = True) -> pages.Totals:
        """Count, bytes and digest sum; ``exact=False``: the sum may be wrong (a count or
        size never needs an earlier release's root summed again)."""
        if self._tree is None:
            return pages.Totals.of([e._row() for e in self.entries.values()])
        totals = self._tree.totals if exact else self._tree.counts
        for path, entry in self._changes.items():
            old = self._tree.get(path)
            if old is not None:
                totals = totals.minus(old)
            if entry is not None:
                totals = totals.plus(entry._row())
        return totals

    @property
    def digest(self) -> str:
        """The version digest: a hash over the set of entries (path, digest, reference URI).

        Independent of paging, order and history (see :func:`quire.core.pages.pair_term`),
        and for a stored manifest computed from its root and changes alone.
        """
        if self._tree is None:
            return pages.digest_from_sum(pages.sum_rows(e._row() for e in self.entries.values()))
        return pages.digest_from_sum(self._totals().sum)

    @property
    def size(self) -> int:
        """Total bytes of the entries whose size is known."""
        if self._tree is None:
            return sum(e.size or 0 for e in self.entries.values())
        return self._totals(exact=False).size

    def under(self, folder: str) -> list[Entry]:
        """The entries at or below ``folder`` (a path or a folder prefix), sorted by path.

        A stored manifest loads only the pages that cover the folder.
        """
        folder = folder.rstrip("/")
        if self._tree is None:
            return sorted(
                (e for p, e in self.entries.items() if p == folder or p.startswith(folder + "/")),
                key=lambda e: e.path,
            )
        exact = self._tree.get(folder)
        rows = itertools.chain([exact] if exact is not None else [], self._tree.range(folder + "/", folder + "0"))
        changed = sorted(p for p in self._changes if p == folder or p.startswith(folder + "/"))
        return list(self._merged(rows, changed))

    def starting_with(self, prefix: str) -> list[Entry]:
        """The entries whose path starts with the string ``prefix``, sorted by path: W&B's
        ``path_prefix``, so ``"im"`` matches ``images/a.png`` and ``imx.txt`` alike.

        A stored manifest loads only the pages that cover the prefix's range of paths.
        """
        if self._tree is None:
            return sorted((e for p, e in self.entries.items() if p.startswith(prefix)), key=lambda e: e.path)
        # Every path starting with the prefix sorts in [prefix, prefix with its last
        # character raised by one).
        rows = self._tree.range(prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)) if prefix else iter(self._tree)
        return list(self._merged(rows, sorted(p for p in self._changes if p.startswith(prefix))))

    def after(self, path: str | None) -> Iterator[Entry]:
        """The entries whose path sorts after ``path`` (all of them for None), in path
        order, lazily: a page of a listing costs the manifest pages it covers, not the
        whole manifest (a stored one is read from the page holding ``path`` on)."""
        if self._tree is None:
            return iter(sorted((e for p, e in self.entries.items() if path is None or p > path), key=lambda e: e.path))
        # "\0" sorts before every character a path may hold: the first path after ``path``.
        rows = self._tree.range(path + "\0") if path is not None else iter(self._tree)
        return self._merged(rows, sorted(p for p in self._changes if path is None or p > path))

    def from_path(self, path: str) -> Iterator[Entry]:
        """The entries whose path is ``path`` or sorts after it, in path order, lazily (a
        stored manifest is read from the page holding ``path`` on)."""
        if self._tree is None:
            return iter(sorted((e for p, e in self.entries.items() if p >= path), key=lambda e: e.path))
        return self._merged(self._tree.range(path), sorted(p for p in self._changes if p >= path))

    def children(self, folder: str = "", after: str | None = None) -> Iterator[Entry | str]:
        """What ``folder`` holds directly, in path order: its entries, and the name of
        each subfolder as ``"name/"``; from the first child named after ``after`` on.

        A subfolder costs one seek past it, never a read of what it holds, so a page of a
        folder view of a million-entry version reads only the manifest pages it shows.
        """
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        # "0" follows "/": prefix + "sub0" is the first path after everything in sub/
        start = prefix if after is None else prefix + (after.rstrip("/") + "0" if after.endswith("/") else after + "\0")
        while True:
            entry = next(self.from_path(start), None)
            if entry is None or not entry.path.startswith(prefix):
                return
            name, slash, _ = entry.path[len(prefix) :].partition("/")
            if slash:
                yield name + "/"
                start = prefix + name + "0"
            else:
                yield entry
                start = entry.path + "\0"

    # -- the single-blob form (format 1) ---------------------------------------------

    def folder_clashes(self) -> list[str]:
        """Paths that are also the folder of other paths (``a`` beside ``a/b``), sorted.

        Such a manifest cannot be placed in a folder, so it must not be committed. Of a
        stored manifest (clash-free when committed) only the changed paths are checked.
        """
        if self._tree is None:
            paths: Iterable[str] = self.entries
            held = self.entries.__contains__
        else:
            paths = [p for p, e in self._changes.items() if e is not None]
            held = self.__contains__
        clashes = {path for path in paths if self._tree is not None and self._holds_below(path)}
        for path in paths:
            cut = path.rfind("/")
            while cut > 0:
                if held(path[:cut]):
                    clashes.add(path[:cut])
                cut = path.rfind("/", 0, cut)
        return sorted(clashes)

    def _holds_below(self, folder: str) -> bool:
        """Whether a stored manifest (with its changes) holds a path below ``folder``."""
        assert self._tree is not None
        if any(p.startswith(folder + "/") and e is not None for p, e in self._changes.items()):
            return True
        # a stored row below it that the changes do not delete
        return any(self._changes.get(row[0], True) is not None for row in self._tree.range(folder + "/", folder + "0"))

    def to_bytes(self) -> bytes:
        """Deterministic serialisation as one blob: same entries, same bytes."""
        rows = [self.entries[p]._row() for p in sorted(self.entries)]
        return json.dumps({"format": pages.LEGACY, "entries": rows}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse what :meth:`to_bytes` wrote."""
        doc = json.loads(raw)
        if doc.get("format") != pages.LEGACY:
            raise StoreError(f"unknown manifest format {doc.get('format')!r}; upgrade quire")
        return cls(Entry.from_row(row) for row in doc["entries"])


def save_manifest(blobs: BlobStore, manifest: Manifest, writer: BlobWriter | None = None) -> str:
    """Store a manifest durably; returns the digest the catalog records (its root page).

    A manifest loaded from the store and edited writes only the pages its changes touch;
    every page it shares with the stored one is reused. With ``writer``, the pages join
    what it holds and are durable once the caller flushes it.
    """
    stored = manifest.stored_digest
    if stored is not None:
        return stored
    if writer is None:
        with blobs.writer() as writer:
            return save_manifest(blobs, manifest, writer)
    if manifest._tree is not None:
        changes = {p: e._row() if e is not None else None for p, e in manifest._changes.items()}
        return pages.edit(manifest._tree, changes, writer.add_bytes)
    rows = [manifest.entries[p]._row() for p in sorted(manifest.entries)]
    return pages.build(rows, writer.add_bytes)


def overlay(blobs: BlobStore, base: str, removed: Iterable[str], entries: Iterable[Entry]) -> str:
    """Store the manifest ``base`` with the paths and folders ``removed`` taken out, then
    ``entries`` put in; returns its digest. Only the pages these touch are read and written."""
    manifest = load_manifest(blobs, base)
    for gone in removed:
        for entry in manifest.under(gone):
            manifest.pop(entry.path)
    for entry in entries:
        manifest.put(entry)
    clashes = manifest.folder_clashes()
    if clashes:
        raise ValidationError(
            f"{', '.join(map(repr, clashes[:5]))} would be both a file and a folder in the latest "
            "version with this draft's files added; remove or rename one of them"
        )
    return save_manifest(blobs, manifest)


def load_manifest(blobs: pages.PageSource, digest: str, where: str = "the catalog's manifest reference") -> Manifest:
    """The manifest stored under ``digest``: only its root page is read now.

    ``digest`` comes from the catalog (a version's or a contribution's row): it is
    checked first, and ``where`` names it in the ``InvalidDigestError``.
    """
    check_digest(digest, where)
    return Manifest._over(pages.Tree(blobs, pages.read_page(blobs, digest)))


def check_manifest_path(path: str, root: Path) -> str:
    """``path`` if it stays inside ``root`` when joined to it; a manifest is data, not trusted."""
    try:
        return check_path(path)
    except ValidationError:
        raise StoreError(f"manifest path {path!r} would land outside {root}; refused") from None


def safe_target(root: Path, path: str) -> Path:
    """``root/path``, refusing any manifest path that would land outside ``root``."""
    return root / check_manifest_path(path, root)
