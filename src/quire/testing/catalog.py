"""``CatalogTests``: what every :class:`~quire.store.catalog.Catalog` must do.

A backend runs the suite by subclassing it in a test module and supplying one fixture,
``open_catalog``: a function that opens a *new handle* on one initially empty catalog
each time it is called (a second handle stands for another process)::

    class TestMyCatalog(CatalogTests):
        @pytest.fixture
        def open_catalog(self, tmp_path):
            return lambda: MyCatalog(tmp_path / "catalog")

The suite drives only the protocol of :mod:`quire.store.catalog`: plain records in,
plain records out. A catalog never reads blobs, so the roots and digests here stand for
manifests no one stores.

Some behaviour can only be seen from behind the catalog's back (a lease whose holder
died, a gc that died mid-sweep). A backend that can show it also overrides the fixture
``catalog_backdoor`` with an object that has the methods of :class:`CatalogBackdoor`;
the tests that need it are skipped without one, so a new backend starts with the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import pytest

from quire.errors import (
    ArtifactNotFoundError,
    CollectionTypeError,
    ConcurrentGCError,
    MovedOnError,
    PendingVersionError,
    StoreError,
    ValidationError,
)
from quire.hashing import hash_bytes
from quire.store.catalog import (
    ANY_LATEST,
    COMMITTED,
    OPEN,
    RUN_TEXT_LIMIT,
    Catalog,
    Committed,
    Epoch,
    FinishCommit,
    Finished,
    NewContribution,
    NewVersion,
    RunRecord,
    VersionCommit,
    new_commit_id,
    now,
)

from .catalog_collections import CollectionCatalogTests
from .catalog_links import LinkCatalogTests
from .catalog_listings import ListingCatalogTests
from .catalog_runs import RunCatalogTests

OpenCatalog = Callable[[], Catalog]


class CatalogBackdoor(Protocol):
    """Out-of-band access to a catalog's state, for the tests that need it."""

    def expire_lease(self, lease_id: str) -> None:
        """Make a writer's lease run out now, as if its holder had died."""
        ...

    def expire_sweep(self) -> None:
        """Make the running gc sweep's lease run out now, as if the gc had died."""
        ...

    def run_ids(self) -> list[str]:
        """The id of every run the catalog holds, however it lists them."""
        ...


# -- making records ------------------------------------------------------------------------


def digest_of(content: str) -> str:
    """A digest standing for ``content`` (64 hex digits, as real ones are)."""
    return hash_bytes(content.encode())


def new_version(content: str, **fields: Any) -> NewVersion:
    """A version whose digest and root stand for ``content``."""
    return NewVersion(
        digest=digest_of(content), root=digest_of("root of " + content), size=len(content), file_count=1, **fields
    )


def commit(
    catalog: Catalog,
    content: str,
    *,
    project: str = "p",
    name: str = "c",
    type_: str = "dataset",
    expect_latest: str | None = ANY_LATEST,
    aliases: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    run_ids: tuple[str, ...] = (),
    commit_id: str | None = None,
    gc_epoch: Epoch | None = None,
    **fields: Any,
) -> Committed:
    """Commit a version of ``project/name`` standing for ``content``, under the epoch
    the catalog shows now unless ``gc_epoch`` is given."""
    return catalog.commit(
        VersionCommit(
            project=project,
            collection=name,
            type=type_,
            version=new_version(content, **fields),
            commit_id=commit_id or new_commit_id(),
            gc_epoch=catalog.gc_epoch() if gc_epoch is None else gc_epoch,
            expect_latest=expect_latest,
            aliases=list(aliases),
            tags=list(tags),
            run_ids=list(run_ids),
        )
    )


def contribution(content: str, run_id: str | None = "r1", **info: Any) -> NewContribution:
    """A writer's contribution whose root stands for ``content``."""
    return NewContribution(run_id=run_id, root=digest_of(content), file_count=len(content), size=10, info=info)


def contribute(
    catalog: Catalog,
    new: NewContribution,
    *,
    distributed_id: str = "g",
    project: str = "p",
    name: str = "c",
    type_: str = "dataset",
    gc_epoch: Epoch | None = None,
) -> Any:
    """Add ``new`` to the pending version ``distributed_id`` of ``project/name``."""
    epoch = catalog.gc_epoch() if gc_epoch is None else gc_epoch
    return catalog.add_contribution(project, name, type_, distributed_id, new, epoch)


def finish(
    catalog: Catalog,
    own: NewContribution,
    merged: list[str],
    content: str = "merged",
    *,
    distributed_id: str = "g",
    project: str = "p",
    name: str = "c",
    type_: str = "dataset",
    aliases: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    run_ids: tuple[str, ...] = (),
    commit_id: str | None = None,
    gc_epoch: Epoch | None = None,
) -> Finished:
    """Finish the pending version ``distributed_id`` with ``own``, as merged from the
    contributions whose keys are ``merged``, into a version standing for ``content``."""
    return catalog.finish(
        FinishCommit(
            project=project,
            collection=name,
            type=type_,
            distributed_id=distributed_id,
            own=own,
            merged=merged,
            version=new_version(content),
            commit_id=commit_id or new_commit_id(),
            gc_epoch=catalog.gc_epoch() if gc_epoch is None else gc_epoch,
            aliases=list(aliases),
            tags=list(tags),
            run_ids=list(run_ids),
        )
    )


def run_record(run_id: str, project: str = "p", **fields: Any) -> RunRecord:
    """A running run of ``project``."""
    text: dict[str, Any] = {"name": f"run {run_id}", "group": "g", "job_type": "train", **fields}
    return RunRecord(run_id, project, text["name"], text["group"], text["job_type"], {"lr": 0.1}, "running", now())


