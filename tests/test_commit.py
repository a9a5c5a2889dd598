"""Compare-and-swap commits (``quire.core.commit``): a commit that loses the race builds
its version again from what is there now, and no blob I/O happens inside a catalog
transaction. The races are made real by a wrapper around the real catalog that lets a
competing commit in between a writer's read and its commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import quire
from quire.core import commit as core_commit
from quire.core.manifest import Entry, Manifest, save_manifest
from quire.errors import MovedOnError
from quire.store import Store, open_store
from quire.store.catalog import (
    ANY_LATEST,
    Committed,
    FinishCommit,
    Finished,
    NewContribution,
    NewVersion,
    VersionCommit,
    new_commit_id,
)
from servers import not_on_a_server
from support import digest, files_of

pytestmark = pytest.mark.usefixtures("store_kind")


class Meddling:
    """The real catalog, with ``before_commit`` / ``before_finish`` run before each
    ``commit`` / ``finish`` is passed on (the writer has read what it builds on)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.before_commit = lambda request: None
        self.before_finish = lambda request: None
        self.commits: list[VersionCommit] = []
        self.finishes: list[FinishCommit] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def commit(self, request: VersionCommit) -> Committed:
        self.commits.append(request)
        self.before_commit(request)
        return self.real.commit(request)  # type: ignore[no-any-return]

    def finish(self, request: FinishCommit) -> Finished:
        self.finishes.append(request)
        self.before_finish(request)
        return self.real.finish(request)  # type: ignore[no-any-return]


@contextmanager
def meddled(store: Store) -> Iterator[Meddling]:
    real = store.catalog
    wrapper = Meddling(real)
    store.catalog = wrapper  # type: ignore[assignment]
    try:
        yield wrapper
    finally:
        store.catalog = real


def _log(name: str, files: dict[str, bytes], root: Path, incremental: bool = False) -> quire.Artifact:
    root.mkdir(parents=True, exist_ok=True)
    art = quire.Artifact(name, "dataset", incremental=incremental)
    for rel, data in files.items():
        (root / rel).write_bytes(data)
        art.add_file(root / rel, rel)
    return art


def test_a_patch_that_loses_the_race_is_overlaid_again_and_keeps_both_edits(tmp_path: Path) -> None:
    with quire.init(project="p") as run:
        run.log_artifact(_log("ds", {"base.txt": b"base"}, tmp_path / "v0"))
    store = open_store()
    with meddled(store) as catalog:

        def competing(request: VersionCommit) -> None:
            if len(catalog.commits) == 1:  # after the patch read latest (v0): another patch gets in
                with quire.init(project="p") as other:
                    other.log_artifact(_log("ds", {"theirs.txt": b"theirs"}, tmp_path / "theirs", incremental=True))

        catalog.before_commit = competing
        with quire.init(project="p") as run:
            mine = run.log_artifact(_log("ds", {"mine.txt": b"mine"}, tmp_path / "mine", incremental=True))
    # Three asks: mine (moved on: v1 got in), theirs, mine again onto v1.
    mine_asks = [r for r in catalog.commits if r.commit_id == catalog.commits[0].commit_id]
    assert len(mine_asks) == 2 and mine_asks[0].expect_latest != mine_asks[1].expect_latest
    versions = quire.Api().artifact_versions("dataset", "p/ds")
    assert [v.version for v in versions] == ["v0", "v1", "v2"]  # no number twice, none lost
    assert mine.version == "v2" and mine.parent.version == "v1"  # type: ignore[union-attr]
    got = files_of(quire.Api().artifact("p/ds:latest").download(tmp_path / "out"))
    assert got == {"base.txt": b"base", "theirs.txt": b"theirs", "mine.txt": b"mine"}


