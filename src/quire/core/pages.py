"""Paged manifests: a version's entries as a tree of small pages shared between versions.

Why pages, and not delta manifests with periodic checkpoints: a delta chain makes every
read of version N replay up to a checkpoint (or load the whole checkpoint) and makes gc
and diff reason about chains; a checkpoint is again a full copy of the manifest. Sorted
pages give all three things a patch needs from one structure: an edit rewrites only the
pages it touches (plus their ancestors), any version reads one entry or one folder by
loading the few pages that cover it, and two versions are diffed by skipping every page
they share. Pages are blobs, so sharing between versions is plain content addressing.

The shape (a "prolly tree"): entries sorted by path are cut into level-0 pages at
content-defined boundaries: a path ends a page when a hash of the path falls below
``2**64 / TARGET`` (so pages hold ``TARGET`` entries on average, ``MAX_ITEMS`` at most).
Each level above lists the pages below it as ``[first path, page digest]`` rows, cut the
same way (with a per-level hash), up to a single page: the root. Because boundaries
depend only on the paths, the tree is a function of the entries alone, whatever edits
led to them: an edit re-cuts the touched region and is back in step with the old pages
at the first boundary they share, so it writes a page or two per level.

The root also holds the version's totals (count, size) and the running sum behind the
version digest (see :func:`pair_term`), so a patch updates them from the entries it
replaces instead of reading the rest. A page is JSON::

    {"format": "quire.manifest/2", "level": 0, "items": [[path, digest, size, ref, extra], ...]}
    {"format": ..., "count": N, "size": S, "sum": "<hex>", "terms": 2, "level": L, "items": [...]}  (root)

``terms`` says how the sum counts references (:data:`SUM_TERMS`); roots written before
it existed counted a reference as a stored entry, and their sum is added up again from
the entries when they are first patched (:attr:`Tree.totals`).

The single-blob manifests of format 1 read as a root holding every entry.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from bisect import bisect_right
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import blake3

from ..errors import StoreError
from ..hashing import hash_bytes
from ..store.blobs import BlobStore
from ..store.digests import DIGEST_HEX, check_digest, is_digest


class PageSource(Protocol):
    """Where pages are read from: a :class:`BlobStore`, or the local cache in front of one
    (:meth:`quire.core.cache.Cache.pages`). ``read`` returns verified bytes."""

    def read(self, digest: str) -> bytes:
        """The bytes of the page (a blob) ``digest``."""
        ...


FORMAT = "quire.manifest/2"
LEGACY = "quire.manifest/1"
TARGET = 128  #: average items per page
MAX_ITEMS = 8 * TARGET  #: a page is cut here whatever the hashes say
SUM_BYTES = 512  #: the version digest's running sum is a 4096-bit number
_MOD = 1 << (8 * SUM_BYTES)
#: the root's sum holds :func:`pair_term` of stored entries and references (without this
#: mark on a root, of ``(path, digest)`` only: references counted as stored entries)
SUM_TERMS = 2

Row = list[Any]  # leaf: [path, digest, size, ref, extra]; above: [first path, page digest]
Put = Callable[[bytes], str]  # stores a page body, returns its digest
Made = dict[str, tuple[int, list[Row]]]  # pages stored by one edit (digest → level, rows): not readable yet


# -- the version digest ------------------------------------------------------------------


def pair_term(path: str, digest: str, ref: str | None = None) -> int:
    """One entry's share of the version digest's sum: its path, digest and reference URI.

    The version digest is a hash of the sum (mod 2**4096) of these terms over every entry:
    a function of the set of entries only (not of paging, order or history), which a patch
    updates by subtracting the terms it replaces and adding the new ones. 4096 bits keep
    finding two sets with equal sums (a generalized-birthday attack) out of reach (~2**128).

    A stored entry's term is that of its ``(path, digest)`` pair, as it always was, so
    versions without references keep their digests (and still dedup). A reference holds
    no bytes in the store, so it is other content than a stored entry with its digest:
    its term also covers its URI, in a form that no stored entry's pair can take (a
    prefix, then JSON, which keeps the three fields apart whatever they hold).
    """
    if ref is None:
        data = f"{path}\x00{digest}".encode("utf-8", "surrogatepass")
    else:
        data = b"quire.ref\x00" + json.dumps([path, digest, ref]).encode()
    return int.from_bytes(blake3.blake3(data).digest(length=SUM_BYTES), "little")


def row_term(row: Row) -> int:
    """:func:`pair_term` of a leaf row."""
    return pair_term(row[0], row[1], row[3])


def sum_rows(rows: Iterator[Row] | list[Row]) -> int:
    """The sum of :func:`pair_term` over leaf rows."""
    return sum(map(row_term, rows)) % _MOD


def digest_from_sum(total: int) -> str:
    """The version digest of a manifest whose terms add up to ``total``."""
    return hash_bytes(b"quire.version/2\x00" + (total % _MOD).to_bytes(SUM_BYTES, "little"))


@dataclass(frozen=True)
class Totals:
    """What the root records about all entries: count, bytes, and the digest's sum.

    ``terms`` is how ``sum`` was added up (:data:`SUM_TERMS`; 1: by an earlier release).
    """

    count: int = 0
    size: int = 0
    sum: int = 0
    terms: int = SUM_TERMS

    def plus(self, row: Row) -> Totals:
        return Totals(self.count + 1, self.size + (row[2] or 0), (self.sum + row_term(row)) % _MOD, self.terms)

    def minus(self, row: Row) -> Totals:
        return Totals(self.count - 1, self.size - (row[2] or 0), (self.sum - row_term(row)) % _MOD, self.terms)

    @classmethod
    def of(cls, rows: list[Row]) -> Totals:
        return cls(len(rows), sum(r[2] or 0 for r in rows), sum_rows(rows))


# -- pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One decoded page. ``keys[i]`` is ``rows[i][0]``; ``totals`` only on a root."""

    digest: str
    level: int
    keys: list[str]
    rows: list[Row]
    totals: Totals | None = None
    cut: bool = True  #: cut by the rules above (a format-1 manifest is one uncut page)


