"""gc's safety (issue 10, items 7, 9 and 10): it never deletes what a live writer still
needs (writer leases, ``new_file``'s bytes, a patch's base), a blob store belongs to one
catalog (and gc never touches keys it cannot account for), and a gc that died holds
writers off only for its short lease, while they say what they wait for."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import quire
from backends import _admin, schema_url
from quire.core.gc import collect_garbage
from quire.errors import ArtifactNotFoundError, StoreError
from quire.store import close_stores, open_store
from quire.store.blobs import blob_key
from servers import behind, not_on_a_server
from support import files_of

BIG = 2 << 20  # a large blob: an object of its own, not in a pack


def log(artifact: quire.Artifact) -> quire.Artifact:
    with quire.init(project="p") as run:
        run.log_artifact(artifact)
    return artifact


def gc_now(store_url: str) -> list[str]:
    """gc with no grace period; the keys it deleted."""
    return [key for _, key, _ in collect_garbage(open_store(store_url), grace=0).deleted]


def expire_writer_leases(store_url: str) -> None:
    """Make every writer lease run out, as it does for a process suspended longer than
    its lease (nothing to do where there are no leases)."""
    catalog = open_store(behind(store_url)).catalog
    with catalog.engine.begin() as conn:
        if sa.inspect(conn).has_table("leases"):
            conn.execute(sa.text("DELETE FROM leases"))


def start(script: str, python_env: dict[str, str], cwd: Path, **env: str) -> subprocess.Popen[str]:
    """``script`` in a new Python process that imports quire from this checkout."""
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env={**python_env, **env},
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], expected: str) -> str:
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith(expected), f"the subprocess said {line!r} (exit code {proc.poll()})"
    return line


# -- item 7: a live writer's staged blobs, new_file's bytes, a patch's base ------------------


def test_an_open_drafts_staged_blobs_survive_gc(store_kind: str, store_url: str, tmp_path: Path) -> None:
    big, small = os.urandom(BIG), b"a small file\n" * 10
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(big)
    (src / "small.txt").write_bytes(small)
    draft = quire.Artifact("ds", "dataset")
    draft.add_file(src / "big.bin")
    draft.add_file(src / "small.txt")
    for path in src.iterdir():
        path.unlink()  # policy="mutable": the draft holds its own copy, the user may delete theirs
    deleted = gc_now(store_url)  # grace 0: only the draft's lease protects its blobs
    assert blob_key(draft.get_entry("big.bin").digest) not in deleted
    log(draft)
    assert files_of(draft.download(tmp_path / "out", skip_cache=True)) == {"big.bin": big, "small.txt": small}


WRITER = """
import sys, quire
draft = quire.Artifact("ds", "dataset")
with draft.new_file("big.bin", "wb") as f:
    f.write(bytes(range(256)) * 8192)
print("staged", draft.get_entry("big.bin").digest, flush=True)
sys.stdin.readline()
with quire.init(project="p") as run:
    run.log_artifact(draft)
