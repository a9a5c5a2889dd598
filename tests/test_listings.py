"""Listings read a page at a time (issue 13, item 3): the sdk's paginators and the CLI's
``--limit``/``--offset``, over a catalog counted through a wrapper around the real one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import quire as wandb
from quire.cli import app
from quire.store import Store, open_store
from quire.store.catalog import Catalog
from quire.testing.catalog import commit

runner = CliRunner()

BIG = 130  #: versions of p/big (more than two pages of 50)


class CountingCatalog:
    """The real catalog, with a count of the calls made to it and of the version records
    they returned (what a listing read)."""

    def __init__(self, real: Catalog) -> None:
        self.real = real
        self.calls: list[str] = []
        self.records = 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.real, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            result = found(*args, **kwargs)
            if name in ("versions", "version", "version_by_id"):
                self.records += len(result) if isinstance(result, list) else 1
            return result

        return call


@pytest.fixture
def store(store_url: str) -> Store:
    """``p/big`` of ``BIG`` versions (each built on the one before, every tenth tagged
    ``gold``) and ``p/small`` of 3. Their roots stand for manifests no one stored: a
    listing that read one would fail."""
    opened = open_store(store_url)
    parent = None
    for i in range(BIG):
        tags = ("gold",) if i % 10 == 0 else ()
        parent = commit(opened.catalog, f"big {i}", name="big", tags=tags, parent_id=parent).version.id
    for i in range(3):
        commit(opened.catalog, f"small {i}", name="small")
    return opened


@pytest.fixture
def counted(store: Store, monkeypatch: pytest.MonkeyPatch) -> CountingCatalog:
    wrapper = CountingCatalog(store.catalog)
    monkeypatch.setattr(store, "catalog", wrapper)
    return wrapper


def test_a_page_reads_only_its_rows(store: Store, counted: CountingCatalog) -> None:
    listing = wandb.Api().artifacts("dataset", "p/big", per_page=20)
    first = listing[:20]
    assert [a.version for a in first] == [f"v{i}" for i in range(20)]
    assert counted.records <= 21 + 1  # the page, the row after it, and the collection check
    assert "version_by_id" not in counted.calls  # no parent looked up
    assert all(a._version is not None and a._version._manifest is None for a in first)  # no manifest read
    assert listing.more and len(listing) == BIG and counted.records <= 22  # len() is a count, no rows


def test_iteration_pages_through_every_version_once(store: Store, counted: CountingCatalog) -> None:
    listing = wandb.Api().artifacts("dataset", "p/big", per_page=50)
    assert [a.version for a in listing] == [f"v{i}" for i in range(BIG)]
    assert counted.calls.count("versions") == 3 and not listing.more
    assert counted.records <= BIG + 3 + 1  # each page once, plus one row peeked past two of them
    assert len(listing) == BIG and "count_versions" not in counted.calls  # all loaded: no count needed


def test_indexing_slicing_and_comparing_read_the_pages_needed(store: Store, counted: CountingCatalog) -> None:
    listing = wandb.Api().artifacts("dataset", "p/big", per_page=10)
    assert listing[15].version == "v15" and counted.calls.count("versions") == 2
    assert [a.version for a in listing[:3]] == ["v0", "v1", "v2"] and counted.calls.count("versions") == 2
    assert listing[-1].version == f"v{BIG - 1}"  # from the end: every page
    small = wandb.Api().artifacts("dataset", "p/small")
    assert small == list(small) and small != [] and [a.version for a in small[1:]] == ["v1", "v2"]


def test_order_tags_and_start_are_the_catalogs(store: Store, counted: CountingCatalog) -> None:
    api = wandb.Api()
    newest = api.artifacts("dataset", "p/big", order="-version", per_page=5)
    assert [a.version for a in newest[:5]] == [f"v{BIG - 1 - i}" for i in range(5)]
    assert counted.records <= 6 + 1
    gold = api.artifacts("dataset", "p/big", tags=["gold"], per_page=4)
    assert [a.version for a in gold] == [f"v{i}" for i in range(0, BIG, 10)]
    assert len(gold) == len(range(0, BIG, 10))
    resumed = api.artifacts("dataset", "p/big", order="-version", per_page=5, start=newest.cursor)
    assert resumed[0].version == f"v{BIG - 6}"


def test_pages_taken_while_versions_are_added_and_deleted(store: Store) -> None:
    api = wandb.Api()
    listing = api.artifacts("dataset", "p/big", per_page=50)
    seen = [a.version for a in listing[:50]]
    store.catalog.delete_version(api.artifact("p/big:v10").id)  # seen already
    store.catalog.delete_version(api.artifact("p/big:v60").id)  # not yet
    commit(store.catalog, "added", name="big")
    seen += [a.version for a in listing[50:]]
    expected = [f"v{i}" for i in range(BIG) if i != 60] + [f"v{BIG}"]
    assert seen == expected


def test_collection_listings_page_by_name(store: Store, counted: CountingCatalog) -> None:
    for i in range(5):
        commit(store.catalog, f"other {i}", name=f"c{i}")
    listing = wandb.Api().artifact_collections("p", per_page=2)
    assert [c.name for c in listing[:2]] == ["big", "c0"] and counted.calls.count("collections") == 1
    assert [c.name for c in listing] == ["big", "c0", "c1", "c2", "c3", "c4", "small"]
    assert len(listing) == 7
    resumed = wandb.Api().artifact_collections("p", per_page=2, start="c3")
    assert [c.name for c in resumed] == ["c4", "small"]
    assert [c.name for c in wandb.Api().artifact_collections("p", order="-name")][:2] == ["small", "c4"]


# -- the CLI -------------------------------------------------------------------------------


def cli(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def test_versions_shows_a_page_and_the_next(store: Store) -> None:
    text = cli("artifact", "versions", "p/big").stdout
    assert "big:v49" in text and "big:v50" not in text
    assert f"Showing 1-50 of {BIG}; next page: quire artifact versions p/big --offset 50" in text
    text = cli("artifact", "versions", "p/big", "--limit", "7", "--offset", "120").stdout
    assert "big:v120" in text and "big:v126" in text and "big:v127" not in text and "big:v119" not in text
    assert "--offset 127 --limit 7" in text
    last = cli("artifact", "versions", "p/big", "--offset", "125").stdout
    assert "big:v129" in last and "next page" not in last
    result = cli("artifact", "versions", "p/big", "--limit", "3", "--offset", "1", "--json")
    assert [v["version"] for v in json.loads(result.stdout)] == ["v1", "v2", "v3"]
    assert "next page: quire artifact versions p/big --offset 4 --limit 3 --json" in result.stderr
    assert json.loads(cli("artifact", "versions", "p/big", "--offset", "1000", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--limit", "0"], "--limit"),
        (["--limit", "-1"], "--limit"),
        (["--limit", "100001"], "--limit"),
        (["--offset", "abc"], "--offset"),
        (["--offset", "-3"], "--offset"),
        (["--limit", "2.5"], "--limit"),
    ],
)
def test_bad_pages_are_refused(store: Store, args: list[str], words: str) -> None:
    for command in (["artifact", "versions", "p/big"], ["artifact", "ls"]):
        result = cli(*command, *args, code=2)
        assert words in result.stderr and "Traceback" not in result.output


def test_ls_pages_collections(store: Store) -> None:
    for i in range(3):
        commit(store.catalog, f"m {i}", name=f"m{i}", type_="model")
    listed = json.loads(cli("artifact", "ls", "p", "--limit", "2", "--json").stdout)
    assert [c["name"] for c in listed] == ["big", "small"]  # by type, then name
    result = cli("artifact", "ls", "p", "--limit", "2", "--offset", "3")
    assert "m1" in result.stdout and "m2" in result.stdout and "m0" not in result.stdout
    assert "next page" not in result.stdout
    first = cli("artifact", "ls", "--limit", "2").stdout
    assert "Showing 1-2 of 5; next page: quire artifact ls --offset 2 --limit 2" in first
