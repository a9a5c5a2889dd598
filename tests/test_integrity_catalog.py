"""Catalog faults and bad input that reach the catalog (issue 10, items 11-13 and 16):
a commit whose answer was lost, bad run fields, and failures that must be one clear line."""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import quire
import quire.sdk.run
from quire.errors import (
    CommitOutcomeUnknownError,
    PendingVersionError,
    QuireError,
    StoreError,
    ValidationError,
)
from quire.store import close_stores, open_store
from quire.store import schema as t

from conftest import PYTHON
from faultproxy import PG_COMMIT, TCPFaultProxy

# -- 12: a commit whose answer was lost ----------------------------------------------------


@pytest.fixture
def proxied(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TCPFaultProxy]:
    """The test's PostgreSQL catalog reached through a :class:`TCPFaultProxy` (blobs in a
    folder: the faults here are the catalog's), opened and migrated."""
    url = urllib.parse.urlsplit(postgres_url)
    proxy = TCPFaultProxy(url.hostname or "127.0.0.1", url.port or 5432)
    monkeypatch.setenv("QUIRE_STORE", postgres_url.replace(url.netloc, f"{url.username}@127.0.0.1:{proxy.port}", 1))
    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "blobs").as_uri())
    open_store()
    yield proxy
    proxy.clear()
    quire.sdk.run.finish()
    close_stores()
    proxy.close()


def _log(name: str, files: dict[str, bytes], folder: Path, **kwargs: object) -> quire.Artifact:
    folder.mkdir(parents=True, exist_ok=True)
    art = quire.Artifact(name, "dataset", **kwargs)  # type: ignore[arg-type]
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
        art.add_file(folder / rel, rel)
    return art


@pytest.mark.postgres
def test_lost_answer_to_commit_finds_its_own_version(proxied: TCPFaultProxy, tmp_path: Path) -> None:
    # The COMMIT of the transaction that inserts the version reaches the server, which
    # commits; its answer never comes back. The retry must find that version by its
    # commit id: not fail on its own run row, not make the version twice.
    rule = proxied.drop(PG_COMMIT, answered=True, after=b"INSERT INTO versions")
    with quire.init(project="p") as run:
        logged = run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "one"))
        assert rule.hits == 1
        assert logged.version == "v0"
        # the same process goes on working: another version, then a read
        assert run.log_artifact(_log("data", {"a.txt": b"beta"}, tmp_path / "two")).version == "v1"
    assert [v.version for v in quire.Api().artifact_versions("dataset", "p/data")] == ["v0", "v1"]
    assert quire.Api().artifact("p/data:v0").logged_by().state == "finished"  # type: ignore[union-attr]


@pytest.mark.postgres
def test_unknown_outcome_is_said_and_later_calls_work(proxied: TCPFaultProxy, tmp_path: Path) -> None:
    # The answer to COMMIT is lost and the catalog cannot be reached again: the caller
    # learns that the outcome is unknown (not a generic error), and once the catalog is
    # back, the same process works and repeating the log makes no second version.
    proxied.drop(PG_COMMIT, answered=True, after=b"INSERT INTO versions", then_refuse=True)
    run = quire.init(project="p")
    with pytest.raises(CommitOutcomeUnknownError, match="unknown") as caught:
        run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "one"))
    assert proxied.refused > 0
    assert caught.value.commit_id and caught.value.commit_id in str(caught.value)
    assert "\n" not in str(caught.value) and "quire artifact versions p/data" in str(caught.value)
    proxied.clear()
    again = run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "one"))
    assert again.version == "v0"  # it had been committed; no second version
    assert run.log_artifact(_log("data", {"b.txt": b"beta"}, tmp_path / "two")).version == "v1"
    run.finish()
    assert [v.version for v in quire.Api().artifact_versions("dataset", "p/data")] == ["v0", "v1"]


@pytest.mark.postgres
def test_lost_answer_to_collaborative_finish(proxied: TCPFaultProxy, tmp_path: Path) -> None:
    # The finisher's COMMIT lands and its answer is lost: the retry finds the pending
    # version committed by its own commit id and returns that version, instead of
    # refusing the distributed id as spent.
    with quire.init(project="p", group="g1") as run:
        run.upsert_artifact(_log("preds", {"w1.txt": b"one"}, tmp_path / "w1"))
    rule = proxied.drop(PG_COMMIT, answered=True, after=b"UPDATE pending")
    with quire.init(project="p", group="g1") as run:
        done = run.finish_artifact(_log("preds", {"f.txt": b"fin"}, tmp_path / "f"))
    assert rule.hits == 1
    assert done.version == "v0" and sorted(e.path for e in done.manifest) == ["f.txt", "w1.txt"]
    assert [v.version for v in quire.Api().artifact_versions("dataset", "p/preds")] == ["v0"]
    with quire.init(project="p", group="g1") as run, pytest.raises(PendingVersionError, match="spent"):
        run.upsert_artifact(_log("preds", {"late.txt": b"late"}, tmp_path / "late"))