def summary(catalog: Catalog, project: str = "p", name: str = "c") -> dict[str, list[str]]:
    """``vN`` → sorted aliases of every version of a collection."""
    return {v.version: sorted(v.aliases) for v in catalog.versions(project, name)}


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll until ``condition()`` holds (the test's own timeout bounds the wait)."""
    while not condition():
        time.sleep(0.02)


class CatalogTests(RunCatalogTests, CollectionCatalogTests, LinkCatalogTests, ListingCatalogTests):
    """The :class:`~quire.store.catalog.Catalog` protocol, on the backend given by the
    fixture ``open_catalog`` (and, optionally, ``catalog_backdoor``)."""

    @pytest.fixture
    def catalog(self, open_catalog: OpenCatalog) -> Catalog:
        """One handle on the catalog under test."""
        return open_catalog()

    @pytest.fixture
    def catalog_backdoor(self) -> CatalogBackdoor | None:
        """Out-of-band access to the catalog under test (None: the backend gives none)."""
        return None

    @pytest.fixture
    def backdoor(self, catalog_backdoor: CatalogBackdoor | None) -> CatalogBackdoor:
        """The backdoor, or a skip when the backend gives none."""
        if catalog_backdoor is None:
            pytest.skip("this backend gives no catalog_backdoor")
        return catalog_backdoor

    # -- committing --------------------------------------------------------------------

    def test_the_catalog_is_a_catalog(self, catalog: Catalog) -> None:
        assert isinstance(catalog, Catalog)
        assert isinstance(catalog.url, str) and catalog.url

    def test_versions_are_numbered_from_v0(self, catalog: Catalog) -> None:
        made = [commit(catalog, f"content {i}") for i in range(3)]
        assert [m.version.version for m in made] == ["v0", "v1", "v2"]
        assert all(m.created for m in made)
        assert len({m.version.id for m in made}) == 3
        assert summary(catalog) == {"v0": [], "v1": [], "v2": ["latest"]}
        assert catalog.version("p", "c").id == made[2].version.id
        v1 = catalog.version("p", "c", "v1")
        assert (v1.project, v1.collection, v1.type, v1.index) == ("p", "c", "dataset", 1)

    def test_commit_records_what_the_writer_built(self, catalog: Catalog) -> None:
        first = commit(catalog, "first", type_="model", aliases=("a",), tags=("t1",)).version
        built = NewVersion("d" * 64, "e" * 64, 123, 4, {"k": [1, 2]}, "words", first.id)
        made = catalog.commit(
            VersionCommit(
                "p",
                "c",
                "model",
                built,
                new_commit_id(),
                catalog.gc_epoch(),
                expect_latest=first.id,
            )
        )
        record = made.version
        assert made.created
        assert (record.digest, record.root, record.size, record.file_count) == ("d" * 64, "e" * 64, 123, 4)
        assert (record.metadata, record.description, record.parent_id) == ({"k": [1, 2]}, "words", first.id)
        assert record.run_id is None
        assert record.created_at and record.updated_at
        again = catalog.version_by_id(record.id)
        assert (again.metadata, again.root, again.digest) == ({"k": [1, 2]}, "e" * 64, "d" * 64)
        assert again.parent_id == first.id

    def test_aliases_and_tags_at_commit(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a", aliases=("best", "prod"), tags=("x", "y", "x")).version
        assert v0.aliases == ["best", "latest", "prod"]
        assert v0.tags == ["x", "y"]
        assert catalog.version_by_id(v0.id).tags == ["x", "y"]

    def test_latest_and_aliases_move_to_the_new_version(self, catalog: Catalog) -> None:
        commit(catalog, "a", aliases=("best", "keep"))
        commit(catalog, "b", aliases=("best",))
        assert summary(catalog) == {"v0": ["keep"], "v1": ["best", "latest"]}
        assert catalog.version("p", "c", "best").version == "v1"
        assert catalog.version("p", "c", "keep").version == "v0"

    def test_same_digest_returns_the_existing_version(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "same")
        commit(catalog, "other")
        again = commit(catalog, "same", aliases=("best",), tags=("t",))
        assert v0.created and not again.created
        assert again.version.id == v0.version.id and again.version.version == "v0"
        assert again.version.aliases == ["best", "latest"] and again.version.tags == ["t"]  # still applied
        # The rule for latest: the version committed is the latest, new or not (as W&B shows it).
        assert summary(catalog) == {"v0": ["best", "latest"], "v1": []}
        assert catalog.version("p", "c", "best").id == v0.version.id
        assert catalog.version("p", "c").id == v0.version.id

    def test_a_commit_builds_on_where_latest_points_not_on_the_newest(self, catalog: Catalog) -> None:
        # An incremental draft is built on latest; after an older version was logged
        # again, that is the older one, and compare-and-swap checks against it.
        v0 = commit(catalog, "a").version
        v1 = commit(catalog, "b").version
        commit(catalog, "a")  # latest is v0 again
        with pytest.raises(MovedOnError):
            commit(catalog, "c", expect_latest=v1.id)
        assert summary(catalog) == {"v0": ["latest"], "v1": []}
        made = commit(catalog, "c", expect_latest=v0.id, parent_id=v0.id).version
        assert (made.version, made.parent_id, made.aliases) == ("v2", v0.id, ["latest"])
        # Built on v0, its result equals v1: v1 is the latest, holding what was committed.
        again = commit(catalog, "b", expect_latest=made.id, parent_id=made.id)
        assert not again.created and again.version.id == v1.id
        assert summary(catalog) == {"v0": [], "v1": ["latest"], "v2": []}

    def test_dedup_is_per_collection(self, catalog: Catalog) -> None:
        commit(catalog, "same")
        other = commit(catalog, "same", name="d")
        assert other.created and other.version.version == "v0"
        elsewhere = commit(catalog, "same", project="q")
        assert elsewhere.created and elsewhere.version.project == "q"

    def test_collection_type_is_fixed(self, catalog: Catalog) -> None:
        commit(catalog, "a")
        with pytest.raises(CollectionTypeError, match="dataset") as caught:
            commit(catalog, "b", type_="model")
        assert (caught.value.existing, caught.value.given) == ("dataset", "model")
        assert isinstance(caught.value, ValueError)
        assert summary(catalog) == {"v0": ["latest"]}
        commit(catalog, "b", name="c2", type_="model")  # another name is fine
        assert catalog.collection_type("p", "c") == "dataset"
        assert catalog.collection_type("p", "nothing") is None
        assert catalog.collection_type("nowhere", "c") is None

    def test_a_refused_commit_creates_nothing(self, catalog: Catalog) -> None:
        # Neither the project nor the collection of a commit that fails is left behind.
        with pytest.raises(MovedOnError):
            commit(catalog, "a", name="fresh", expect_latest="0" * 32, aliases=("x",))
        with pytest.raises(ConcurrentGCError):
            commit(catalog, "a", name="fresh", gc_epoch=Epoch(catalog.gc_epoch().number + 1))
        assert catalog.projects() == []
        assert catalog.collection_type("p", "fresh") is None
        assert commit(catalog, "a", name="fresh").version.version == "v0"

    # -- commit ids --------------------------------------------------------------------

    def test_a_commit_repeated_with_its_commit_id_returns_its_version(self, catalog: Catalog) -> None:
        # What a retry after a lost answer to COMMIT relies on: the commit id finds the
        # version that commit made, however the collection moved on since; the retry is
        # not taken for a stale compare-and-swap.
        first = commit(catalog, "one", commit_id="c" * 32, expect_latest=None)
        commit(catalog, "two")
        again = commit(catalog, "one", commit_id="c" * 32, expect_latest=None)
        assert (again.version.id, again.version.version, first.created, again.created) == (
            first.version.id,
            "v0",
            True,
            True,
        )
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}

    def test_a_retried_commit_finds_its_version_after_a_gc(self, catalog: Catalog) -> None:
        epoch = catalog.gc_epoch()
        first = commit(catalog, "one", commit_id="c" * 32, gc_epoch=epoch)
        swept = catalog.begin_sweep(epoch, lease=60)
        catalog.end_sweep(swept)
        again = commit(catalog, "one", commit_id="c" * 32, gc_epoch=epoch)  # committed before the gc
        assert again.version.id == first.version.id
        assert summary(catalog) == {"v0": ["latest"]}

    # -- compare-and-swap --------------------------------------------------------------

    def test_a_commit_built_on_the_latest_version_commits(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a", expect_latest=None).version
        v1 = commit(catalog, "b", expect_latest=v0.id, parent_id=v0.id).version
        assert (v1.version, v1.parent_id) == ("v1", v0.id)
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}

    def test_a_commit_built_on_a_stale_latest_moves_on_and_writes_nothing(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        commit(catalog, "b")
        before = catalog.versions("p", "c")
        with pytest.raises(MovedOnError):
            commit(catalog, "c", expect_latest=v0.id, aliases=("best",), tags=("t",))
        assert isinstance(MovedOnError("x"), StoreError)
        assert catalog.versions("p", "c") == before
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}
        assert catalog.collections("p")[0].version_count == 2

    def test_a_stale_commit_moves_on_even_when_its_digest_exists(self, catalog: Catalog) -> None:
        # The writer would have built something else on the new latest: it must look again.
        v0 = commit(catalog, "a").version
        commit(catalog, "b")
        with pytest.raises(MovedOnError):
            commit(catalog, "a", expect_latest=v0.id, aliases=("best",))
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}

    def test_expecting_an_empty_collection_moves_on_when_it_is_not(self, catalog: Catalog) -> None:
        commit(catalog, "a")
        with pytest.raises(MovedOnError):
            commit(catalog, "b", expect_latest=None)
        assert summary(catalog) == {"v0": ["latest"]}
        assert commit(catalog, "b", name="empty", expect_latest=None).version.version == "v0"

    def test_expecting_a_deleted_latest_moves_on(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        v1 = commit(catalog, "b").version
        catalog.delete_version(v1.id)
        with pytest.raises(MovedOnError):
            commit(catalog, "c", expect_latest=v1.id)
        assert commit(catalog, "c", expect_latest=v0.id).version.version == "v2"

    def test_any_latest_never_moves_on(self, catalog: Catalog) -> None:
        for i in range(3):
            assert commit(catalog, f"v{i}", expect_latest=ANY_LATEST).created
        assert summary(catalog) == {"v0": [], "v1": [], "v2": ["latest"]}

    def test_concurrent_compare_and_swap_loses_no_update(self, open_catalog: OpenCatalog) -> None:
        # Writers that each build on the latest and retry on "moved on" make one linear
        # history: every version's parent is the one before it.
        open_catalog()
        errors: list[BaseException] = []

        def patch(worker: int) -> None:
            try:
                catalog = open_catalog()
                for i in range(3):
                    while True:
                        versions = catalog.versions("p", "c") if catalog.collection_type("p", "c") else []
                        latest = versions[-1].id if versions else None
                        try:
                            commit(catalog, f"{worker}-{i}", expect_latest=latest, parent_id=latest)
                            break
                        except MovedOnError:
                            continue
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=patch, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        versions = open_catalog().versions("p", "c")
        assert [v.version for v in versions] == [f"v{i}" for i in range(12)]
        assert [v.parent_id for v in versions] == [None] + [v.id for v in versions[:-1]]

    # -- reading -----------------------------------------------------------------------

    def test_not_found_errors_list_what_exists(self, catalog: Catalog) -> None:
        commit(catalog, "a", aliases=("best",))
        commit(catalog, "b", name="other")
        with pytest.raises(ArtifactNotFoundError, match="missing") as caught:
            catalog.version("p", "missing")
        assert caught.value.available == ["c", "other"]
        with pytest.raises(ArtifactNotFoundError, match="v7") as caught:
            catalog.version("p", "c", "v7")
        assert caught.value.available == ["v0", "best", "latest"]
        with pytest.raises(ArtifactNotFoundError, match="prod") as caught:
            catalog.version("p", "c", "prod")
        assert "best" in str(caught.value)
        with pytest.raises(ArtifactNotFoundError, match="v99999999999"):
            catalog.version("p", "c", "v99999999999")  # no such number, however large
        with pytest.raises(ArtifactNotFoundError) as caught:
            catalog.versions("p", "nothing")
        assert caught.value.available == ["c", "other"]
        with pytest.raises(ArtifactNotFoundError):
            catalog.versions("nowhere", "c")
        with pytest.raises(ArtifactNotFoundError):
            catalog.version_by_id("0" * 32)
        with pytest.raises(KeyError):
            catalog.version("p", "missing")

    def test_reading_creates_nothing(self, catalog: Catalog) -> None:
        with pytest.raises(ArtifactNotFoundError):
            catalog.version("ghost", "c")
        catalog.check_pending("ghost", "c", "dataset", "g")
        assert catalog.find_pending("ghost", "c", "g") is None
        assert catalog.projects() == []
        assert catalog.collections("ghost") == []
        assert catalog.pending_versions(state=None) == []

    def test_collections_and_projects(self, catalog: Catalog) -> None:
        commit(catalog, "1", name="b", type_="model")
        commit(catalog, "2", name="a")
        commit(catalog, "3", name="a")
        commit(catalog, "4", project="q", name="z")
        assert [(c.project, c.name, c.type, c.version_count) for c in catalog.collections("p")] == [
            ("p", "a", "dataset", 2),
            ("p", "b", "model", 1),
        ]
        assert [c.name for c in catalog.collections("p", "model")] == ["b"]
        assert catalog.projects() == ["p", "q"]

    def test_version_exists(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        assert catalog.version_exists(v0.id)
        assert not catalog.version_exists("0" * 32)
        catalog.delete_version(v0.id)
        assert not catalog.version_exists(v0.id)

    def test_a_closed_handle_opens_again_on_use(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        catalog.close()
        assert catalog.version("p", "c").id == v0.id
        assert commit(catalog, "b").version.version == "v1"
        catalog.close()

    # -- editing -----------------------------------------------------------------------

    def test_update_version(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a", aliases=("old",), tags=("t",)).version
        commit(catalog, "b", aliases=("best",))
        updated = catalog.update_version(
            v0.id, aliases=["best", "new"], tags=["u", "v"], description="edited", metadata={"acc": 0.9}
        )
        assert updated.aliases == ["best", "new"]  # "old" dropped, "best" moved here
        assert updated.tags == ["u", "v"]
        assert (updated.description, updated.metadata) == ("edited", {"acc": 0.9})
        assert updated.updated_at >= v0.updated_at
        assert summary(catalog) == {"v0": ["best", "new"], "v1": ["latest"]}
        same = catalog.update_version(v0.id, description="again")  # None leaves the rest alone
        assert (same.aliases, same.tags, same.metadata) == (["best", "new"], ["u", "v"], {"acc": 0.9})

    def test_update_moves_latest_when_asked_and_never_removes_it(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        v1 = commit(catalog, "b").version
        catalog.update_version(v1.id, aliases=[])  # latest is moved, never removed
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}
        moved = catalog.update_version(v0.id, aliases=["latest", "best"])
        assert moved.aliases == ["best", "latest"]
        assert summary(catalog) == {"v0": ["best", "latest"], "v1": []}
        assert catalog.version("p", "c").id == v0.id
        catalog.update_version(v0.id, aliases=[])  # drops best; latest stays
        assert summary(catalog) == {"v0": ["latest"], "v1": []}
        assert commit(catalog, "c").version.aliases == ["latest"]  # the next commit moves it on
        assert summary(catalog) == {"v0": [], "v1": [], "v2": ["latest"]}

    def test_deleting_an_older_latest_moves_it_to_the_newest_left(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        commit(catalog, "b")
        commit(catalog, "a")  # latest is v0 again; holding it does not guard a delete
        catalog.delete_version(v0.id)
        assert summary(catalog) == {"v1": ["latest"]}

    def test_update_of_a_deleted_version(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        catalog.delete_version(v0.id)
        with pytest.raises(ArtifactNotFoundError):
            catalog.update_version(v0.id, description="x")

    # -- deleting ----------------------------------------------------------------------

    def test_delete_moves_latest_back_and_never_reuses_numbers(self, catalog: Catalog) -> None:
        ids = [commit(catalog, str(i)).version.id for i in range(3)]
        catalog.delete_version(ids[2])
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}
        catalog.delete_version(ids[0])
        assert summary(catalog) == {"v1": ["latest"]}
        v3 = commit(catalog, "3")
        assert v3.created and v3.version.version == "v3"
        with pytest.raises(ArtifactNotFoundError):
            catalog.version("p", "c", "v2")

    def test_deleting_every_version(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a").version
        catalog.delete_version(v0.id)
        assert summary(catalog) == {}
        with pytest.raises(ArtifactNotFoundError, match="latest"):
            catalog.version("p", "c")
        again = commit(catalog, "a", expect_latest=None)  # no dedup against the deleted; empty again
        assert again.created and again.version.version == "v1" and again.version.aliases == ["latest"]

    def test_aliases_guard_delete(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "a", aliases=("prod",)).version
        commit(catalog, "b")
        with pytest.raises(ValidationError, match="prod"):
            catalog.delete_version(v0.id)
        assert summary(catalog) == {"v0": ["prod"], "v1": ["latest"]}
        catalog.delete_version(v0.id, delete_aliases=True)
        assert summary(catalog) == {"v1": ["latest"]}
        with pytest.raises(ArtifactNotFoundError):
            catalog.version("p", "c", "prod")
        with pytest.raises(ArtifactNotFoundError):
            catalog.delete_version(v0.id)

    def test_delete_removes_tags_and_lineage(self, catalog: Catalog) -> None:
        catalog.create_run(run_record("r1"))
        v0 = commit(catalog, "a", tags=("t",), run_ids=("r1",)).version
        catalog.use_version("r1", v0.id)
        catalog.delete_version(v0.id)
        assert catalog.versions_of("r1", "output") == []
        assert catalog.versions_of("r1", "input") == []
        assert catalog.runs_of(v0.id, "output") == []

    # -- runs and lineage --------------------------------------------------------------

    def test_runs(self, catalog: Catalog) -> None:
        catalog.create_run(run_record("r1"))
        got = catalog.run("r1")
        assert (got.project, got.name, got.group, got.job_type, got.config, got.state) == (
            "p",
            "run r1",
            "g",
            "train",
            {"lr": 0.1},
            "running",
        )
        assert got.finished_at is None
        catalog.finish_run("r1", "crashed")
        got = catalog.run("r1")
        assert got.state == "crashed" and got.finished_at is not None
        with pytest.raises(ArtifactNotFoundError, match="r2"):
            catalog.run("r2")
        with pytest.raises(ValidationError, match="r1"):  # ids are unique, and it says so at once
            catalog.create_run(run_record("r1", project="q"))
        assert catalog.run("r1").project == "p"

    def test_a_run_recorded_twice_by_retried_writes_is_one_run(self, catalog: Catalog) -> None:
        # A run written by a commit whose answer was lost comes back to be written with the
        # next write: the same record (id and creation time) is that run, not a taken id.
        record = run_record("r1")
        catalog.create_run(record)
        catalog.create_run(record)
        with pytest.raises(ValidationError, match="exists already"):
            catalog.create_run(run_record("r1"))  # another run with that id
        assert catalog.run("r1").created_at == record.created_at

    def test_a_run_recorded_twice_is_one_row(self, catalog: Catalog, backdoor: CatalogBackdoor) -> None:
        record = run_record("r1")
        catalog.create_run(record)
        catalog.create_run(record)
        assert backdoor.run_ids() == ["r1"]

    def test_run_text_too_long_is_refused_before_any_write(self, catalog: Catalog) -> None:
        longest = "n" * RUN_TEXT_LIMIT
        catalog.create_run(run_record("fits", name=longest, group=longest, job_type=longest))
        assert catalog.run("fits").name == longest
        for field_ in ("name", "group", "job_type"):
            with pytest.raises(ValidationError, match=str(RUN_TEXT_LIMIT)):
                catalog.create_run(run_record(f"long-{field_}", **{field_: "n" * (RUN_TEXT_LIMIT + 1)}))
            with pytest.raises(ArtifactNotFoundError):
                catalog.run(f"long-{field_}")

    def test_a_deferred_run_is_recorded_with_the_next_write(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        other = open_catalog()  # another process sees only what was written
        catalog.defer_run(run_record("r1"))
        with pytest.raises(ArtifactNotFoundError):
            other.run("r1")
        v0 = commit(catalog, "a", run_ids=("r1",)).version
        assert other.run("r1").state == "running"
        assert [r.id for r in other.runs_of(v0.id, "output")] == ["r1"]
        assert other.version_by_id(v0.id).run_id == "r1"

    def test_a_deferred_run_that_never_writes_is_recorded_when_it_finishes(
        self, catalog: Catalog, open_catalog: OpenCatalog
    ) -> None:
        catalog.defer_run(run_record("r1"))
        catalog.finish_run("r1", "finished")
        got = open_catalog().run("r1")
        assert got.state == "finished" and got.finished_at is not None

    def test_lineage_edges(self, catalog: Catalog) -> None:
        for run_id in ("maker", "user", "relogger"):
            catalog.create_run(run_record(run_id))
        v0 = commit(catalog, "a", run_ids=("maker",)).version
        assert v0.run_id == "maker"
        commit(catalog, "a", run_ids=("relogger",))  # dedup: still an output edge
        catalog.use_version("user", v0.id)
        catalog.use_version("user", v0.id)  # recorded once
        assert sorted(r.id for r in catalog.runs_of(v0.id, "output")) == ["maker", "relogger"]
        assert [r.id for r in catalog.runs_of(v0.id, "input")] == ["user"]
        assert [v.id for v in catalog.versions_of("user", "input")] == [v0.id]
        assert [v.id for v in catalog.versions_of("maker", "output")] == [v0.id]
        assert catalog.versions_of("user", "output") == []
        assert catalog.version_by_id(v0.id).run_id == "maker"  # the version's run stays its maker
        with pytest.raises(ArtifactNotFoundError, match="deleted"):  # at once, not after retries
            catalog.use_version("user", "f" * 32)

    def test_every_run_of_a_commit_gets_an_output_edge(self, catalog: Catalog) -> None:
        for run_id in ("first", "second"):
            catalog.create_run(run_record(run_id))
        v0 = commit(catalog, "a", run_ids=("first", "second", "first")).version
        assert v0.run_id == "first"
        assert sorted(r.id for r in catalog.runs_of(v0.id, "output")) == ["first", "second"]

    # -- pending versions and contributions ---------------------------------------------

    def test_the_first_contribution_creates_the_pending_version(self, catalog: Catalog) -> None:
        new = contribution("a", writer={"rank": 0})
        added = contribute(catalog, new)
        assert added.added
        assert (added.contribution.key, added.contribution.run_id, added.contribution.root) == (new.key, "r1", new.root)
        assert (added.contribution.file_count, added.contribution.size) == (1, 10)
        assert added.contribution.info == {"writer": {"rank": 0}}
        pending = catalog.pending(added.pending_id)
        assert (pending.project, pending.collection, pending.type, pending.distributed_id) == ("p", "c", "dataset", "g")
        assert (pending.state, pending.version_id, pending.version_index, pending.closed_at) == (OPEN, None, None, None)
        assert (pending.contribution_count, pending.file_count) == (1, 1)
        assert catalog.collection_type("p", "c") == "dataset"  # the collection exists, with no version
        assert summary(catalog) == {}
        found = catalog.find_pending("p", "c", "g")
        assert found is not None and found.id == added.pending_id
        assert catalog.find_pending("p", "c", "other") is None

    def test_a_contribution_added_again_is_added_once(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        first = contribute(catalog, contribution("a"))
        again = contribute(open_catalog(), contribution("a"))  # a retry, perhaps from elsewhere
        assert not again.added
        assert (again.pending_id, again.contribution.id) == (first.pending_id, first.contribution.id)
        other_writer = contribute(catalog, contribution("a", run_id="r2"))  # same entries, another run
        assert other_writer.added and other_writer.pending_id == first.pending_id
        assert catalog.pending(first.pending_id).contribution_count == 2

    def test_contributions_are_sorted_by_key(self, catalog: Catalog) -> None:
        news = [contribution(f"part {i}", run_id=f"r{i}") for i in range(6)]
        pending_id = ""
        for new in news:
            pending_id = contribute(catalog, new).pending_id
        got = catalog.contributions(pending_id)
        assert [c.key for c in got] == sorted(n.key for n in news)
        assert {c.root for c in got} == {n.root for n in news}
        pending = catalog.pending(pending_id)
        assert (pending.contribution_count, pending.file_count) == (6, sum(n.file_count for n in news))

    def test_pending_versions_are_per_collection_and_id(self, catalog: Catalog) -> None:
        a = contribute(catalog, contribution("x"), distributed_id="g").pending_id
        b = contribute(catalog, contribution("x"), distributed_id="h").pending_id
        c = contribute(catalog, contribution("x"), distributed_id="g", name="d").pending_id
        assert len({a, b, c}) == 3
        assert [p.id for p in catalog.pending_versions()] == [a, b, c]  # oldest first

    def test_a_contribution_to_a_collection_of_another_type_is_refused(self, catalog: Catalog) -> None:
        commit(catalog, "a")
        with pytest.raises(CollectionTypeError):
            catalog.check_pending("p", "c", "model", "g")
        with pytest.raises(CollectionTypeError):
            contribute(catalog, contribution("a"), type_="model")
        assert catalog.find_pending("p", "c", "g") is None

    def test_a_contribution_under_a_stale_gc_epoch_is_refused(self, catalog: Catalog) -> None:
        epoch = catalog.gc_epoch()
        catalog.end_sweep(catalog.begin_sweep(epoch, lease=60))
        with pytest.raises(ConcurrentGCError):
            contribute(catalog, contribution("a"), gc_epoch=epoch)
        assert catalog.pending_versions(state=None) == []
        assert contribute(catalog, contribution("a")).added

    def test_finish_commits_every_contribution_and_its_own(self, catalog: Catalog) -> None:
        for run_id in ("r1", "r2", "fin"):
            catalog.create_run(run_record(run_id))
        keys = [contribute(catalog, contribution(f"part {i}", run_id=f"r{i}")).contribution.key for i in (1, 2)]
        own = contribution("own", run_id="fin")
        done = finish(catalog, own, keys, aliases=("best",), tags=("t",), run_ids=("fin", "r1", "r2"))
        assert done.created
        assert (done.version.version, done.version.digest) == ("v0", digest_of("merged"))
        assert done.version.aliases == ["best", "latest"] and done.version.tags == ["t"]
        assert done.version.run_id == "fin"
        assert sorted(r.id for r in catalog.runs_of(done.version.id, "output")) == ["fin", "r1", "r2"]
        pending = done.pending
        assert (pending.state, pending.version_id, pending.version_index) == (COMMITTED, done.version.id, 0)
        assert pending.closed_at is not None and pending.contribution_count == 3
        assert sorted(c.key for c in catalog.contributions(pending.id)) == sorted([*keys, own.key])
        assert catalog.pending_versions() == []
        assert [p.id for p in catalog.pending_versions(state=COMMITTED)] == [pending.id]
        assert summary(catalog) == {"v0": ["best", "latest"]}

    def test_a_finish_with_no_contributions_creates_and_commits_its_pending_version(self, catalog: Catalog) -> None:
        done = finish(catalog, contribution("own"), [], distributed_id="alone")
        assert done.created and done.version.version == "v0"
        assert (done.pending.distributed_id, done.pending.state, done.pending.contribution_count) == (
            "alone",
            COMMITTED,
            1,
        )

    def test_a_finish_whose_own_contribution_was_upserted_counts_it_once(self, catalog: Catalog) -> None:
        own = contribution("own", run_id="fin")
        contribute(catalog, own)  # the finisher upserted, then finishes with the same entries
        done = finish(catalog, own, [])
        assert done.pending.contribution_count == 1

    def test_a_finish_of_a_digest_that_exists_returns_that_version(self, catalog: Catalog) -> None:
        v0 = commit(catalog, "merged").version
        commit(catalog, "other")
        done = finish(catalog, contribution("own"), [], "merged", aliases=("best",))
        assert not done.created and done.version.id == v0.id
        assert done.pending.state == COMMITTED and done.pending.version_id == v0.id
        assert summary(catalog) == {"v0": ["best", "latest"], "v1": []}  # as any commit: latest

    def test_a_finish_retried_with_its_commit_id_returns_what_it_made(
        self, catalog: Catalog, open_catalog: OpenCatalog
    ) -> None:
        key = contribute(catalog, contribution("part", run_id="r2")).contribution.key
        own = contribution("own", run_id="fin")
        first = finish(catalog, own, [key], commit_id="f" * 32)
        commit(catalog, "later")
        again = finish(open_catalog(), own, [key], commit_id="f" * 32)  # the first answer was lost
        assert (again.version.id, again.created, again.pending.id) == (first.version.id, True, first.pending.id)
        assert again.pending.state == COMMITTED
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}
        with pytest.raises(PendingVersionError):  # another commit id finds the id spent
            finish(catalog, own, [key])

    def test_a_finish_that_misses_a_contribution_moves_on_and_writes_nothing(self, catalog: Catalog) -> None:
        seen = contribute(catalog, contribution("seen", run_id="r1")).contribution.key
        late = contribute(catalog, contribution("late", run_id="r2")).contribution  # after the finisher read
        own = contribution("own", run_id="fin")
        with pytest.raises(MovedOnError):
            finish(catalog, own, [seen])
        pending = catalog.find_pending("p", "c", "g")
        assert pending is not None and pending.state == OPEN
        assert [c.key for c in catalog.contributions(pending.id)] == sorted([seen, late.key])  # own not kept
        assert summary(catalog) == {}
        done = finish(catalog, own, [seen, late.key])  # merged again, it commits
        assert done.pending.contribution_count == 3

    def test_a_finish_under_a_stale_gc_epoch_writes_nothing(self, catalog: Catalog) -> None:
        key = contribute(catalog, contribution("part")).contribution.key
        epoch = catalog.gc_epoch()
        catalog.end_sweep(catalog.begin_sweep(epoch, lease=60))
        with pytest.raises(ConcurrentGCError):
            finish(catalog, contribution("own", run_id="fin"), [key], gc_epoch=epoch)
        pending = catalog.find_pending("p", "c", "g")
        assert pending is not None and (pending.state, pending.contribution_count) == (OPEN, 1)
        assert summary(catalog) == {}

    def test_a_finish_into_a_collection_of_another_type_is_refused(self, catalog: Catalog) -> None:
        commit(catalog, "a", type_="model")
        with pytest.raises(CollectionTypeError):
            finish(catalog, contribution("own"), [])
        assert catalog.find_pending("p", "c", "g") is None
        assert summary(catalog) == {"v0": ["latest"]}

    def test_a_committed_distributed_id_is_spent(self, catalog: Catalog) -> None:
        finish(catalog, contribution("own"), [])
        with pytest.raises(PendingVersionError, match="v0"):
            contribute(catalog, contribution("straggler", run_id="r9"))
        with pytest.raises(PendingVersionError):
            catalog.check_pending("p", "c", "dataset", "g")
        with pytest.raises(PendingVersionError):
            finish(catalog, contribution("again"), [])
        assert summary(catalog) == {"v0": ["latest"]}
        catalog.check_pending("p", "c", "dataset", "h")  # a new id is fine
        assert contribute(catalog, contribution("straggler"), distributed_id="h").added

    def test_abort(self, catalog: Catalog) -> None:
        pending_id = contribute(catalog, contribution("a")).pending_id
        aborted = catalog.abort_pending(pending_id)
        assert aborted.state == "aborted" and aborted.closed_at is not None and aborted.version_id is None
        assert catalog.abort_pending(pending_id).state == "aborted"  # again: nothing to do
        with pytest.raises(PendingVersionError, match="aborted"):
            contribute(catalog, contribution("b"))
        with pytest.raises(PendingVersionError):
            catalog.check_pending("p", "c", "dataset", "g")
        with pytest.raises(PendingVersionError):
            finish(catalog, contribution("own"), [])
        assert catalog.collection_type("p", "c") == "dataset" and summary(catalog) == {}
        with pytest.raises(ArtifactNotFoundError):
            catalog.abort_pending("0" * 32)

    def test_a_committed_pending_version_cannot_be_aborted(self, catalog: Catalog) -> None:
        done = finish(catalog, contribution("own"), [])
        with pytest.raises(PendingVersionError, match="v0"):
            catalog.abort_pending(done.pending.id)
        assert catalog.pending(done.pending.id).state == COMMITTED
        assert summary(catalog) == {"v0": ["latest"]}

    def test_pending_versions_by_project_and_state(self, catalog: Catalog) -> None:
        a = contribute(catalog, contribution("x"), distributed_id="a").pending_id
        b = contribute(catalog, contribution("x"), distributed_id="b", project="q").pending_id
        c = finish(catalog, contribution("x"), [], distributed_id="c").pending.id
        d = catalog.abort_pending(contribute(catalog, contribution("x"), distributed_id="d").pending_id).id
        assert [p.id for p in catalog.pending_versions()] == [a, b]
        assert [p.id for p in catalog.pending_versions("p")] == [a]
        assert [p.id for p in catalog.pending_versions(state=None)] == [a, b, c, d]
        assert [p.id for p in catalog.pending_versions("p", state=COMMITTED)] == [c]
        assert [p.id for p in catalog.pending_versions(state="aborted")] == [d]
        with pytest.raises(ValidationError, match="open"):
            catalog.pending_versions(state="closed")  # type: ignore[arg-type]
        with pytest.raises(ArtifactNotFoundError):
            catalog.pending("0" * 32)

    def test_resolve_pending(self, catalog: Catalog) -> None:
        a = contribute(catalog, contribution("x"), distributed_id="g").pending_id
        b = contribute(catalog, contribution("x"), distributed_id="g", name="d").pending_id
        c = contribute(catalog, contribution("x"), distributed_id="h", project="q").pending_id
        assert catalog.resolve_pending(a).id == a  # by its id
        assert catalog.resolve_pending("h").id == c  # by an unambiguous distributed id
        assert catalog.resolve_pending("h", project="q").id == c
        with pytest.raises(ValidationError, match=a) as caught:  # two: the error names both
            catalog.resolve_pending("g")
        assert b in str(caught.value)
        with pytest.raises(ArtifactNotFoundError, match="h"):
            catalog.resolve_pending("h", project="p")
        with pytest.raises(ArtifactNotFoundError, match="nothing"):
            catalog.resolve_pending("nothing")
        finish(catalog, contribution("y"), [contribution("x").key], distributed_id="g", name="d")
        assert catalog.resolve_pending("g").id == a  # an open one before a closed one

    def test_a_closed_distributed_id_still_resolves(self, catalog: Catalog) -> None:
        pending_id = contribute(catalog, contribution("x"), distributed_id="once").pending_id
        catalog.abort_pending(pending_id)
        assert catalog.resolve_pending("once").id == pending_id

    def test_concurrent_writers_add_every_contribution_once(self, open_catalog: OpenCatalog) -> None:
        open_catalog()
        errors: list[BaseException] = []

        def upsert(worker: int) -> None:
            try:
                catalog = open_catalog()
                for i in range(3):
                    new = contribution(f"{worker}-{i}", run_id=f"r{worker}")
                    contribute(catalog, new)
                    assert not contribute(catalog, new).added  # a retry
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=upsert, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        catalog = open_catalog()
        (pending,) = catalog.pending_versions()
        assert pending.contribution_count == 12
        assert len({c.key for c in catalog.contributions(pending.id)}) == 12

    # -- what gc keeps -----------------------------------------------------------------

    def test_roots_are_those_of_versions_and_open_contributions(self, catalog: Catalog) -> None:
        assert catalog.roots() == set()
        v0 = commit(catalog, "a").version
        kept = contribution("open one")
        contribute(catalog, kept, distributed_id="open")
        aborted = contribution("aborted one")
        catalog.abort_pending(contribute(catalog, aborted, distributed_id="aborted").pending_id)
        merged = contribution("merged one")
        key = contribute(catalog, merged, distributed_id="done").contribution.key
        done = finish(catalog, contribution("own"), [key], "finished", distributed_id="done").version
        assert catalog.roots() == {v0.root, kept.root, done.root}
        catalog.delete_version(v0.id)
        assert catalog.roots() == {kept.root, done.root}

    # -- the gc fence ------------------------------------------------------------------

    def test_a_commit_under_a_stale_gc_epoch_commits_nothing(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        epoch = catalog.gc_epoch()
        commit(catalog, "a", gc_epoch=epoch)
        gc = open_catalog()  # a gc in another process
        swept = gc.begin_sweep(epoch, lease=60)
        noted = catalog.gc_epoch()
        assert noted.sweeping
        with pytest.raises(ConcurrentGCError):
            commit(catalog, "b", gc_epoch=epoch)
        with pytest.raises(ConcurrentGCError):
            commit(catalog, "b", gc_epoch=noted)
        with pytest.raises(StoreError, match="another gc"):
            catalog.begin_sweep(epoch, lease=60)
        gc.renew_sweep(swept, lease=60)
        gc.end_sweep(swept)
        assert catalog.gc_epoch() == Epoch(swept) == Epoch(epoch.number + 1)
        with pytest.raises(ConcurrentGCError):  # the sweep is over, but it may have deleted
            commit(catalog, "b", gc_epoch=epoch)
        with pytest.raises(ConcurrentGCError):  # noted while it swept: the writer looks again
            commit(catalog, "b", gc_epoch=noted)
        assert summary(catalog) == {"v0": ["latest"]}
        commit(catalog, "b", gc_epoch=Epoch(swept))
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}
        with pytest.raises(StoreError, match="lost its lease"):
            gc.renew_sweep(swept, lease=60)  # ended: nothing to renew
        with pytest.raises(StoreError, match="another gc"):
            gc.begin_sweep(epoch, lease=60)  # a gc that looked before the last sweep looks again
        gc.end_sweep(gc.begin_sweep(Epoch(swept), lease=60))

    def test_a_sweep_names_its_holder(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        assert catalog.sweep() is None
        swept = open_catalog().begin_sweep(catalog.gc_epoch(), lease=60, holder="quire gc (pid 1 on h)")
        sweep = catalog.sweep()
        assert sweep is not None and sweep.holder == "quire gc (pid 1 on h)" and 0 < sweep.left <= 60
        catalog.end_sweep(swept)
        assert catalog.sweep() is None

    def test_a_sweep_whose_gc_died_runs_out(self, catalog: Catalog, backdoor: CatalogBackdoor) -> None:
        epoch = catalog.gc_epoch()
        swept = catalog.begin_sweep(epoch, lease=60, holder="gc")
        backdoor.expire_sweep()
        assert catalog.sweep() is None and catalog.gc_epoch() == Epoch(swept)  # writers wait no more
        with pytest.raises(StoreError, match="lost its lease"):
            catalog.renew_sweep(swept, lease=60)
        with pytest.raises(ConcurrentGCError):  # it may have deleted before it died
            commit(catalog, "a", gc_epoch=epoch)
        commit(catalog, "a", gc_epoch=Epoch(swept))
        catalog.end_sweep(catalog.begin_sweep(Epoch(swept), lease=60))  # the next gc may begin

    # -- writers' leases ---------------------------------------------------------------

    def test_writer_leases(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        other = open_catalog()
        assert catalog.live_leases()[1] == []
        mine = catalog.open_lease("writer a", lease=60)
        theirs = other.open_lease("writer b", lease=60)
        clock, live = catalog.live_leases()
        # oldest first
        assert [(lease.id, lease.holder) for lease in live] == [(mine, "writer a"), (theirs, "writer b")]
        assert all(lease.started <= clock < lease.expires for lease in live)
        assert live[0].started <= catalog.clock()
        assert catalog.renew_lease(mine, lease=120)
        renewed = {lease.id: lease for lease in other.live_leases()[1]}[mine]
        assert renewed.expires > live[0].expires
        catalog.drop_lease(mine)
        assert [lease.id for lease in other.live_leases()[1]] == [theirs]
        other.drop_lease(theirs)
        assert catalog.live_leases()[1] == []

    def test_a_contribution_ends_the_writer_lease_it_names(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        # In the contribution's own transaction: a gc sees the lease or the reference.
        mine = catalog.open_lease("writer a", lease=60)
        theirs = catalog.open_lease("writer b", lease=60)
        epoch = catalog.gc_epoch()
        assert catalog.add_contribution("p", "c", "dataset", "g", contribution("a"), epoch, lease=mine).added
        assert [lease.id for lease in open_catalog().live_leases()[1]] == [theirs]
        assert not catalog.renew_lease(mine, lease=60)
        # A refused contribution ends nothing (its writer still stages under the lease).
        catalog.end_sweep(catalog.begin_sweep(epoch, lease=60))
        with pytest.raises(ConcurrentGCError):
            catalog.add_contribution("p", "c", "dataset", "g", contribution("b"), epoch, lease=theirs)
        assert [lease.id for lease in catalog.live_leases()[1]] == [theirs]
        # The same contribution again (a retry after a lost answer) ends it too.
        again = catalog.add_contribution("p", "c", "dataset", "g", contribution("a"), catalog.gc_epoch(), lease=theirs)
        assert not again.added and catalog.live_leases()[1] == []

    def test_a_lease_no_one_renews_runs_out(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        other = open_catalog()
        mine = catalog.open_lease("writer a", lease=60)
        theirs = other.open_lease("writer b", lease=0.2)
        wait_until(lambda: theirs not in {lease.id for lease in catalog.live_leases()[1]})
        assert not other.renew_lease(theirs, lease=60)  # its holder must take a new one
        assert [lease.id for lease in catalog.live_leases()[1]] == [mine]

    def test_a_lease_whose_holder_died_is_dropped(self, catalog: Catalog, backdoor: CatalogBackdoor) -> None:
        dead = catalog.open_lease("dead writer", lease=60)
        alive = catalog.open_lease("live writer", lease=60)
        backdoor.expire_lease(dead)
        assert [lease.id for lease in catalog.live_leases()[1]] == [alive]
        assert not catalog.renew_lease(dead, lease=60)
        assert catalog.renew_lease(alive, lease=60)

    # -- identity and concurrency ------------------------------------------------------

    def test_a_catalog_has_an_identity(self, catalog: Catalog, open_catalog: OpenCatalog) -> None:
        assert len(catalog.catalog_id) == 32 and open_catalog().catalog_id == catalog.catalog_id
        int(catalog.catalog_id, 16)

    def test_concurrent_commits_get_unique_consecutive_numbers(self, open_catalog: OpenCatalog) -> None:
        open_catalog()  # created once; each thread then opens its own handle
        results: list[str] = []
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                catalog = open_catalog()
                for i in range(3):
                    results.append(commit(catalog, f"{worker}-{i}").version.version)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(results, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(18)]
        assert summary(open_catalog())["v17"] == ["latest"]