def page_body(level: int, rows: list[Row], totals: Totals | None = None) -> bytes:
    """The deterministic bytes of a page (a root when ``totals`` is given)."""
    doc: dict[str, Any] = {"format": FORMAT}
    if totals is not None:
        assert totals.terms == SUM_TERMS, "a root is written with the sum as it is counted now"
        doc.update(
            count=totals.count, size=totals.size, sum=totals.sum.to_bytes(SUM_BYTES, "little").hex(), terms=SUM_TERMS
        )
    doc.update(level=level, items=rows)
    return json.dumps(doc, separators=(",", ":")).encode()


def parse_page(raw: bytes, digest: str) -> Page:
    """Decode a stored page (or a format-1 manifest, as a root holding every entry)."""
    doc = json.loads(raw)
    fmt = doc.get("format")
    if fmt == LEGACY:
        rows = sorted(_checked(doc["entries"], 0, digest), key=lambda r: r[0])
        return Page(digest, 0, [r[0] for r in rows], rows, None, cut=False)  # totals: see Tree
    if fmt != FORMAT:
        raise StoreError(f"unknown manifest format {fmt!r} in blob {digest}; upgrade quire")
    rows = _checked(doc["items"], doc["level"], digest)
    totals = None
    if "sum" in doc:
        terms = doc.get("terms", 1)
        if terms not in (1, SUM_TERMS):
            raise StoreError(f"manifest root {digest} sums its entries in a newer way ({terms}); upgrade quire")
        totals = Totals(doc["count"], doc["size"], int.from_bytes(bytes.fromhex(doc["sum"]), "little"), terms)
    return Page(digest, doc["level"], [r[0] for r in rows], rows, totals)


def _checked(rows: list[Row], level: int, digest: str) -> list[Row]:
    """``rows`` of the page ``digest`` once each is a row of its level (``[path, digest,
    size, ref, extra]`` at level 0, ``[first path, page digest]`` above) whose digest is
    one: a page is data read from the store, and the digests in it become paths."""
    width = 5 if level == 0 else 2
    if _all_digests(rows, width):
        return rows
    for row in rows:  # find the culprit, for the message
        if not (isinstance(row, list) and len(row) == width and isinstance(row[0], str)):
            raise StoreError(
                f"manifest page {digest} holds a malformed row {str(row)[:80]!r}; the store is "
                "damaged or was written by another program, so nothing was read from it"
            )
        if not is_digest(row[1]):
            what = f"the manifest entry {row[0]!r}" if level == 0 else f"the page reference {row[0]!r}"
            check_digest(row[1], f"{what} in manifest page {digest}")
    return rows


_HEX = b"0123456789abcdef"


