"""What a catalog's listings must do, page by page (mixed into ``CatalogTests``).

``versions`` and ``collections`` return a page: the rows after a key (keyset paging, so
a row that exists throughout is seen exactly once however others come and go), then an
``offset``, at most ``limit``; ``count_versions`` and ``count_collections`` say how many
rows the whole listing holds. Bad bounds are refused before anything is read.
"""

from __future__ import annotations

from typing import Any

import pytest

from quire.errors import ArtifactNotFoundError, ValidationError
from quire.hashing import hash_bytes
from quire.store.catalog import (
    ANY_LATEST,
    OFFSET_LIMIT,
    PAGE_LIMIT,
    VERSION_ORDERS,
    Catalog,
    NewVersion,
    VersionCommit,
    VersionOrder,
    VersionRecord,
    new_commit_id,
    version_key,
)

#: how many versions the paging tests make (more than a few pages of PAGE)
MANY = 23
PAGE = 5


def _commit(catalog: Catalog, i: int, name: str = "c", tags: tuple[str, ...] = ()) -> VersionRecord:
    """Version ``i`` of ``p/name``: its size cycles (ties, for the tie-break by number)."""
    version = NewVersion(
        digest=hash_bytes(f"{name} {i}".encode()), root=hash_bytes(f"root {i}".encode()), size=i % 4, file_count=1
    )
    request = VersionCommit("p", name, "dataset", version, new_commit_id(), catalog.gc_epoch(), ANY_LATEST)
    request.tags = list(tags)
    return catalog.commit(request).version


def _pages(catalog: Catalog, order: VersionOrder, descending: bool, **filters: Any) -> list[list[int]]:
    """Every page of ``p/c`` in ``order``, each taken after the key of the last one seen."""
    pages: list[list[int]] = []
    after = None
    while True:
        page = catalog.versions("p", "c", order=order, descending=descending, after=after, limit=PAGE, **filters)
        if not page:
            return pages
        pages.append([r.index for r in page])
        after = version_key(page[-1], order)


#: listing bounds every catalog refuses (one test walks them: the suite counts its tests)
BAD_PAGES: list[dict[str, Any]] = [
    {"limit": 0},
    {"limit": -1},
    {"limit": PAGE_LIMIT + 1},
    {"limit": 2**63},
    {"limit": "5"},
    {"limit": 2.5},
    {"limit": True},
    {"offset": -1},
    {"offset": "abc"},
    {"offset": OFFSET_LIMIT + 1},
    {"offset": None},
    {"offset": False},
    {"order": "colour"},
    {"after": 3},
    {"after": ("v3", 3)},
    {"after": (1, 2, 3)},
    {"order": "created_at", "after": (3, 3)},
]