def test_two_patch_threads_at_once_both_get_in(tmp_path: Path) -> None:
    with quire.init(project="p") as run:
        run.log_artifact(_log("ds", {"base.txt": b"base"}, tmp_path / "v0"))
    store = open_store()
    both_read = threading.Barrier(2)
    local = threading.local()
    with meddled(store) as catalog:

        def together(request: VersionCommit) -> None:
            if not getattr(local, "waited", False):  # each thread's first ask waits for the other's
                local.waited = True
                both_read.wait(timeout=60)

        catalog.before_commit = together
        drafts = [_log("ds", {f"{i}.txt": bytes([i])}, tmp_path / f"w{i}", incremental=True) for i in range(2)]
        errors: list[BaseException] = []

        def patch(art: quire.Artifact) -> None:
            try:
                core_commit.commit_draft(store, _draft(art), core_commit.Staged(), "p", [], [], [])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=patch, args=(d,)) for d in drafts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert len(catalog.commits) == 3  # both built on v0; one moved on and came again
    assert [v.version for v in quire.Api().artifact_versions("dataset", "p/ds")] == ["v0", "v1", "v2"]
    got = files_of(quire.Api().artifact("p/ds:latest").download(tmp_path / "out"))
    assert got == {"base.txt": b"base", "0.txt": b"\x00", "1.txt": b"\x01"}


def _draft(art: quire.Artifact) -> Any:
    return art._check_draft()


def test_a_contribution_upserted_during_a_finish_is_merged_in(tmp_path: Path) -> None:
    with quire.init(project="p", group="g") as run:
        run.upsert_artifact(_log("shared", {"a.txt": b"alpha"}, tmp_path / "a"))
    store = open_store()
    late = Manifest([Entry("late.txt", store.blobs.put_bytes(b"late"), 4)])
    with meddled(store) as catalog:

        def straggler(request: FinishCommit) -> None:
            if len(catalog.finishes) == 1:  # after the finisher read the contributions
                own = NewContribution("late-writer", save_manifest(store.blobs, late), 1, 4, {"role": "writer"})
                catalog.real.add_contribution("p", "shared", "dataset", "g", own, catalog.real.gc_epoch())

        catalog.before_finish = straggler
        with quire.init(project="p", group="g") as run:
            done = run.finish_artifact(_log("shared", {"f.txt": b"fin"}, tmp_path / "f"))
    assert [len(f.merged) for f in catalog.finishes] == [1, 2]  # merged again, with the straggler
    assert {f.commit_id for f in catalog.finishes} == {catalog.finishes[0].commit_id}  # one commit id
    assert files_of(done.download(tmp_path / "out")) == {"a.txt": b"alpha", "f.txt": b"fin", "late.txt": b"late"}
    [pending] = quire.Api().pending_versions(state="committed")
    assert pending.contribution_count == 3 and pending.version == "v0"


def test_a_commit_overtaken_every_time_gives_up_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core_commit, "RACE_ATTEMPTS", 3)
    with quire.init(project="p") as run:
        run.log_artifact(_log("ds", {"base.txt": b"base"}, tmp_path / "v0"))
    store = open_store()
    overtaken = 0
    with meddled(store) as catalog:

        def competing(request: VersionCommit) -> None:
            nonlocal overtaken
            overtaken += 1
            version = NewVersion(digest(f"other {overtaken}".encode()), request.version.root, 1, 1)
            catalog.real.commit(
                VersionCommit(
                    "p", "ds", "dataset", version, new_commit_id(), catalog.real.gc_epoch(), expect_latest=ANY_LATEST
                )
            )

        catalog.before_commit = competing
        with quire.init(project="p") as run, pytest.raises(MovedOnError, match="gave up after 3 attempts") as caught:
            run.log_artifact(_log("ds", {"mine.txt": b"mine"}, tmp_path / "mine", incremental=True))
    assert "\n" not in str(caught.value) and "nothing of this one was committed" in str(caught.value)
    assert len(catalog.commits) == 3
    versions = quire.Api().artifact_versions("dataset", "p/ds")
    assert [v.version for v in versions] == ["v0", "v1", "v2", "v3"]  # the competitors' only
    assert all(r.run_id is None for r in store.catalog.versions("p", "ds")[1:])


class Guarded:
    """An object store that records every call made while this thread holds a catalog
    write transaction (the catalog's writer turn, wrapped below)."""

    def __init__(self, real: Any, busy: threading.local) -> None:
        self.real, self.busy = real, busy
        self.calls: list[str] = []
        self.inside: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if getattr(self.busy, "held", False):
                self.inside.append(name)
            return attr(*args, **kwargs)

        return guarded