def _all_digests(rows: list[Row], width: int) -> bool:
    """Whether every row is a list of ``width`` items starting with a path and a digest:
    checked in a few passes in C rather than a regex per row (pages are read on every
    download: 2 ms for 20,000 rows here, a regex per row took 10)."""
    try:
        digests = [r[1] for r in rows]
        return (
            set(map(len, digests)) <= {DIGEST_HEX}
            and set(map(type, rows)) <= {list}
            and set(map(len, rows)) <= {width}
            and set(map(type, [r[0] for r in rows])) <= {str}
            and not "".join(digests).encode("ascii").translate(None, _HEX)  # nothing but hex left out
        )
    except (TypeError, IndexError, KeyError, UnicodeEncodeError):  # a row or a digest of another type
        return False


CACHED_PAGES = 1024  # ~50 MiB at most; pages are content-addressed, so any store may share them


class PageLRU:
    """Decoded pages by digest, the ``size`` used last; shared by threads. Pages are
    content-addressed and verified when read, so one LRU serves every store."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Page | None:
        """The page ``digest`` if it is kept (it becomes the last used)."""
        with self._lock:
            page = self._pages.get(digest)
            if page is not None:
                self._pages.move_to_end(digest)
            return page

    def put(self, page: Page) -> None:
        """Keep ``page``, dropping the least recently used beyond :attr:`size`."""
        with self._lock:
            self._pages[page.digest] = page
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        """Forget every page (as a new process would start)."""
        with self._lock:
            self._pages.clear()


_cache = PageLRU(CACHED_PAGES)  # this process's decoded pages


def read_page(blobs: PageSource, digest: str) -> Page:
    """The page stored under ``digest`` (decoded pages are kept in a small LRU)."""
    page = _cache.get(digest)
    if page is None:
        page = parse_page(blobs.read(digest), digest)
        _cache.put(page)
    return page


# -- reading ----------------------------------------------------------------------------


class Tree:
    """A stored manifest, read page by page as needed."""

    def __init__(self, blobs: PageSource, root: Page) -> None:
        assert root.totals is not None or not root.cut, "a root page carries the totals"
        self.blobs = blobs
        self.root = root

    @functools.cached_property
    def totals(self) -> Totals:
        """Count, bytes and digest sum of every entry; a format-1 manifest has them summed
        on first use (a contribution being merged never needs them)."""
        totals = self.counts
        if totals.terms != SUM_TERMS:
            # A root of an earlier release: its sum counted references as stored entries,
            # and nothing tells which entries are references but the entries. Summed
            # again, reading every page once; a patch then writes a root that is right.
            totals = Totals(totals.count, totals.size, sum_rows(iter(self)))
        return totals

    @functools.cached_property
    def counts(self) -> Totals:
        """Count and bytes of every entry, as recorded (the sum may be an earlier
        release's: use :attr:`totals` for the digest)."""
        return self.root.totals if self.root.totals is not None else Totals.of(self.root.rows)

    @property
    def digest(self) -> str:
        """The root page's digest (what the catalog records as the version's manifest)."""
        return self.root.digest

    def page(self, digest: str) -> Page:
        """A page of this tree."""
        return read_page(self.blobs, digest)

    def get(self, path: str) -> Row | None:
        """The leaf row at ``path``, loading one page per level."""
        page = _Cursor(self, 0).seek(path)
        i = bisect_right(page.keys, path) - 1
        return page.rows[i] if i >= 0 and page.keys[i] == path else None

    def range(self, lo: str, hi: str | None = None) -> Iterator[Row]:
        """The leaf rows with ``lo <= path < hi``, in order, loading only their pages."""
        cursor = _Cursor(self, 0)
        first = cursor.seek(lo)
        start = bisect_right(first.keys, lo) - 1
        start = start if start >= 0 and first.keys[start] == lo else start + 1
        page: Page | None = first
        while page is not None:
            for key, row in zip(page.keys[start:], page.rows[start:], strict=True):
                if hi is not None and key >= hi:
                    return
                yield row
            page, start = cursor.next(), 0

    def __iter__(self) -> Iterator[Row]:
        return self.range("")


class _Cursor:
    """Walks the pages of one level of a tree, left to right."""

    def __init__(self, tree: Tree, level: int) -> None:
        self.tree, self.level = tree, level
        self.stack: list[tuple[Page, int]] = []  # (page above, index of the row followed)

    def seek(self, key: str) -> Page:
        """The page of this level that holds ``key`` (or would)."""
        page, self.stack = self.tree.root, []
        while page.level > self.level:
            i = max(bisect_right(page.keys, key) - 1, 0)
            self.stack.append((page, i))
            page = self.tree.page(page.rows[i][1])
        return page

    def bound(self) -> str | None:
        """The first key of the page after the current one (None: it is the last)."""
        for page, i in reversed(self.stack):
            if i + 1 < len(page.rows):
                return page.keys[i + 1]
        return None

    def next(self) -> Page | None:
        """The page after the current one, or None."""
        while self.stack:
            page, i = self.stack.pop()
            if i + 1 < len(page.rows):
                self.stack.append((page, i + 1))
                child = self.tree.page(page.rows[i + 1][1])
                while child.level > self.level:
                    self.stack.append((child, 0))
                    child = self.tree.page(child.rows[0][1])
                return child
        return None


def walk(blobs: BlobStore, digest: str, seen: set[str]) -> Iterator[Row]:
    """Leaf rows of every page below ``digest`` not in ``seen``; adds each page to ``seen``.

    A page already seen is skipped with everything below it, so walking many versions
    that share pages reads each page once (what gc needs).
    """
    for rows in walk_leaves(blobs, digest, seen):
        yield from rows


def walk_leaves(blobs: BlobStore, digest: str, seen: set[str]) -> Iterator[list[Row]]:
    """The rows of each leaf page below ``digest`` not in ``seen``, a page at a time (as
    :func:`walk`, for a caller that handles a page's rows at once).

    Pages read here are not kept in the LRU: a walk reads each page once, and would
    only evict the pages readers use (and hold its ~50 MiB for nothing)."""
    stack = [digest]
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        page = _cache.get(d) or parse_page(blobs.read(d), d)
        if page.level == 0:
            yield page.rows
        else:
            stack.extend(r[1] for r in page.rows)


# -- writing ----------------------------------------------------------------------------


def _is_cut(level: int, key: str) -> bool:
    h = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8, person=b"quire.page.%d" % level).digest()
    return int.from_bytes(h, "little") < (1 << 64) // TARGET