class ListingCatalogTests:
    """Pages of versions and collections."""

    @pytest.fixture
    def many(self, catalog: Catalog) -> list[VersionRecord]:
        """``MANY`` versions of ``p/c``; every third is tagged ``gold``."""
        return [_commit(catalog, i, tags=("gold",) if i % 3 == 0 else ()) for i in range(MANY)]

    def test_pages_list_every_version_once_in_order(self, catalog: Catalog, many: list[VersionRecord]) -> None:
        for order in VERSION_ORDERS:
            for descending in (False, True):
                whole = catalog.versions("p", "c", order=order, descending=descending)
                expected = [r.index for r in sorted(many, key=lambda r: version_key(r, order), reverse=descending)]
                assert [r.index for r in whole] == expected, (order, descending)
                pages = _pages(catalog, order, descending)
                assert all(len(p) == PAGE for p in pages[:-1]) and 1 <= len(pages[-1]) <= PAGE
                assert [i for p in pages for i in p] == expected, (order, descending)

    def test_the_default_listing_is_every_version_oldest_first(
        self, catalog: Catalog, many: list[VersionRecord]
    ) -> None:
        listed = catalog.versions("p", "c")
        assert [r.index for r in listed] == list(range(MANY))
        assert listed[4] == catalog.version("p", "c", "v4")  # a page's records are whole
        assert catalog.count_versions("p", "c") == MANY

    def test_limit_and_offset_cut_the_listing(self, catalog: Catalog, many: list[VersionRecord]) -> None:
        def indexes(**page: Any) -> list[int]:
            return [r.index for r in catalog.versions("p", "c", **page)]

        assert indexes(limit=4) == [0, 1, 2, 3]
        assert indexes(limit=4, offset=10) == [10, 11, 12, 13]
        assert indexes(offset=MANY - 2) == [MANY - 2, MANY - 1]
        assert indexes(offset=MANY) == [] and indexes(offset=OFFSET_LIMIT) == []
        assert indexes(limit=PAGE_LIMIT) == list(range(MANY))
        assert indexes(limit=3, descending=True, offset=1) == [MANY - 2, MANY - 3, MANY - 4]
        assert indexes(after=(5, 5), offset=2, limit=2) == [8, 9]  # the offset counts from the key

    def test_tags_filter_the_pages_and_the_count(self, catalog: Catalog, many: list[VersionRecord]) -> None:
        gold = [r.index for r in many if "gold" in r.tags]
        assert [r.index for r in catalog.versions("p", "c", tags=["gold"])] == gold
        assert [i for p in _pages(catalog, "index", False, tags=["gold"]) for i in p] == gold
        assert catalog.count_versions("p", "c", tags=["gold"]) == len(gold)
        assert catalog.versions("p", "c", tags=["gold", "none"]) == []
        assert catalog.count_versions("p", "c", tags=["gold", "none"]) == 0

    def test_bad_pages_are_refused_before_any_read(self, catalog: Catalog) -> None:
        _commit(catalog, 0)
        for page in BAD_PAGES:
            with pytest.raises(ValidationError, match=r"limit|offset|order|after"):
                catalog.versions("p", "c", **page)
            with pytest.raises(ValidationError):  # refused before the collection is looked for
                catalog.versions("p", "nothing", **page)
        assert len(catalog.versions("p", "c")) == 1

    def test_listing_a_missing_collection_is_not_found(self, catalog: Catalog) -> None:
        _commit(catalog, 0)
        for listing in (catalog.versions, catalog.count_versions):
            with pytest.raises(ArtifactNotFoundError, match="p/nothing"):
                listing("p", "nothing")
            with pytest.raises(ArtifactNotFoundError):
                listing("nowhere", "c")

    def test_pages_taken_while_versions_come_and_go_skip_and_repeat_none(self, catalog: Catalog) -> None:
        for descending, name in ((False, "up"), (True, "down")):
            many = [_commit(catalog, i, name=name) for i in range(MANY)]
            seen: list[int] = []
            deleted: set[int] = set()
            after = None
            step = 0
            while True:
                page = catalog.versions("p", name, descending=descending, after=after, limit=PAGE)
                if not page:
                    break
                seen += [r.index for r in page]
                after = version_key(page[-1], "index")
                # Between pages: one version seen is deleted, one not seen yet is deleted,
                # and (a few times) a new one is added.
                step += 1
                catalog.delete_version(page[0].id, delete_aliases=True)
                rest = catalog.versions("p", name, descending=descending, after=after, limit=2)
                if len(rest) == 2:
                    catalog.delete_version(rest[1].id, delete_aliases=True)
                    deleted.add(rest[1].index)
                if step <= 3:
                    _commit(catalog, 1000 + step, name=name)
            throughout = [r.index for r in many if r.index not in deleted]
            if descending:  # the ones added after the first page were never ahead of the key
                assert seen == sorted(throughout, reverse=True)
            else:  # the ones added come after every key, so they are seen too
                assert [i for i in seen if i < MANY] == throughout
                assert len(seen) == len(set(seen))

    def test_collections_page_by_name(self, catalog: Catalog) -> None:
        names = [f"c{i:02}" for i in range(12)]
        for i, name in enumerate(reversed(names)):
            request = VersionCommit(
                "p",
                name,
                "model" if i % 2 else "dataset",
                NewVersion(hash_bytes(name.encode()), hash_bytes(name.encode()), 1, 1),
                new_commit_id(),
                catalog.gc_epoch(),
            )
            catalog.commit(request)
        assert [c.name for c in catalog.collections("p")] == names
        assert [c.name for c in catalog.collections("p", limit=5)] == names[:5]
        assert [c.name for c in catalog.collections("p", after="c04", limit=3)] == names[5:8]
        assert [c.name for c in catalog.collections("p", offset=10)] == names[10:]
        models = [c.name for c in catalog.collections("p", "model")]
        assert models == [c for i, c in enumerate(reversed(names)) if i % 2][::-1]
        assert [c.name for c in catalog.collections("p", "model", after=models[1], limit=2)] == models[2:4]
        assert catalog.count_collections("p") == 12 and catalog.count_collections("p", "model") == 6
        catalog.update_version(catalog.version("p", "c03").id, aliases=["best", "gold"])
        assert [c.aliases for c in catalog.collections("p", after="c02", limit=2)] == [
            ["best", "gold", "latest"],
            ["latest"],
        ]
        assert catalog.collection("p", "c03").aliases == ["best", "gold", "latest"]
        assert catalog.count_collections("nowhere") == 0 and catalog.collections("nowhere", limit=3) == []
        for page in ({"limit": 0}, {"offset": -1}, {"limit": "3"}, {"after": 3}):
            with pytest.raises(ValidationError, match=r"limit|offset|after"):
                catalog.collections("p", **page)