def test_no_blob_io_happens_inside_a_catalog_transaction(tmp_path: Path) -> None:
    not_on_a_server("the catalog's transactions run in the server's process, on the store behind it")
    with quire.init(project="p") as run:
        run.log_artifact(_log("ds", {"base.txt": b"base"}, tmp_path / "v0"))
    store = open_store()
    busy = threading.local()
    real_turn = store.catalog.writer_turn

    @contextmanager
    def turn() -> Iterator[None]:
        with real_turn():
            busy.held = True
            try:
                yield
            finally:
                busy.held = False

    guard = Guarded(store.blobs.objects, busy)
    store.catalog.writer_turn = turn  # type: ignore[misc]
    store.blobs.objects = guard  # type: ignore[assignment]
    try:
        with quire.init(project="p") as run:  # a simple commit, a patch, an upsert, a finish
            run.log_artifact(_log("ds", {"whole.txt": b"whole"}, tmp_path / "whole"))
            run.log_artifact(_log("ds", {"more.txt": b"more"}, tmp_path / "more", incremental=True))
        with quire.init(project="p", group="g") as run:
            run.upsert_artifact(_log("shared", {"a.txt": b"alpha"}, tmp_path / "a"))
        with quire.init(project="p", group="g") as run:
            run.finish_artifact(_log("shared", {"f.txt": b"fin"}, tmp_path / "f"))
    finally:
        store.catalog.writer_turn = real_turn  # type: ignore[misc]
        store.blobs.objects = guard.real
    assert {"put", "get"} & set(guard.calls)  # the guard saw the blob I/O ...
    assert guard.inside == []  # ... and none of it inside a transaction
    assert files_of(quire.Api().artifact("p/ds:latest").download(tmp_path / "out")) == {
        "whole.txt": b"whole",
        "more.txt": b"more",  # the patch onto the whole version
    }


# -- the catalog's side of compare-and-swap ---------------------------------------------------


def _version(content: str) -> NewVersion:
    return NewVersion(digest(content.encode()), digest(b"root " + content.encode()), 1, 1)


def test_a_commit_on_a_stale_latest_writes_nothing() -> None:
    catalog = open_store().catalog

    def commit(content: str, expect: str | None) -> Committed:
        return catalog.commit(
            VersionCommit(
                "p",
                "c",
                "dataset",
                _version(content),
                new_commit_id(),
                catalog.gc_epoch(),
                expect_latest=expect,
            )
        )

    v0 = commit("a", ANY_LATEST).version
    with pytest.raises(MovedOnError, match="another commit got in first") as caught:
        commit("b", None)  # built on an empty collection: v0 got in
    assert isinstance(caught.value, quire.StoreError) and "\n" not in str(caught.value)
    v1 = commit("b", v0.id).version
    with pytest.raises(MovedOnError):
        commit("c", v0.id)
    assert [(v.version, v.aliases) for v in catalog.versions("p", "c")] == [("v0", []), ("v1", ["latest"])]
    assert catalog.version("p", "c").id == v1.id


def test_a_finish_on_stale_contributions_writes_nothing() -> None:
    catalog = open_store().catalog
    theirs = NewContribution("writer", digest(b"theirs"), 1, 1, {"aliases": ["best"]})
    added = catalog.add_contribution("p", "c", "dataset", "g", theirs, catalog.gc_epoch())
    own = NewContribution("finisher", digest(b"own"), 1, 1)

    def finish(merged: list[str]) -> Finished:
        return catalog.finish(
            FinishCommit(
                "p",
                "c",
                "dataset",
                "g",
                own,
                merged,
                _version("merged"),
                new_commit_id(),
                catalog.gc_epoch(),
                aliases=["best"],
                run_ids=["finisher", "writer"],
            )
        )

    for stale in ([], [added.contribution.key, digest(b"never came")]):
        with pytest.raises(MovedOnError, match="a writer upserted meanwhile"):
            finish(stale)
        pending = catalog.pending(added.pending_id)  # still open, the finisher's own not kept
        assert (pending.state, pending.contribution_count) == ("open", 1)
    done = finish([added.contribution.key])
    assert (done.pending.state, done.pending.contribution_count, done.version.version) == ("committed", 2, "v0")
    assert done.version.aliases == ["best", "latest"] and done.version.run_id == "finisher"
