"""A collaborative writer's lease ends in the transaction that adds its contribution
(issue 11, C1): one write transaction fewer per upsert, and never while another draft
of the same process still stages under the lease, nor when that transaction failed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

import quire
from quire.core.gc import collect_garbage
from quire.errors import StoreError
from quire.store import open_store
from quire.store.blobs import blob_key
from servers import behind, not_on_a_server

BIG = 2 << 20  # a large blob: an object of its own, which gc would delete by its key


def live_leases(store_url: str) -> list[str]:
    return [lease.holder for lease in open_store(store_url).catalog.live_leases()[1]]


def gc_now(store_url: str) -> list[str]:
    """gc with no grace period; the keys it deleted."""
    return [key for _, key, _ in collect_garbage(open_store(store_url), grace=0).deleted]


@contextmanager
def commits(store_url: str) -> Iterator[list[str]]:
    """The write transactions committed in the block (one line per COMMIT)."""
    seen: list[str] = []
    engine = open_store(behind(store_url)).catalog.engine

    def note(conn: sa.Connection) -> None:
        seen.append("commit")

    sa.event.listen(engine, "commit", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "commit", note)


def draft_of(tmp_path: Path, name: str) -> tuple[quire.Artifact, str]:
    """A draft of one large file (staged under the lease as it is added); its digest."""
    src = tmp_path / f"{name}.bin"
    src.write_bytes(os.urandom(BIG))
    draft = quire.Artifact("ds", "dataset")
    draft.add_file(src, name=f"{name}.bin")
    return draft, draft.get_entry(f"{name}.bin").digest


@pytest.mark.usefixtures("store_kind")
def test_an_upsert_ends_its_lease_in_its_own_transaction(store_url: str, tmp_path: Path) -> None:
    not_on_a_server("the transaction runs in the server's process")
    with quire.init(project="p", group="g") as run:
        draft, _ = draft_of(tmp_path, "a")
        assert len(live_leases(store_url)) == 1  # staged under this process's lease
        with commits(store_url) as seen:
            run.upsert_artifact(draft)
        assert len(seen) == 1, seen  # the contribution (with the run record), no drop of its own
        assert live_leases(store_url) == []
        done = run.finish_artifact(quire.Artifact("ds", "dataset"))
    assert done.file_count == 1


@pytest.mark.usefixtures("store_kind")
def test_an_upsert_leaves_the_lease_to_a_draft_still_staging(store_url: str, tmp_path: Path) -> None:
    with quire.init(project="p", group="g") as run:
        first, _ = draft_of(tmp_path, "a")
        second, digest = draft_of(tmp_path, "b")  # open: its blob is referenced by nothing yet
        run.upsert_artifact(first)
        assert len(live_leases(store_url)) == 1
        assert blob_key(digest) not in gc_now(store_url)  # still protected by the lease
        run.upsert_artifact(second)
        assert live_leases(store_url) == []
        done = run.finish_artifact(quire.Artifact("ds", "dataset"))
    out = done.download(tmp_path / "out", skip_cache=True)
    assert sorted(os.listdir(out)) == ["a.bin", "b.bin"]


@pytest.mark.usefixtures("store_kind")
def test_a_failed_contribution_keeps_the_lease(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str | None] = []

    def lost(*args: object, **kwargs: object) -> object:  # the catalog went away mid-upsert
        calls.append(kwargs.get("lease"))  # type: ignore[arg-type]
        raise StoreError("cannot write the catalog: the connection was lost")

    with quire.init(project="p", group="g") as run:
        draft, digest = draft_of(tmp_path, "a")
        with monkeypatch.context() as patch, pytest.raises(StoreError):
            patch.setattr(run.store.catalog, "add_contribution", lost)
            run.upsert_artifact(draft)
        assert calls and calls[0] is not None  # it would have ended the lease, had it committed
        assert len(live_leases(store_url)) == 1
        assert blob_key(digest) not in gc_now(store_url)  # the staged blob is still protected
        run.upsert_artifact(draft)  # tried again: ends the lease this time
        assert live_leases(store_url) == []
        done = run.finish_artifact(quire.Artifact("ds", "dataset"))
    assert done.file_count == 1


def test_a_lease_is_not_flushed_but_every_other_write_is(tmp_path: Path) -> None:
    catalog = open_store(tmp_path / "store").catalog
    statements: list[str] = []
    commits: list[tuple[str, int]] = []  # (what the transaction wrote, its synchronous setting)

    def note(conn: sa.Connection, cursor: object, sql: str, *_: object) -> None:
        if sql.split()[0] in ("INSERT", "UPDATE", "DELETE"):
            statements.append("lease" if " leases" in sql.split("WHERE")[0] else "other")

    def commit(conn: sa.Connection) -> None:
        kinds = set(statements)
        statements.clear()
        commits.append(
            ("lease" if kinds == {"lease"} else "other", conn.exec_driver_sql("PRAGMA synchronous").scalar())
        )

    sa.event.listen(catalog.engine, "before_cursor_execute", note)
    sa.event.listen(catalog.engine, "commit", commit)
    lid = catalog.open_lease("a writer", 60.0)
    catalog.renew_lease(lid, 60.0)
    catalog.drop_lease(lid)
    with quire.init(project="p", store=tmp_path / "store") as run:  # on the same pooled connection
        draft, _ = draft_of(tmp_path, "a")
        run.log_artifact(draft)
    NORMAL, FULL = 1, 2
    assert commits[:3] == [("lease", NORMAL)] * 3
    assert ("other", FULL) in commits
    assert all(mode == (NORMAL if kind == "lease" else FULL) for kind, mode in commits), commits