class _Chunker:
    """Cuts one level's items into pages at content-defined boundaries."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.rows: list[Row] = []
        self.pages: list[list[Row]] = []

    def push(self, row: Row, known_uncut: bool = False) -> None:
        """Add the next item; ``known_uncut``: its path is known not to be a boundary."""
        self.rows.append(row)
        if len(self.rows) >= MAX_ITEMS or (not known_uncut and _is_cut(self.level, row[0])):
            self.pages.append(self.rows)
            self.rows = []

    def finish(self) -> list[list[Row]]:
        if self.rows:
            self.pages.append(self.rows)
            self.rows = []
        return self.pages


def build(rows: list[Row], put: Put) -> str:
    """Store the tree of ``rows`` (sorted by path, unique); returns the root's digest."""
    chunker = _Chunker(0)
    for row in rows:
        chunker.push(row)
    return _finish(0, chunker.finish(), put, Totals.of(rows), {})


def _finish(level: int, pages: list[list[Row]], put: Put, totals: Totals, made: Made) -> str:
    """Stack levels on ``pages`` (one level's pages, in order) until one page is left;
    store it as the root. ``made`` holds pages stored by this edit (not readable yet)."""
    if not pages:
        return put(page_body(0, [], totals))
    while len(pages) > 1:
        chunker = _Chunker(level + 1)
        for rows in pages:
            digest = put(page_body(level, rows))
            made[digest] = (level, rows)
            chunker.push([rows[0][0], digest])
        level, pages = level + 1, chunker.finish()
    return put(page_body(level, pages[0], totals))


def edit(tree: Tree, changes: dict[str, Row | None], put: Put) -> str:
    """Store the tree of ``tree``'s entries with ``changes`` applied (path → new leaf row,
    or None to delete); returns the new root's digest. Only the pages the changes touch,
    and their ancestors, are read and written."""
    if not changes:
        return tree.digest
    todo = sorted(changes.items(), key=lambda kv: kv[0])
    totals = tree.totals
    made: Made = {}
    level = 0
    while True:
        replaced: list[tuple[str, str]] = []  # (first key, digest) of the pages re-cut
        pages: list[list[Row]] = []
        cursor, i = _Cursor(tree, level), 0
        while i < len(todo):
            page: Page | None = cursor.seek(todo[i][0])
            chunker = _Chunker(level)
            while page is not None:
                if page.keys:
                    replaced.append((page.keys[0], page.digest))
                bound, j = cursor.bound(), i
                while j < len(todo) and (bound is None or todo[j][0] < bound):
                    j += 1
                for old, new in _merge(page, todo[i:j], chunker.push):
                    if level == 0:
                        totals = totals.minus(old) if old is not None else totals
                        totals = totals.plus(new) if new is not None else totals
                i = j
                if not chunker.rows:  # cut where an old page ends: in step again
                    break
                page = cursor.next()
            pages += chunker.finish()
        if level == tree.root.level:
            return _root(level, pages, put, totals, tree, made)
        todo = _parent_changes(level, replaced, pages, put, made)
        if not todo:  # every re-cut page came out as it was: nothing above changes
            return tree.digest
        level += 1