print("logged", draft.version, flush=True)
"""


def test_a_writer_in_another_process_keeps_its_staged_blobs(
    store_kind: str, store_url: str, python_env: dict[str, str], tmp_path: Path
) -> None:
    with start(WRITER, python_env, tmp_path) as writer:
        digest = wait_for_line(writer, "staged").split()[1]
        assert blob_key(digest) not in gc_now(store_url)  # its lease protects what it staged
        writer.stdin.write("go\n")  # type: ignore[union-attr]
        writer.stdin.flush()  # type: ignore[union-attr]
        assert wait_for_line(writer, "logged").split()[1] == "v0"
    assert writer.returncode == 0
    version = quire.Api(overrides={"project": "p"}).artifact("ds:v0")
    out = version.download(tmp_path / "out", skip_cache=True)
    assert files_of(out) == {"big.bin": bytes(range(256)) * 8192}


@pytest.mark.slow
def test_a_dead_writers_lease_runs_out(
    store_kind: str, store_url: str, python_env: dict[str, str], tmp_path: Path
) -> None:
    with start(WRITER, python_env, tmp_path, QUIRE_WRITER_LEASE="1") as writer:
        digest = wait_for_line(writer, "staged").split()[1]
        writer.kill()  # kill -9: its lease is never dropped
    catalog = open_store(store_url).catalog
    while catalog.live_leases()[1]:  # runs out on the catalog's clock, renewed by no one
        time.sleep(0.1)
    assert blob_key(digest) in gc_now(store_url)


def test_new_file_keeps_its_bytes_until_the_commit(store_kind: str, store_url: str, tmp_path: Path) -> None:
    data = os.urandom(BIG)
    draft = quire.Artifact("ds", "dataset")
    with draft.new_file("model.bin", "wb") as f:
        f.write(data)
    staged = draft.get_entry("model.bin").local_path
    expire_writer_leases(store_url)  # e.g. the process was suspended longer than its lease
    assert blob_key(draft.get_entry("model.bin").digest) in gc_now(store_url)  # so its blob went
    log(draft)  # stored again from the file new_file kept
    assert files_of(draft.download(tmp_path / "out", skip_cache=True)) == {"model.bin": data}
    assert staged is not None and not Path(staged).exists()  # and gone once committed


def test_a_draft_of_a_deleted_and_collected_version_is_refused_at_log_time(
    store_kind: str, store_url: str, make_files, tmp_path: Path
) -> None:
    base = quire.Artifact("ds", "dataset")
    base.add_dir(make_files({"a.txt": "a\n", "big.bin": os.urandom(BIG)}))
    log(base)
    draft = base.new_draft()
    draft.remove("a.txt")  # stages nothing: it inherits big.bin from its base
    base.delete()
    assert gc_now(store_url)  # the base's pages and blobs are gone
    with pytest.raises(ArtifactNotFoundError, match=r"ds:v0, which this draft was made from, was deleted"):
        log(draft)
    assert quire.Api(overrides={"project": "p"}).artifact_versions("dataset", "ds") == []


# -- item 9: a blob store belongs to one catalog ------------------------------------------------


def new_catalog_on_the_same_blobs(store_kind: str, store_url: str, request: pytest.FixtureRequest) -> str:
    """Where a new, empty catalog on this store's blobs opens: the embedded store after
    its catalog.db was lost, or a second PostgreSQL catalog given the same QUIRE_BLOBS."""
    close_stores()
    if store_kind == "embedded":
        for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
            Path(store_url, name).unlink(missing_ok=True)
        return store_url
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        close_stores()
        with _admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (schema,)
            )
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    request.addfinalizer(drop)
    return schema_url(request.getfixturevalue("postgres_server"), schema)


def test_a_new_catalog_on_blobs_that_belong_to_another_is_refused(
    store_kind: str, store_url: str, make_files, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    not_on_a_server("a server's catalog and blobs are the store behind it, never given apart")
    art = quire.Artifact("ds", "dataset")
    art.add_dir(make_files({"a.txt": "a\n", "big.bin": os.urandom(BIG)}))
    log(art)
    keys = sorted(i.key for i in open_store(store_url).blobs.objects.list())
    other = new_catalog_on_the_same_blobs(store_kind, store_url, request)
    what = "catalog.db was lost or replaced" if store_kind == "embedded" else "belong to another catalog"
    with pytest.raises(StoreError, match=what) as caught:
        collect_garbage(open_store(other), grace=0)  # would take every blob for garbage
    assert "\n" not in str(caught.value)
    close_stores()
    objects = open_store(store_url) if store_kind != "embedded" else None
    if objects is not None:  # the first catalog still opens, and its blobs are all there
        assert sorted(i.key for i in objects.blobs.objects.list()) == keys
    else:
        blobs = Path(store_url, "blobs")
        assert (
            sorted(p.relative_to(blobs).as_posix() for p in blobs.rglob("*") if p.is_file() and p.parent.name != "tmp")
            == keys
        )


def test_gc_never_touches_keys_it_cannot_account_for(store_kind: str, store_url: str) -> None:
    objects = open_store(store_url).blobs.objects
    foreign = [
        "objects/notes.txt",
        "objects/ab/notes.txt",
        "objects/" + "a" * 64,
        "packs/README.md",
        "packs/mine.pack",
        "packs/0123.pack",
    ]
    for key in foreign:
        objects.put(key, b"a user's own file\n")
    if store_kind == "embedded":  # as old as can be: only their names can save them
        for key in foreign:
            os.utime(Path(store_url, "blobs", key), (0, 0))
    deleted = gc_now(store_url)
    assert [key for key in foreign if key in deleted] == []
    assert all(objects.exists(key) for key in foreign)


# -- item 10: a dead gc does not block writers --------------------------------------------------


STUCK_GC = """
import time
from quire.core.gc import collect_garbage
from quire.store import open_store
store = open_store()
def stuck(key):
    print("sweeping", flush=True)
    time.sleep(3600)  # until killed
store.blobs.delete = stuck
collect_garbage(store, grace=0)
"""


@pytest.mark.slow
def test_a_gc_killed_mid_sweep_holds_writers_off_only_for_its_lease(
    store_kind: str,
    store_url: str,
    python_env: dict[str, str],
    make_files,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    garbage = quire.Artifact("old", "dataset")
    garbage.add_dir(make_files({"big.bin": os.urandom(BIG)}, tmp_path / "old"))
    log(garbage)
    garbage.delete()  # something for the gc to delete
    # Made before the gc, logged the moment it died. Immutable: it stages nothing
    # (a lease of its own would keep the garbage from the gc), its log uploads.
    draft = quire.Artifact("new", "dataset")
    draft.add_dir(make_files({"a.txt": "after the gc\n"}, tmp_path / "new"), policy="immutable")
    with start(STUCK_GC, python_env, tmp_path, QUIRE_GC_LEASE="3") as gc:
        wait_for_line(gc, "sweeping")
        gc.kill()  # kill -9, mid-sweep: its lease is never ended
    with caplog.at_level(logging.WARNING, logger="quire"):
        log(draft)  # waits for the lease to run out (on the catalog's clock), then commits
    assert draft.version == "v0"
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for")]
    assert len(waits) == 1 and f"quire gc (pid {gc.pid} on " in waits[0] and "lease" in waits[0], waits
    assert files_of(draft.download(tmp_path / "out")) == {"a.txt": b"after the gc\n"}


@pytest.mark.slow
def test_a_live_gc_renews_its_short_lease(store_kind: str, store_url: str, make_files, tmp_path: Path) -> None:
    for n in range(6):  # six versions, then garbage: six large blobs to delete
        art = quire.Artifact(f"ds{n}", "dataset")
        art.add_dir(make_files({"big.bin": os.urandom(BIG)}, tmp_path / f"v{n}"))
        log(art)
        art.delete()
    store = open_store(store_url)
    real, seen = store.blobs.delete, []

    def slow_delete(key: str) -> None:  # together, the deletions outlast the lease
        seen.append(store.catalog.sweep())
        time.sleep(0.5)
        real(key)

    store.blobs.delete = slow_delete  # type: ignore[method-assign]
    try:
        report = collect_garbage(store, grace=0, lease=2.0)
    finally:
        del store.blobs.delete
    assert len(report.deleted) == len(seen) >= 6
    assert all(sweep is not None and "quire gc (pid" in sweep.holder for sweep in seen)
    assert store.catalog.sweep() is None and not store.catalog.gc_epoch().sweeping
