"""gc's mark: the blobs and pages that manifests reach, in memory that stays small.

A set of 10⁷ hex digests costs gigabytes in Python. The live set instead keeps each live
blob's **prefix** (the first 8 bytes of its digest, a uint64) in a sorted numpy array:
80 MB at 10⁷. A blob whose prefix is in the set is kept. Two digests with the same prefix
can only make gc keep a garbage blob (the one that shares a live blob's prefix), never
delete a live one: a live blob's own prefix is always in the set. Keeping garbage that
way is rare (about n²/2⁶⁵ pairs among n blobs: 3·10⁻⁶ at 10⁷) and costs its bytes only.

Pages are kept exactly (a Python set, as :func:`~quire.core.pages.walk` needs): a page
shared by many versions is read once, and pages are few next to blobs (one per about
:data:`~quire.core.pages.TARGET` entries).
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import ArtifactNotFoundError, StoreError
from ..store.packrows import prefix_of
from .pages import walk_leaves

if TYPE_CHECKING:
    import numpy as np

    from ..store import Store

log = logging.getLogger("quire.gc")
#: prefixes gathered before they go into an array (8 bytes each in an ``array``)
RUN = 1 << 20
#: pages walked between two progress lines
PAGES_SAID = 10_000


class LiveSet:
    """The prefixes of the blobs, and the pages, that the manifests of some roots reach."""

    def __init__(self, store: Store) -> None:
        import numpy as np

        self.store = store
        self.roots: set[str] = set()
        self.pages: set[str] = set()  # filled by walk_leaves(): each page read once
        self._pending = array("Q")  # prefixes of entries' blobs not yet in an array
        self._runs: list[np.ndarray] = []  # arrays of prefixes not yet merged
        self._merged = np.empty(0, dtype=np.uint64)  # sorted, unique
        self._frozen: np.ndarray | None = None

    def add(self, roots: Iterable[str]) -> None:
        """Walk the manifests of ``roots`` not walked yet (their pages not seen yet)."""
        said = len(self.pages) // PAGES_SAID
        for root in set(roots) - self.roots:
            try:
                for rows in walk_leaves(self.store.blobs, root, self.pages):
                    # stored bytes, not a reference (row[3]); prefix_of, inlined
                    self._pending.extend(int(row[1][:16], 16) for row in rows if row[3] is None)
                    if len(self._pending) >= RUN:
                        self._spill()
                    if len(self.pages) // PAGES_SAID > said:
                        said = len(self.pages) // PAGES_SAID
                        log.info("gc: %d manifest pages walked", len(self.pages))
            except ArtifactNotFoundError as exc:
                raise StoreError(
                    f"a manifest in {self.store.url} cannot be read ({exc}); the store is damaged, "
                    "so gc deleted nothing. Restore it from a backup first"
                ) from exc
            self.roots.add(root)
        self._frozen = None

    def _spill(self) -> None:
        """Move the pending prefixes into an array; merge the arrays once they outweigh
        the merged set (so memory stays within a few times the live set's, however many
        times versions list the same blob)."""
        import numpy as np

        self._runs.append(sorted_unique(np.array(self._pending, dtype=np.uint64)))
        self._pending = array("Q")
        if sum(len(r) for r in self._runs) > max(RUN, len(self._merged)):
            self._merged = sorted_unique(np.concatenate([self._merged, *self._runs]))
            self._runs = []

    def prefixes(self) -> np.ndarray:
        """The sorted, unique prefixes of every live blob and page."""
        import numpy as np

        if self._frozen is None:
            pages = np.fromiter((prefix_of(p) for p in self.pages), dtype=np.uint64, count=len(self.pages))
            pending = np.array(self._pending, dtype=np.uint64)
            self._merged = sorted_unique(np.concatenate([self._merged, *self._runs, pending]))
            self._runs, self._pending = [], array("Q")
            self._frozen = sorted_unique(np.concatenate([self._merged, pages]))
        return self._frozen

    def __len__(self) -> int:
        """How many live blobs and pages (prefixes: a collision counts once)."""
        return len(self.prefixes())

    def holds(self, prefixes: np.ndarray) -> np.ndarray:
        """For each of ``prefixes`` (uint64), whether it is live: a boolean array."""
        import numpy as np

        live = self.prefixes()
        if not len(live):
            return np.zeros(len(prefixes), dtype=bool)
        at = np.minimum(np.searchsorted(live, prefixes), len(live) - 1)
        return np.asarray(live[at] == prefixes)

    def holds_digest(self, digest: str) -> bool:
        """Whether the blob ``digest`` is live (by its prefix)."""
        import numpy as np

        return bool(self.holds(np.array([prefix_of(digest)], dtype=np.uint64))[0])


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``values`` (sorted in place: pass an array of your own) each once, in order.

    Not ``np.unique``: numpy 2's hashes its way there, 30 times slower on 10⁶ uint64 than
    a radix sort and a look at the neighbours, and it copies what this sorts in place."""
    import numpy as np

    values.sort(kind="stable")  # a radix sort for integers
    if len(values) < 2:
        return values
    first = np.empty(len(values), dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return values[first]