def _merge(
    page: Page, changes: list[tuple[str, Row | None]], push: Callable[[Row, bool], None]
) -> Iterator[tuple[Row | None, Row | None]]:
    """Push the page's rows with ``changes`` applied; yield (old, new) for each change."""
    i, keys, rows = 0, page.keys, page.rows
    last = len(rows) - 1 if page.cut else 0  # no other row of a page is a boundary
    for key, new in changes:
        while i < len(keys) and keys[i] < key:
            push(rows[i], i < last)
            i += 1
        old = None
        if i < len(keys) and keys[i] == key:
            old, i = rows[i], i + 1
        if new is not None:
            push(new, False)
        if old != new:
            yield old, new
    for j in range(i, len(rows)):
        push(rows[j], j < last)


def _parent_changes(
    level: int, replaced: list[tuple[str, str]], pages: list[list[Row]], put: Put, made: Made
) -> list[tuple[str, Row | None]]:
    """Store the new pages of ``level``; the row changes they make one level up."""
    gone = set(replaced)
    changes: dict[str, Row | None] = {key: None for key, _ in replaced}
    for rows in pages:
        body = page_body(level, rows)
        ref = (rows[0][0], hash_bytes(body))
        if ref in gone:  # re-cut to the very same page
            changes.pop(ref[0], None)
            continue
        made[put(body)] = (level, rows)
        changes[ref[0]] = list(ref)
    return sorted(changes.items(), key=lambda kv: kv[0])


def _root(level: int, pages: list[list[Row]], put: Put, totals: Totals, tree: Tree, made: Made) -> str:
    """The new root, from the pages that replace the old root's level."""
    if len(pages) == 1:
        rows = pages[0]
        while level > 0 and len(rows) == 1:  # a root with one child: the child is the root
            child = rows[0][1]
            level, rows = made[child] if child in made else (level - 1, tree.page(child).rows)
        return put(page_body(level, rows, totals))
    return _finish(level, pages, put, totals, made)


# -- comparing --------------------------------------------------------------------------


def diff(a: Tree, b: Tree) -> Iterator[tuple[Row | None, Row | None]]:
    """``(row in a, row in b)`` for every path whose digest or reference differs (None
    where a side lacks it), in path order. Pages both trees share are skipped unread."""
    # A node is (key, level + 1, page digest) for a page, or (key, 0, row) for an entry.
    left: deque[tuple[str, int, Any]] = deque([("", a.root.level + 1, a.root.digest)])
    right: deque[tuple[str, int, Any]] = deque([("", b.root.level + 1, b.root.digest)])

    def expand(side: deque[tuple[str, int, Any]], tree: Tree) -> None:
        _, lvl, digest = side.popleft()
        page = tree.page(digest)
        below = [(k, lvl - 1, r if lvl == 1 else r[1]) for k, r in zip(page.keys, page.rows, strict=True)]
        side.extendleft(reversed(below))

    while left and right:
        (ka, la, xa), (kb, lb, xb) = left[0], right[0]
        if la and lb and xa == xb:
            left.popleft()
            right.popleft()
        elif la and ((lb and la >= lb) or (not lb and kb >= ka)):
            expand(left, a)
        elif lb and ((la and lb > la) or (not la and ka >= kb)):
            expand(right, b)
        elif ka == kb:
            left.popleft()
            right.popleft()
            if la == 0 and lb == 0 and (xa[1], xa[3]) != (xb[1], xb[3]):
                yield xa, xb
        elif ka < kb:
            yield left.popleft()[2], None
        else:
            yield None, right.popleft()[2]
    for side, tree, is_left in ((left, a, True), (right, b, False)):
        while side:
            if side[0][1]:
                expand(side, tree)
            else:
                row = side.popleft()[2]
                yield (row, None) if is_left else (None, row)
