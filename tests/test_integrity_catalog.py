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
from conftest import PYTHON
from faultproxy import PG_COMMIT, TCPFaultProxy
from quire.errors import (
    CommitOutcomeUnknownError,
    PendingVersionError,
    StoreError,
    ValidationError,
)
from quire.store import close_stores, open_store
from quire.store.catalog import RUN_TEXT_LIMIT, RunRecord, now
from quire.store.sql import schema as t
from servers import behind
from support import patience

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


def _back_to_0006(conn: sa.Connection) -> None:
    """Give a catalog the schema of before migration 0007: no index of aliases by version."""
    conn.exec_driver_sql("DROP INDEX ix_aliases_version_id")
    conn.execute(t.migrations_table.delete().where(t.migrations_table.c.name == "0007_listing_index"))


def _back_to_0005(conn: sa.Connection) -> None:
    """Give a catalog the schema of before migration 0006, in raw SQL: none of the
    columns and tables of the W&B surface."""
    _back_to_0006(conn)
    conn.exec_driver_sql("DROP INDEX ix_versions_source_id")
    for table, columns in {
        "projects": ["info"],
        "collections": ["ttl"],
        "runs": ["tags", "notes", "summary", "info"],
        "versions": ["ttl", "ttl_inherit", "source_id"],
    }.items():
        for column in columns:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.exec_driver_sql("DROP TABLE collection_tags")
    conn.exec_driver_sql("DROP TABLE run_history")
    conn.execute(t.migrations_table.delete().where(t.migrations_table.c.name == "0006_wandb_surface"))


def _back_to_0004(conn: sa.Connection) -> None:
    """Give a catalog the names of before migration 0005, in raw SQL: table ``pending``,
    columns ``manifest``."""
    _back_to_0005(conn)
    conn.exec_driver_sql("DROP INDEX ux_pending_versions_commit_id")
    conn.exec_driver_sql("ALTER TABLE pending_versions RENAME TO pending")
    conn.exec_driver_sql("CREATE UNIQUE INDEX ux_pending_commit_id ON pending (commit_id)")
    for table in ("versions", "contributions"):
        conn.exec_driver_sql(f"ALTER TABLE {table} RENAME COLUMN root TO manifest")
    conn.execute(t.migrations_table.delete().where(t.migrations_table.c.name == "0005_glossary"))


@pytest.mark.usefixtures("store_kind")
def test_a_catalog_of_0005_gets_the_wandb_surface_and_keeps_its_data(tmp_path: Path) -> None:
    # Migration 0006 adds run tags, notes, summary and history, collection tags and TTL,
    # version TTL and links, project info; what a catalog of before holds reads as it did.
    with quire.init(project="p", id="old-run") as run:
        v0 = run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "one"))
    catalog = open_store(behind()).catalog
    before = catalog.version("p", "data")
    with catalog.engine.begin() as conn:
        _back_to_0005(conn)
    close_stores()
    catalog = open_store(behind()).catalog  # migrates
    after = catalog.version("p", "data")
    assert after == before and after.root == v0._committed_record("root").root
    assert (after.ttl, after.expires_at, after.source_id) == ("inherit", None, None)
    run = catalog.run("old-run")
    assert (run.tags, run.notes, run.summary, run.info, run.state) == ([], None, {}, {}, "finished")
    with quire.init(project="p") as run:  # and it goes on working
        run.log_artifact(_log("data", {"b.txt": b"beta"}, tmp_path / "two"))
    assert catalog.version("p", "data").version == "v1"


def test_commit_ids_added_to_an_old_catalog(tmp_path: Path) -> None:
    # A catalog made before migration 0004 (no commit_id columns) gets them on open,
    # and commits record them.
    store = open_store(tmp_path / "old")
    with store.catalog.engine.begin() as conn:
        _back_to_0004(conn)
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


@pytest.mark.usefixtures("store_kind")
def test_a_catalog_of_0004_gets_the_glossarys_names_and_keeps_its_data(tmp_path: Path) -> None:
    # Migration 0005 renames table pending to pending_versions and the columns manifest
    # to root; a catalog made before it opens, migrates and reads as it did.
    with quire.init(project="p") as run:
        v0 = run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "one"))
    with quire.init(project="p", group="open-one") as run:
        run.upsert_artifact(_log("preds", {"p.txt": b"pred"}, tmp_path / "two"))
    catalog = open_store(behind()).catalog
    roots, [pending] = catalog.roots(), catalog.pending_versions()
    [contribution] = catalog.contributions(pending.id)
    with catalog.engine.begin() as conn:
        _back_to_0004(conn)
    close_stores()
    catalog = open_store(behind()).catalog  # migrates
    with catalog.engine.connect() as conn:
        # Every migration is recorded once (rows have no order: PostgreSQL reuses the
        # space of the rows _back_to_0004 deleted).
        names = sorted(conn.scalars(sa.select(t.migrations_table.c.name)))
        assert names == [name for name, _ in t.MIGRATIONS]
        assert "pending" not in sa.inspect(conn).get_table_names()
    assert catalog.version("p", "data").root == v0._committed_record("root").root
    assert catalog.pending_versions() == [pending] and catalog.contributions(pending.id) == [contribution]
    assert catalog.roots() == roots
    with quire.init(project="p", group="open-one") as run:  # and it goes on working
        done = run.finish_artifact(_log("preds", {"f.txt": b"fin"}, tmp_path / "three"))
    assert sorted(done.manifest.entries) == ["f.txt", "p.txt"]


