"""The PostgreSQL catalog (``QUIRE_STORE=postgresql://…``): configuration, the errors
users meet, and a connection dropped in the middle of a commit."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

import quire
from backends import free_port
from quire.errors import StoreError
from quire.store import open_store, postgres_engine
from quire.store.catalog import (
    Committed,
    NewVersion,
    RunRecord,
    VersionCommit,
    new_commit_id,
    now,
)
from quire.store.sql import SQLCatalog

pytestmark = pytest.mark.postgres


def _version(digest: str = "d" * 64) -> NewVersion:
    return NewVersion(digest=digest, root="m" * 64, size=1, file_count=1)


def test_a_postgres_store_needs_quire_blobs(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    with pytest.raises(StoreError, match=r"QUIRE_BLOBS is not set.*s3://bucket/prefix"):
        open_store()


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg", "postgres"])
def test_an_unreachable_server_is_named_without_its_password(
    scheme: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    monkeypatch.setenv("QUIRE_STORE", f"{scheme}://team:s3cret@127.0.0.1:{port}/artifacts")
    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "blobs").as_uri())
    with pytest.raises(StoreError) as info:
        quire.Api()
    message = str(info.value)
    assert f"cannot reach the catalog at postgresql+psycopg://team:***@127.0.0.1:{port}/artifacts" in message
    assert "s3cret" not in message and "\n" not in message
    assert "check QUIRE_STORE" in message


def test_an_unknown_role_or_database_is_named(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = sa.engine.make_url(postgres_server)
    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "blobs").as_uri())
    for bad, what in (
        (url.set(username="no_such_role"), "no_such_role"),
        (url.set(database="no_such_db"), "no_such_db"),
    ):
        monkeypatch.setenv("QUIRE_STORE", bad.render_as_string(hide_password=False))
        with pytest.raises(StoreError, match=rf"catalog at .*{what}.*does not exist"):
            open_store()


def test_team_store_with_a_shared_folder_for_blobs(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "shared" / "blobs").as_uri())
    Path("a.txt").write_text("alpha")
    with quire.init() as run:
        art = quire.Artifact("data", "dataset")
        art.add_file("a.txt")
        run.log_artifact(art, aliases=["best"])
    got = quire.Api().artifact("data:best")
    assert (got.version, got.aliases) == ("v0", ["best", "latest"])
    root = Path(got.download(tmp_path / "out"))
    assert (root / "a.txt").read_text() == "alpha"
    assert list((tmp_path / "shared" / "blobs" / "packs").glob("*.pack"))
    # A remote catalog has no folder of its own: the cache goes to ~/.cache/quire.
    assert open_store().local_dir is None
    assert list((Path.home() / ".cache" / "quire" / "files").glob("*/*"))


def test_the_cache_of_a_team_store_follows_quire_cache_dir(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "blobs").as_uri())
    monkeypatch.setenv("QUIRE_CACHE_DIR", str(tmp_path / "cache"))
    Path("a.txt").write_text("alpha")
    art = quire.Artifact("data", "dataset")
    art.add_file("a.txt")
    art.save()
    quire.Api().artifact("data:v0").download(tmp_path / "out")
    assert list((tmp_path / "cache" / "files").glob("*/*"))
    assert not (Path.home() / ".cache" / "quire").exists()


def _terminate(pid: int, url: str) -> None:
    """Kill one server process, as a failover or an admin would, from another connection."""
    base = sa.engine.make_url(url).set(drivername="postgresql", query={})
    with psycopg.connect(base.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_dropped_during_a_commit_rolls_back_and_the_retry_works(postgres_url: str) -> None:
    catalog = SQLCatalog(postgres_engine(postgres_url))
    killed: list[int] = []
    inserted_by: list[int] = []

    @sa.event.listens_for(catalog.engine, "after_cursor_execute")
    def drop(conn: sa.Connection, cursor: object, statement: str, *_: object) -> None:
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        if "INSERT INTO versions" in statement:
            inserted_by.append(pid)
        # Inside the commit's transaction, with the collection row locked: drop the line.
        if "FROM collections" in statement and "FOR UPDATE" in statement and not killed:
            killed.append(pid)
            _terminate(pid, postgres_url)

    def commit(version: NewVersion, **kw: list[str]) -> Committed:
        return catalog.commit(VersionCommit("p", "data", "dataset", version, new_commit_id(), catalog.gc_epoch(), **kw))

    try:
        done = commit(_version(), aliases=["best"])
        record = done.version
        assert done.created and record.version == "v0" and record.aliases == ["best", "latest"]
        assert len(killed) == 1 and inserted_by and inserted_by[0] != killed[0]  # a new connection did the retry
        assert [v.version for v in catalog.versions("p", "data")] == ["v0"]  # nothing half-done
        assert commit(_version("e" * 64)).version.version == "v1"
    finally:
        catalog.engine.dispose()


def test_a_password_in_the_url_is_used_but_never_shown(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_password = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:s3cret@")
    assert "s3cret" in with_password  # the test server trusts loopback: any password works
    monkeypatch.setenv("QUIRE_STORE", with_password)
    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "blobs").as_uri())
    Path("a.txt").write_text("alpha")
    art = quire.Artifact("data", "dataset")
    art.add_file("a.txt")
    art.save()  # an implicit run reopens the store from the artifact's own
    api = quire.Api()
    assert api.artifact("data:v0").digest == art.digest
    assert "s3cret" not in api.store.url and "postgres:***@" in api.store.url
    assert "s3cret" not in api.store.catalog.url


def test_the_command_line_reports_an_unreachable_catalog_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from quire.cli import app

    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "blobs").as_uri())
    url = f"postgresql://team:s3cret@127.0.0.1:{free_port()}/artifacts"
    result = CliRunner().invoke(app, ["--store", url, "artifact", "ls"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "cannot reach the catalog" in line and "s3cret" not in line and "Traceback" not in result.output


def _child_writes(i: int, catalog: SQLCatalog) -> None:
    # The parent's catalog object, inherited by the fork: its pooled connections belong to
    # the parent, so the child must open its own instead of talking on them.
    for k in range(5):
        catalog.create_run(RunRecord(f"child{i}-{k}", "p", None, None, None, {}, "running", now()))


def test_forked_writers_beside_a_parent_with_open_connections(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", (tmp_path / "blobs").as_uri())
    catalog = open_store().catalog
    catalog.create_run(RunRecord("parent-before", "p", None, None, None, {}, "running", now()))
    children = [mp.get_context("fork").Process(target=_child_writes, args=(i, catalog)) for i in range(4)]
    for child in children:
        child.start()
    for k in range(5):  # on the connection that was open when the children forked
        catalog.create_run(RunRecord(f"parent-{k}", "p", None, None, None, {}, "running", now()))
    for child in children:
        child.join()
    assert [c.exitcode for c in children] == [0] * 4
    ids = [f"child{i}-{k}" for i in range(4) for k in range(5)] + [f"parent-{k}" for k in range(5)]
    assert [catalog.run(i).id for i in ids] == ids
