"""``CatalogTests``: versions, aliases, runs and lineage, on every catalog backend.

A subclass supplies the fixture ``open_catalog``: a function that opens a new handle on
one empty catalog (see ``conftest.py``). The suite drives :class:`SQLCatalog` directly;
manifests are opaque strings to a catalog, so none are stored.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from quire.errors import (
    ArtifactNotFoundError,
    CollectionTypeError,
    ConcurrentGCError,
    StoreError,
    ValidationError,
)
from quire.store.catalog import (
    ANY_LATEST,
    Epoch,
    NewVersion,
    RunRecord,
    VersionCommit,
    VersionRecord,
    new_commit_id,
    now,
)
from quire.store.sql import SQLCatalog, schema


def new(content: str, **fields: object) -> Callable[[VersionRecord | None], NewVersion]:
    """A ``build`` callback making a version whose digest stands for ``content``."""
    digest = hashlib.sha256(content.encode()).hexdigest()

    def build(latest: VersionRecord | None) -> NewVersion:
        return NewVersion(digest=digest, root="m" + digest[1:], size=len(content), file_count=1, **fields)  # type: ignore[arg-type]

    return build


def commit_version(
    catalog: SQLCatalog,
    project: str,
    name: str,
    type_: str,
    build: Callable[[VersionRecord | None], NewVersion],
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
    run_id: str | None = None,
    gc_epoch: Epoch | None = None,
    commit_id: str | None = None,
) -> tuple[VersionRecord, bool]:
    """Build a version from the collection's latest and commit it (``catalog.commit``,
    expecting nothing of the latest); returns the version and whether it is new."""
    try:
        latest: VersionRecord | None = catalog.version(project, name)
    except ArtifactNotFoundError:
        latest = None
    done = catalog.commit(VersionCommit(
        project, name, type_, build(latest), commit_id or new_commit_id(),
        gc_epoch if gc_epoch is not None else catalog.gc_epoch(),
        expect_latest=ANY_LATEST, aliases=aliases or [], tags=tags or [],
        run_ids=[run_id] if run_id else [],
    ))
    return done.version, done.created


def run_record(run_id: str, project: str = "p") -> RunRecord:
    return RunRecord(run_id, project, f"run {run_id}", "g", "train", {"lr": 0.1}, "running", now())


def summary(catalog: SQLCatalog, project: str = "p", name: str = "c") -> dict[str, list[str]]:
    """``vN`` → sorted aliases of every version of a collection."""
    return {v.version: sorted(v.aliases) for v in catalog.versions(project, name)}


class CatalogTests:
    """The catalog protocol of :class:`~quire.store.catalog.SQLCatalog`."""

    @pytest.fixture
    def catalog(self, open_catalog: Callable[[], SQLCatalog]) -> SQLCatalog:
        return open_catalog()

    # -- committing -------------------------------------------------------------------

    def test_versions_are_numbered_from_v0(self, catalog: SQLCatalog) -> None:
        made = [commit_version(catalog, "p", "c", "dataset", new(f"content {i}"))[0] for i in range(3)]
        assert [v.version for v in made] == ["v0", "v1", "v2"]
        assert len({v.id for v in made}) == 3
        assert summary(catalog) == {"v0": [], "v1": [], "v2": ["latest"]}
        assert catalog.version("p", "c").id == made[2].id
        v1 = catalog.version("p", "c", "v1")
        assert (v1.project, v1.collection, v1.type, v1.index) == ("p", "c", "dataset", 1)

    def test_a_commit_repeated_with_its_commit_id_returns_its_version(self, catalog: SQLCatalog) -> None:
        # What a retry after a lost answer to COMMIT relies on: the commit id finds the
        # version that commit made, however the collection moved on since.
        first, created = commit_version(catalog, "p", "c", "dataset", new("one"), commit_id="c" * 32)
        commit_version(catalog, "p", "c", "dataset", new("two"))
        again, created_again = commit_version(catalog, "p", "c", "dataset", new("three"), commit_id="c" * 32)
        assert (again.id, again.version, created, created_again) == (first.id, "v0", True, True)
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}

    def test_a_run_recorded_twice_by_retried_writes_is_one_run(self, catalog: SQLCatalog) -> None:
        # A run written by a commit whose answer was lost comes back to be written with the
        # next write: the same record (id and creation time) is that run, not a taken id.
        record = run_record("r1")
        catalog.create_run(record)
        catalog.create_run(record)
        with pytest.raises(ValidationError, match="exists already"):
            catalog.create_run(run_record("r1"))  # another run with that id
        with catalog.engine.connect() as conn:
            assert list(conn.scalars(sa.select(schema.runs.c.id))) == ["r1"]

    def test_commit_records_what_build_made(self, catalog: SQLCatalog) -> None:
        seen: list[VersionRecord | None] = []

        def build(latest: VersionRecord | None) -> NewVersion:
            seen.append(latest)
            return NewVersion("d" * 64, "e" * 64, 123, 4, {"k": [1, 2]}, "words", "parent-id")

        first, created = commit_version(catalog, "p", "c", "model", new("first"), aliases=["a"], tags=["t1"])
        record, created = commit_version(catalog, "p", "c", "model", build, run_id=None)
        assert created
        assert seen[0] is not None and seen[0].id == first.id  # build sees the latest version
        assert (record.digest, record.root, record.size, record.file_count) == ("d" * 64, "e" * 64, 123, 4)
        assert (record.metadata, record.description, record.parent_id) == ({"k": [1, 2]}, "words", "parent-id")
        assert record.created_at and record.updated_at
        assert catalog.version_by_id(record.id).metadata == {"k": [1, 2]}

    def test_aliases_and_tags_at_commit(self, catalog: SQLCatalog) -> None:
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"), aliases=["best", "prod"], tags=["x", "y", "x"])
        assert v0.aliases == ["best", "latest", "prod"]
        assert v0.tags == ["x", "y"]

    def test_latest_and_aliases_move_to_the_new_version(self, catalog: SQLCatalog) -> None:
        commit_version(catalog, "p", "c", "dataset", new("a"), aliases=["best", "keep"])
        commit_version(catalog, "p", "c", "dataset", new("b"), aliases=["best"])
        assert summary(catalog) == {"v0": ["keep"], "v1": ["best", "latest"]}
        assert catalog.version("p", "c", "best").version == "v1"
        assert catalog.version("p", "c", "keep").version == "v0"

    def test_same_digest_returns_the_existing_version(self, catalog: SQLCatalog) -> None:
        v0, created0 = commit_version(catalog, "p", "c", "dataset", new("same"))
        commit_version(catalog, "p", "c", "dataset", new("other"))
        again, created = commit_version(catalog, "p", "c", "dataset", new("same"), aliases=["best"], tags=["t"])
        assert created0 and not created
        assert again.id == v0.id and again.version == "v0"
        assert again.aliases == ["best"] and again.tags == ["t"]  # aliases and tags still applied
        assert summary(catalog) == {"v0": ["best"], "v1": ["latest"]}  # latest stays on the newest
        assert catalog.version("p", "c", "best").id == v0.id

    def test_dedup_is_per_collection(self, catalog: SQLCatalog) -> None:
        commit_version(catalog, "p", "c", "dataset", new("same"))
        other, created = commit_version(catalog, "p", "d", "dataset", new("same"))
        assert created and other.version == "v0"
        elsewhere, created = commit_version(catalog, "q", "c", "dataset", new("same"))
        assert created and elsewhere.project == "q"

    def test_collection_type_is_fixed(self, catalog: SQLCatalog) -> None:
        commit_version(catalog, "p", "c", "dataset", new("a"))
        with pytest.raises(CollectionTypeError, match="dataset") as caught:
            commit_version(catalog, "p", "c", "model", new("b"))
        assert (caught.value.existing, caught.value.given) == ("dataset", "model")
        assert isinstance(caught.value, ValueError)
        assert summary(catalog) == {"v0": ["latest"]}
        commit_version(catalog, "p", "c2", "model", new("b"))  # another name is fine
        assert catalog.collection_type("p", "c") == "dataset"
        assert catalog.collection_type("p", "nothing") is None
        assert catalog.collection_type("nowhere", "c") is None

    def test_a_failing_build_commits_nothing(self, catalog: SQLCatalog) -> None:
        def build(latest: VersionRecord | None) -> NewVersion:
            raise RuntimeError("the caller failed inside the transaction")

        with pytest.raises(RuntimeError):
            commit_version(catalog, "p", "fresh", "dataset", build, aliases=["x"])
        assert catalog.projects() == []
        assert commit_version(catalog, "p", "fresh", "dataset", new("a"))[0].version == "v0"

    # -- reading ----------------------------------------------------------------------

    def test_not_found_errors_list_what_exists(self, catalog: SQLCatalog) -> None:
        commit_version(catalog, "p", "c", "dataset", new("a"), aliases=["best"])
        commit_version(catalog, "p", "other", "dataset", new("b"))
        with pytest.raises(ArtifactNotFoundError, match="missing") as caught:
            catalog.version("p", "missing")
        assert caught.value.available == ["c", "other"]
        with pytest.raises(ArtifactNotFoundError, match="v7") as caught:
            catalog.version("p", "c", "v7")
        assert caught.value.available == ["v0", "best", "latest"]
        with pytest.raises(ArtifactNotFoundError, match="prod") as caught:
            catalog.version("p", "c", "prod")
        assert "best" in str(caught.value)
        with pytest.raises(ArtifactNotFoundError):
            catalog.versions("nowhere", "c")
        with pytest.raises(ArtifactNotFoundError):
            catalog.version_by_id("0" * 32)
        with pytest.raises(KeyError):
            catalog.version("p", "missing")

    def test_reading_creates_nothing(self, catalog: SQLCatalog) -> None:
        with pytest.raises(ArtifactNotFoundError):
            catalog.version("ghost", "c")
        assert catalog.projects() == []
        assert catalog.collections("ghost") == []

    def test_collections_and_projects(self, catalog: SQLCatalog) -> None:
        commit_version(catalog, "p", "b", "model", new("1"))
        commit_version(catalog, "p", "a", "dataset", new("2"))
        commit_version(catalog, "p", "a", "dataset", new("3"))
        commit_version(catalog, "q", "z", "dataset", new("4"))
        assert [(c.name, c.type, c.version_count) for c in catalog.collections("p")] == [
            ("a", "dataset", 2), ("b", "model", 1),
        ]
        assert [c.name for c in catalog.collections("p", "model")] == ["b"]
        assert catalog.projects() == ["p", "q"]

    # -- editing ----------------------------------------------------------------------

    def test_update_version(self, catalog: SQLCatalog) -> None:
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"), aliases=["old"], tags=["t"])
        v1, _ = commit_version(catalog, "p", "c", "dataset", new("b"), aliases=["best"])
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

    def test_update_keeps_latest_where_it_is(self, catalog: SQLCatalog) -> None:
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"))
        v1, _ = commit_version(catalog, "p", "c", "dataset", new("b"))
        catalog.update_version(v1.id, aliases=[])
        catalog.update_version(v0.id, aliases=["latest"])
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}

    def test_update_of_a_deleted_version(self, catalog: SQLCatalog) -> None:
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"))
        catalog.delete_version(v0.id)
        with pytest.raises(ArtifactNotFoundError):
            catalog.update_version(v0.id, description="x")

    # -- deleting ---------------------------------------------------------------------

    def test_delete_moves_latest_back_and_never_reuses_numbers(self, catalog: SQLCatalog) -> None:
        ids = [commit_version(catalog, "p", "c", "dataset", new(str(i)))[0].id for i in range(3)]
        catalog.delete_version(ids[2])
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}
        catalog.delete_version(ids[0])
        assert summary(catalog) == {"v1": ["latest"]}
        v3, created = commit_version(catalog, "p", "c", "dataset", new("3"))
        assert created and v3.version == "v3"
        with pytest.raises(ArtifactNotFoundError):
            catalog.version("p", "c", "v2")

    def test_deleting_every_version(self, catalog: SQLCatalog) -> None:
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"))
        catalog.delete_version(v0.id)
        assert summary(catalog) == {}
        with pytest.raises(ArtifactNotFoundError, match="latest"):
            catalog.version("p", "c")
        again, created = commit_version(catalog, "p", "c", "dataset", new("a"))  # no dedup against the deleted
        assert created and again.version == "v1" and again.aliases == ["latest"]

    def test_aliases_guard_delete(self, catalog: SQLCatalog) -> None:
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"), aliases=["prod"])
        v1, _ = commit_version(catalog, "p", "c", "dataset", new("b"))
        with pytest.raises(ValidationError, match="prod"):
            catalog.delete_version(v0.id)
        assert summary(catalog) == {"v0": ["prod"], "v1": ["latest"]}
        catalog.delete_version(v0.id, delete_aliases=True)
        assert summary(catalog) == {"v1": ["latest"]}
        with pytest.raises(ArtifactNotFoundError):
            catalog.version("p", "c", "prod")
        with pytest.raises(ArtifactNotFoundError):
            catalog.delete_version(v0.id)

    def test_delete_removes_tags_and_lineage(self, catalog: SQLCatalog) -> None:
        catalog.create_run(run_record("r1"))
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"), tags=["t"], run_id="r1")
        catalog.use_version("r1", v0.id)
        catalog.delete_version(v0.id)
        assert catalog.versions_of("r1", "output") == []
        assert catalog.versions_of("r1", "input") == []

    # -- runs and lineage -------------------------------------------------------------

    def test_runs(self, catalog: SQLCatalog) -> None:
        catalog.create_run(run_record("r1"))
        got = catalog.run("r1")
        assert (got.project, got.name, got.group, got.job_type, got.config, got.state) == (
            "p", "run r1", "g", "train", {"lr": 0.1}, "running"
        )
        catalog.finish_run("r1", "crashed")
        got = catalog.run("r1")
        assert got.state == "crashed" and got.finished_at is not None
        with pytest.raises(ArtifactNotFoundError, match="r2"):
            catalog.run("r2")
        with pytest.raises(ValidationError, match="r1"):  # ids are unique, and it says so at once
            catalog.create_run(run_record("r1", project="q"))
        assert catalog.run("r1").project == "p"

    def test_lineage_edges(self, catalog: SQLCatalog) -> None:
        for run_id in ("maker", "user", "relogger"):
            catalog.create_run(run_record(run_id))
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"), run_id="maker")
        commit_version(catalog, "p", "c", "dataset", new("a"), run_id="relogger")  # dedup: still an output edge
        catalog.use_version("user", v0.id)
        catalog.use_version("user", v0.id)  # recorded once
        assert sorted(r.id for r in catalog.runs_of(v0.id, "output")) == ["maker", "relogger"]
        assert [r.id for r in catalog.runs_of(v0.id, "input")] == ["user"]
        assert [v.id for v in catalog.versions_of("user", "input")] == [v0.id]
        assert [v.id for v in catalog.versions_of("maker", "output")] == [v0.id]
        assert catalog.versions_of("user", "output") == []
        with pytest.raises(ArtifactNotFoundError, match="deleted"):  # at once, not after retries
            catalog.use_version("user", "f" * 32)
        assert catalog.roots() == {v0.root}

    # -- the gc fence -----------------------------------------------------------------

    def test_a_commit_under_a_stale_gc_epoch_commits_nothing(
        self, catalog: SQLCatalog, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        epoch = catalog.gc_epoch()
        commit_version(catalog, "p", "c", "dataset", new("a"), gc_epoch=epoch)
        gc = open_catalog()  # a gc in another process
        swept = gc.begin_sweep(epoch, lease=60)
        assert catalog.gc_epoch().sweeping
        with pytest.raises(ConcurrentGCError):
            commit_version(catalog, "p", "c", "dataset", new("b"), gc_epoch=epoch)
        with pytest.raises(StoreError, match="another gc"):
            catalog.begin_sweep(epoch, lease=60)
        gc.renew_sweep(swept, lease=60)
        gc.end_sweep(swept)
        assert catalog.gc_epoch() == Epoch(swept) == Epoch(epoch.number + 1)
        with pytest.raises(ConcurrentGCError):  # the sweep is over, but it may have deleted
            commit_version(catalog, "p", "c", "dataset", new("b"), gc_epoch=epoch)
        assert summary(catalog) == {"v0": ["latest"]}
        commit_version(catalog, "p", "c", "dataset", new("b"), gc_epoch=Epoch(swept))
        assert summary(catalog) == {"v0": [], "v1": ["latest"]}
        with pytest.raises(StoreError, match="lost its lease"):
            gc.renew_sweep(swept, lease=60)  # ended: nothing to renew

    def test_a_sweep_names_its_holder(self, catalog: SQLCatalog, open_catalog: Callable[[], SQLCatalog]) -> None:
        assert catalog.sweep() is None
        swept = open_catalog().begin_sweep(catalog.gc_epoch(), lease=60, holder="quire gc (pid 1 on h)")
        sweep = catalog.sweep()
        assert sweep is not None and sweep.holder == "quire gc (pid 1 on h)" and 0 < sweep.left <= 60
        catalog.end_sweep(swept)
        assert catalog.sweep() is None

    def test_writer_leases_run_out_on_the_catalogs_clock(
        self, catalog: SQLCatalog, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        other = open_catalog()
        assert catalog.live_leases()[1] == []
        mine = catalog.open_lease("writer a", lease=60)
        theirs = other.open_lease("writer b", lease=0.5)
        now, live = catalog.live_leases()
        assert [lease.holder for lease in live] == ["writer a", "writer b"]  # oldest first
        assert all(lease.started <= now < lease.expires for lease in live)
        assert catalog.renew_lease(mine, lease=60)
        while theirs in {lease.id for lease in catalog.live_leases()[1]}:
            time.sleep(0.05)  # renewed by no one, it runs out
        assert not other.renew_lease(theirs, lease=60)  # its holder must take a new one
        catalog.drop_lease(mine)
        assert catalog.live_leases()[1] == []

    def test_a_catalog_has_an_identity(self, catalog: SQLCatalog, open_catalog: Callable[[], SQLCatalog]) -> None:
        assert len(catalog.catalog_id) == 32 and open_catalog().catalog_id == catalog.catalog_id

    def test_gc_keeps_the_manifests_of_versions_and_contributions(self, catalog: SQLCatalog) -> None:
        v0, _ = commit_version(catalog, "p", "c", "dataset", new("a"))
        with catalog.engine.begin() as conn:
            coll = conn.scalar(sa.select(schema.collections.c.id))
            conn.execute(schema.pending_versions.insert().values(
                id="pend", collection_id=coll, distributed_id="g", state="open", created_at=now()))
            conn.execute(schema.contributions.insert().values(
                id="contrib", pending_id="pend", key="k", run_id=None, root="contribution-manifest",
                file_count=1, size=1, info={}, created_at=now()))
        assert catalog.roots() == {v0.root, "contribution-manifest"}
        assert catalog.version_exists(v0.id) and not catalog.version_exists("gone")

    # -- migrations -------------------------------------------------------------------

    def test_migrations_are_recorded_once(
        self, catalog: SQLCatalog, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        commit_version(catalog, "p", "c", "dataset", new("a"))
        reopened = open_catalog()
        reopened.migrate()
        with reopened.engine.connect() as conn:
            names = list(conn.scalars(sa.select(schema.migrations_table.c.name)))
        assert names == [name for name, _ in schema.MIGRATIONS]
        assert summary(reopened) == {"v0": ["latest"]}

    def test_a_catalog_of_0002_gets_leases_and_an_identity(
        self, catalog: SQLCatalog, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        commit_version(catalog, "p", "c", "dataset", new("a"))
        with catalog.engine.begin() as conn:  # back to what 0002 left
            conn.execute(sa.text("DROP TABLE leases"))
            conn.execute(sa.text("DROP TABLE identity"))
            conn.execute(sa.text("ALTER TABLE gc_state DROP COLUMN holder"))
            conn.execute(schema.migrations_table.delete().where(
                schema.migrations_table.c.name == "0003_leases_and_identity"))
        reopened = open_catalog()
        assert len(reopened.catalog_id) == 32
        reopened.drop_lease(reopened.open_lease("writer", lease=60))
        swept = reopened.begin_sweep(reopened.gc_epoch(), lease=60, holder="gc")
        assert reopened.sweep().holder == "gc"  # type: ignore[union-attr]
        reopened.end_sweep(swept)
        assert summary(reopened) == {"v0": ["latest"]}

    # -- concurrency ------------------------------------------------------------------

    def test_concurrent_commits_get_unique_consecutive_numbers(
        self, open_catalog: Callable[[], SQLCatalog]
    ) -> None:
        open_catalog()  # created once; each thread then opens its own handle
        results: list[str] = []
        errors: list[BaseException] = []

        def commit(worker: int) -> None:
            try:
                catalog = open_catalog()
                for i in range(3):
                    record, _ = commit_version(catalog, "p", "c", "dataset", new(f"{worker}-{i}"))
                    results.append(record.version)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=commit, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(results, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(18)]
        assert summary(open_catalog())["v17"] == ["latest"]