@pytest.mark.usefixtures("store_kind")
def test_a_run_field_too_long_for_the_catalog_is_refused_before_any_write() -> None:
    # Below the sdk's checks: the catalog itself refuses text longer than every dialect
    # holds (SQLite would keep it, PostgreSQL refuse it mid-transaction).
    catalog = open_store(behind()).catalog
    for field in ("name", "group", "job_type"):
        run = RunRecord("r1", "p", None, None, None, {}, "running", now())
        setattr(run, field, "x" * (RUN_TEXT_LIMIT + 1))
        for record in (catalog.create_run, catalog.defer_run):
            with pytest.raises(ValidationError, match=f"at most {RUN_TEXT_LIMIT}") as caught:
                record(run)
            assert "\n" not in str(caught.value)
    catalog.create_run(RunRecord("r2", "p", "x" * RUN_TEXT_LIMIT, None, None, {}, "running", now()))
    with catalog.engine.connect() as conn:
        assert list(conn.scalars(sa.select(t.runs.c.id))) == ["r2"]  # nothing of r1, and a later write works


# -- 13: bad run fields ----------------------------------------------------------------------


def _nested(depth: int) -> dict[str, object]:
    top: dict[str, object] = {}
    node = top
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    return top


BAD_RUN_FIELDS = [
    ("name", 5, "run name must be a string"),
    ("name", "x" * 257, "at most 256"),
    ("name", "a\x00b", "NUL"),
    ("group", ["g"], "run group must be a string"),
    ("group", "g" * 257, "at most 256"),
    ("group", "g\x00", "NUL"),
    ("job_type", 3.5, "job_type must be a string"),
    ("job_type", "j" * 257, "at most 256"),
    ("id", "y" * 65, "invalid run id"),
    ("id", "a/b", "invalid run id"),
    ("id", 42, "invalid run id"),
    ("project", "p" * 129, "invalid project name"),
    ("tags", "one-string", "run tags must be a list"),
    ("tags", ["ok", 7], "a run tag must be a string"),
    ("tags", ["t" * 65], "at most 64"),
    ("tags", ["a\x00"], "NUL"),
    ("notes", b"bytes", "run notes must be a string"),
    ("notes", "n\x00", "NUL"),
    ("config", _nested(5000), "run config nests deeper than 100"),
]


@pytest.mark.usefixtures("store_kind")
@pytest.mark.parametrize(
    ("field", "value", "message"), BAD_RUN_FIELDS, ids=lambda v: "nested" if isinstance(v, dict) else repr(v)[:20]
)
def test_bad_run_field_is_refused_at_init(field: str, value: object, message: str, tmp_path: Path) -> None:
    # Refused in init, before anything is written (the current run is not even ended),
    # the same on SQLite and PostgreSQL; and a bad run never becomes a deferred run that
    # fails this process's later writes.
    current = quire.init(project="p", name="good")
    with pytest.raises(ValidationError, match=message) as caught:
        quire.init(**{field: value})  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert current.state == "running" and quire.sdk.run.current_run() is current
    with current as run:
        run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files"))
    with open_store(behind()).catalog.engine.connect() as conn:
        assert list(conn.scalars(sa.select(t.runs.c.name))) == ["good"]


# -- 16: every failure is one line -----------------------------------------------------------


def _cli(python_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "quire.cli", *args], capture_output=True, text=True, env=python_env, timeout=patience(1)
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.usefixtures("store_kind")
def test_deep_metadata_is_refused(tmp_path: Path) -> None:
    deep = _nested(5000)
    with pytest.raises(ValidationError, match="nests deeper than"):
        quire.Artifact("data", "dataset", metadata=deep)
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    cyclic["again"] = cyclic
    with pytest.raises(ValidationError, match="nests deeper than"):
        quire.Artifact("data", "dataset", metadata=cyclic)
    art = _log("data", {"a.txt": b"alpha"}, tmp_path / "files")
    with quire.init(project="p") as run:
        run.log_artifact(art)
    art.metadata["deep"] = deep  # edited in place, then saved
    with pytest.raises(ValidationError, match="nests deeper than"):
        art.save()


@pytest.mark.usefixtures("store_kind")
def test_nul_in_text(tmp_path: Path) -> None:
    # PostgreSQL cannot hold NUL in text, SQLite can: refused on both, before any write
    # (description); kept on both where it is JSON (metadata escapes it).
    with quire.init(project="p") as run:
        with pytest.raises(ValidationError, match="NUL"):
            run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files", description="a\x00b"))
        art = run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files", metadata={"k\x00": "v\x00"}))
    assert quire.Api().artifact("p/data:v0").metadata == {"k\x00": "v\x00"}
    art.description = "x\x00y"
    with pytest.raises(ValidationError, match="NUL"):
        art.save()
    with pytest.raises(ValidationError, match="invalid alias"):
        art.aliases.append("a\x00")
        art.save()
    assert quire.Api().artifact("p/data:v0").description is None