@pytest.mark.postgres
def test_read_after_commit_is_retried(proxied: TCPFaultProxy, tmp_path: Path) -> None:
    # The connection drops under the read that follows a commit (the version's record):
    # the read runs again on a new connection instead of failing a committed log.
    rule = proxied.drop(b"FROM versions JOIN collections")
    with quire.init(project="p") as run:
        assert run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "one")).version == "v0"
    assert rule.hits == 1


def test_commit_ids_added_to_an_old_catalog(tmp_path: Path) -> None:
    # A catalog made before migration 0004 (no commit_id columns) gets them on open,
    # and commits record them.
    store = open_store(tmp_path / "old")
    with store.catalog.engine.begin() as conn:
        for table in ("versions", "pending"):
            conn.exec_driver_sql(f"DROP INDEX ux_{table}_commit_id")
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN commit_id")
        conn.execute(t.migrations_table.delete().where(t.migrations_table.c.name == "0004_commit_ids"))
    close_stores()
    store = open_store(tmp_path / "old")
    art = _log("data", {"a.txt": b"alpha"}, tmp_path / "files")
    with quire.init(project="p", store=tmp_path / "old") as run:
        run.log_artifact(art)
    with store.catalog.engine.connect() as conn:
        assert conn.scalar(sa.select(t.versions.c.commit_id)) is not None


# -- 16: every failure is one line -----------------------------------------------------------


def _cli(python_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "quire.cli", *args], capture_output=True, text=True, env=python_env, timeout=300
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.usefixtures("store_kind")
def test_huge_version_number(tmp_path: Path, python_env: dict[str, str]) -> None:
    # v<30 digits> is beyond any SQL integer: no such version, not an overflow.
    with quire.init(project="p") as run:
        run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files"))
    huge = "9" * 30
    for index in (huge, str(2**31), str(2**63), "9" * 5000):
        with pytest.raises(quire.errors.ArtifactNotFoundError, match="available: v0"):
            quire.Api().artifact(f"p/data:v{index}")
    _one_line_error(_cli(python_env, "artifact", "get", f"p/data:v{huge}"), f"no version 'v{huge}'")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_catalog_db_is_one_line_naming_it(damage: str, tmp_path: Path, python_env: dict[str, str]) -> None:
    # garbage bytes, a truncated file, a file emptied: a StoreError naming the file (one
    # line), from Python and from the CLI; never a driver traceback, never an empty store.
    root = tmp_path / "store"
    with quire.init(project="p", store=root) as run:
        for i in range(20):  # a few pages, so that a truncated file loses some
            run.log_artifact(_log(f"data{i}", {"a.txt": b"x" * i}, tmp_path / "files", metadata={"pad": "y" * 4000}))
    close_stores()
    db = root / "catalog.db"
    data = db.read_bytes()
    data = {"garbage": os.urandom(len(data)), "truncated": data[: len(data) // 3], "empty": b""}[damage]
    db.write_bytes(data)
    for leftover in (root / "catalog.db-wal", root / "catalog.db-shm"):
        leftover.unlink(missing_ok=True)
    with pytest.raises(StoreError, match="is damaged") as caught:
        quire.Api(store=str(root)).artifact("p/data19:latest").download(tmp_path / "out")
    assert str(db) in str(caught.value) and "\n" not in str(caught.value)
    assert db.read_bytes() == data  # left as it was, for the user to restore
    close_stores()
    _one_line_error(_cli(python_env, "--store", str(root), "artifact", "ls"), str(db), "damaged")


def test_value_the_database_refuses_is_a_validation_error(store_kind: str, tmp_path: Path) -> None:
    # Below the sdk's checks, the catalog translates the database's refusal of a value
    # (DataError) by its class: NUL in text, which PostgreSQL cannot hold.
    if store_kind == "embedded":
        pytest.skip("SQLite holds NUL in text")
    with quire.init(project="p") as run:
        art = run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files"))
    with pytest.raises(ValidationError, match="refused a value") as caught:
        open_store().catalog.update_version(art._committed_record().id, description="a\x00b")
    assert "\n" not in str(caught.value)