def test_value_the_database_refuses_is_a_validation_error(store_kind: str, tmp_path: Path) -> None:
    # Below the sdk's checks, the catalog translates the database's refusal of a value
    # (DataError) by its class: NUL in text, which PostgreSQL cannot hold.
    if store_kind in ("embedded", "server"):
        pytest.skip("SQLite (also behind the test server) holds NUL in text")
    with quire.init(project="p") as run:
        art = run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files"))
    with pytest.raises(ValidationError, match="refused a value") as caught:
        open_store().catalog.update_version(art._committed_record("id").id, description="a\x00b")
    assert "\n" not in str(caught.value)


@pytest.mark.usefixtures("store_kind")
def test_paths_no_file_system_holds_are_refused(tmp_path: Path) -> None:
    # Refused when added (a clear rule), not found when downloaded (ENAMETOOLONG, or a
    # RecursionError from making 3,000 nested folders).
    (tmp_path / "f.txt").write_bytes(b"data")
    art = quire.Artifact("data", "dataset")
    for path in ("d/" * 3000 + "x", "y" * 256, "é" * 128, "/".join(["abcdefgh"] * 500), "a/" * 256 + "b"):
        with pytest.raises(ValidationError, match="no file system holds it") as caught:
            art.add_file(tmp_path / "f.txt", path)
        assert "\n" not in str(caught.value)
    art.add_file(tmp_path / "f.txt", "y" * 255)  # the limits themselves are fine
    art.add_file(tmp_path / "f.txt", "/".join(["d"] * 254) + "/x")
    with quire.init(project="p") as run:
        run.log_artifact(art)
    got = Path(quire.Api().artifact("p/data:v0").download(tmp_path / "out"))
    assert (got / ("y" * 255)).read_bytes() == b"data"


def _long_root(tmp_path: Path) -> Path:
    return tmp_path.joinpath(*["r" * 200] * 25)  # 5,000 bytes: beyond PATH_MAX


@pytest.mark.usefixtures("store_kind")
def test_download_into_a_too_long_root_is_one_line(tmp_path: Path) -> None:
    with quire.init(project="p") as run:
        run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files"))
    with pytest.raises(StoreError, match="too long for the file system") as caught:
        quire.Api().artifact("p/data:v0").download(_long_root(tmp_path))
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 1000
    _cli_in_process_fails(
        "artifact", "get", "p/data:v0", "--root", str(_long_root(tmp_path)), needles=("too long for the file system",)
    )


def _cli_in_process_fails(*args: str, needles: tuple[str, ...]) -> None:
    from typer.testing import CliRunner

    from quire.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.usefixtures("store_kind")
def test_full_cache_disk_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ENOSPC while the cache is written (injected: filling a real disk is not a test):
    # a one-line StoreError with the remedies, from Python and from the CLI.
    import errno

    from quire.core.cache import Cache

    with quire.init(project="p") as run:
        run.log_artifact(_log("data", {"a.txt": b"alpha"}, tmp_path / "files"))

    def full(self: Cache, path: Path, data: bytes, digest: str) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(Cache, "_write_temp", full)  # where a cold download writes the cache
    with pytest.raises(StoreError, match="no space left") as caught:
        quire.Api().artifact("p/data:v0").download(tmp_path / "out")
    message = str(caught.value)
    assert "quire cache cleanup" in message and "skip_cache=True" in message and "\n" not in message
    _cli_in_process_fails(
        "artifact",
        "get",
        "p/data:v0",
        "--root",
        str(tmp_path / "out2"),
        needles=("no space left", "quire cache cleanup"),
    )


def test_driver_errors_are_told_apart_by_code_not_text(tmp_path: Path) -> None:
    # Real SQLite errors: a lock held by another connection and a key a concurrent writer
    # took are worth another run of the transaction; a broken constraint whose message
    # says "locked" is not (the old rule looked for that word).
    from quire.store.sql.txn import is_transient

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db'}", connect_args={"timeout": 0})
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE a (id INTEGER PRIMARY KEY, state TEXT CONSTRAINT locked CHECK (state <> 'x'))"
        )
        conn.exec_driver_sql("INSERT INTO a VALUES (1, 'ok')")

    def error_of(statement: str) -> sa.exc.DBAPIError:
        with pytest.raises(sa.exc.DBAPIError) as caught, engine.begin() as conn:
            conn.exec_driver_sql(statement)
        return caught.value

    holder = engine.connect()
    holder.exec_driver_sql("BEGIN IMMEDIATE")
    busy = error_of("INSERT INTO a VALUES (2, 'ok')")
    holder.exec_driver_sql("ROLLBACK")
    holder.close()
    taken = error_of("INSERT INTO a VALUES (1, 'ok')")
    broken = error_of("INSERT INTO a VALUES (3, 'x')")
    assert "locked" in str(busy.orig) and "locked" in str(broken.orig)
    assert (is_transient(busy), is_transient(taken), is_transient(broken)) == (True, True, False)
