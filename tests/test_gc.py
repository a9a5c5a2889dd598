"""``gc``: what no version or contribution references goes, after a grace period; what
is referenced, or young, or being written by a concurrent writer, stays whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import quire
from quire.core import pages
from quire.core.gc import collect_garbage
from quire.errors import ConcurrentGCError
from quire.store import open_store
from quire.store.blobs import BlobStore, blob_key
from quire.store.catalog import Epoch, NewContribution
from support import patience, stored_bytes

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3


def log(artifact: quire.Artifact) -> quire.Artifact:
    with quire.init(project="p") as run:
        run.log_artifact(artifact)
    return artifact


@pytest.fixture
def two_versions(make_files):
    """``ds:v0`` (a large file and 40 small ones) and ``ds:v1`` (v0 without the large
    file and 30 of the small ones, plus one new small file)."""
    files = {f"small/{i:02d}.txt": f"small file {i}\n" * 50 for i in range(40)}
    files["large.bin"] = os.urandom(2 << 20)
    root = make_files(files)
    v0 = quire.Artifact("ds", "dataset")
    v0.add_dir(root)
    log(v0)
    draft = v0.new_draft()
    draft.remove("large.bin")
    for i in range(30):
        draft.remove(f"small/{i:02d}.txt")
    Path("new.txt").write_text("new\n")
    draft.add_file("new.txt", "small/new.txt")
    log(draft)
    return v0, draft


def test_gc_keeps_young_objects_and_referenced_ones(two_versions, store_url: str) -> None:
    v0, _v1 = two_versions
    v0.delete()
    report = collect_garbage(open_store(store_url))  # default grace: an hour
    assert report.deleted == [] and report.repacked == []
    assert report.young > 0


def test_gc_deletes_what_only_a_deleted_version_held(two_versions, store_url: str, tmp_path: Path) -> None:
    v0, v1 = two_versions
    store = open_store(store_url)
    assert collect_garbage(store, grace=0).freed == 0  # both versions hold everything
    large = v0.get_entry("large.bin").digest
    v0.delete()

    size_before = stored_bytes(store_url)
    dry = collect_garbage(store, grace=0, dry_run=True)
    assert ("blob", blob_key(large), 2 << 20) in dry.deleted
    assert dry.freed > 2 << 20
    assert stored_bytes(store_url) == size_before  # a dry run deletes nothing
    report = collect_garbage(store, grace=0)
    assert (report.deleted, report.repacked) == (dry.deleted, dry.repacked)
    assert size_before - stored_bytes(store_url) == report.freed
    assert report.repacked, "v0's pack is mostly garbage now: rewritten with what v1 holds"

    v1.verify(v1.download(tmp_path / "out"))
    assert collect_garbage(store, grace=0).freed == 0  # nothing left to do


def test_a_reader_holding_an_old_pack_index_still_reads_after_a_repack(two_versions, store_url: str) -> None:
    v0, v1 = two_versions
    stale = BlobStore(open_store(store_url).blobs.objects)  # a pack index of its own
    digest = v1.get_entry("small/35.txt").digest
    stale.read(digest)  # loads every pack index as it is now
    v0.delete()
    assert collect_garbage(open_store(store_url), grace=0).repacked
    assert stale.read(digest) == b"small file 35\n" * 50
    assert dict(stale.read_many([digest])) == {digest: b"small file 35\n" * 50}


def test_pending_contributions_keep_their_blobs(make_files, store_url: str, tmp_path: Path) -> None:
    root = make_files({"part.txt": "a contribution's file", "big.bin": b"B" * (2 << 20)})
    with quire.init(project="p", group="g") as run:
        art = quire.Artifact("ds", "dataset")
        art.add_dir(root)
        run.upsert_artifact(art)
    assert collect_garbage(open_store(store_url), grace=0).deleted == []
    with quire.init(project="p", group="g") as run:
        done = run.finish_artifact(quire.Artifact("ds", "dataset"))
    done.verify(done.download(tmp_path / "out"))


def gc_elsewhere(python_env: dict[str, str]) -> dict:
    """``quire gc --grace 0`` in another process (whose deletions this one does not see)."""
    done = subprocess.run(
        [sys.executable, "-m", "quire.cli", "gc", "--grace", "0", "--json"],
        env=python_env,
        capture_output=True,
        text=True,
        timeout=patience(1),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def garbage_and_a_draft_of_it(make_files, name: str) -> quire.Artifact:
    """A draft whose bytes were stored by a version since deleted: it finds them stored
    and writes nothing."""
    root = make_files({"a.txt": "the same bytes\n", "big.bin": b"B" * (2 << 20)})
    old = quire.Artifact("old", "dataset")
    old.add_dir(root)
    log(old)
    old.delete()  # its blobs are garbage now
    # Older than the draft's writer lease, by more than gc's margin for comparing the
    # catalog's clock with the object store's (S3 keeps whole seconds): else it is kept.
    time.sleep(2.5)
    draft = quire.Artifact(name, "dataset")
    draft.add_dir(root)
    return draft


@pytest.mark.slow
def test_a_writer_that_deduped_against_garbage_uploads_it_again(make_files, python_env, tmp_path: Path) -> None:
    """The race gc must not lose: gc deletes the blobs a draft deduped against before
    the draft commits."""
    draft = garbage_and_a_draft_of_it(make_files, "new")
    assert {d["kind"] for d in gc_elsewhere(python_env)["deleted"]} == {"blob", "pack"}
    log(draft)  # the commit notices the gc, uploads the two blobs again, then commits
    assert draft.version == "v0"
    draft.verify(draft.download(tmp_path / "out", skip_cache=True))


@pytest.mark.slow
def test_an_upsert_that_deduped_against_garbage_uploads_it_again(make_files, python_env, tmp_path: Path) -> None:
    draft = garbage_and_a_draft_of_it(make_files, "shared")
    assert gc_elsewhere(python_env)["deleted"]
    with quire.init(project="p", group="g") as run:
        run.upsert_artifact(draft)  # notices the gc: uploads them again
    with quire.init(project="p", group="g") as run:
        done = run.finish_artifact(quire.Artifact("shared", "dataset"))
    done.verify(done.download(tmp_path / "out", skip_cache=True))


def test_only_one_gc_sweeps_at_a_time(store_url: str) -> None:
    store = open_store(store_url)
    epoch = store.catalog.begin_sweep(store.catalog.gc_epoch(), lease=60)
    try:
        with pytest.raises(ConcurrentGCError, match="another gc is running"):
            collect_garbage(store, grace=0)
        assert store.catalog.gc_epoch().sweeping
    finally:
        store.catalog.end_sweep(epoch)
    assert store.catalog.gc_epoch() == Epoch(epoch)


@pytest.mark.slow
def test_the_sweep_lease_runs_on_the_catalogs_clock(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hosts sharing a team catalog disagree about the time: one whose clock runs an hour
    # ahead must still see a running sweep (and write nothing beside it), and a lease
    # is over when the catalog's clock says so.
    store = open_store(store_url)
    epoch = store.catalog.begin_sweep(store.catalog.gc_epoch(), lease=2)
    monkeypatch.setattr(time, "time", lambda: time.monotonic() + 1e10)  # a skewed client clock
    try:
        assert store.catalog.gc_epoch().sweeping
        with pytest.raises(ConcurrentGCError):
            store.catalog.add_contribution(
                "p", "c", "dataset", "g", NewContribution(None, "0" * 64, 0, 0), Epoch(epoch)
            )
    finally:
        monkeypatch.undo()
    time.sleep(2.2)
    assert store.catalog.gc_epoch() == Epoch(epoch)  # the lease ran out, on the catalog's clock
    store.catalog.end_sweep(epoch)


WRITER = """
import sys, os, quire
from pathlib import Path
for n in range(int(sys.argv[1])):
    folder = Path(f"data{n}")
    folder.mkdir()
    for i in range(60):  # the same bytes every round: later rounds dedup against earlier ones
        (folder / f"{i}.txt").write_text(f"row {i}\\n" * 20)
    (folder / f"round.txt").write_text(f"round {n}\\n")
    (folder / "big.bin").write_bytes(bytes([n % 256]) * (1 << 20) + b"x")
    with quire.init(project="p") as run:
        art = quire.Artifact(f"ds{n % 3}", "dataset")
        art.add_dir(folder)
        run.log_artifact(art)
    if n % 3 == 2:
        quire.Api(overrides={"project": "p"}).artifact(f"ds{n % 3}:latest").delete()
print("done", flush=True)
"""


@pytest.mark.slow
def test_gc_racing_a_writer_leaves_every_version_whole(tmp_path: Path, python_env, store_url: str) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), "12"], env=python_env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    store = open_store(store_url)
    runs = 0
    while writer.poll() is None:
        try:  # grace 0: even the writer's fresh, uncommitted blobs are fair game
            collect_garbage(store, grace=0)
            runs += 1
        except ConcurrentGCError:
            pass
        time.sleep(0.05)
    assert writer.stdout.read().strip() == "done"
    writer.stdout.close()
    assert writer.returncode == 0 and runs >= 3
    api = quire.Api(overrides={"project": "p"})
    for name in ("ds0", "ds1"):
        for version in api.artifact_versions("dataset", name):
            version.verify(version.download(tmp_path / f"check-{name}-{version.version}"))
    collect_garbage(store, grace=0)
    for name in ("ds0", "ds1"):
        latest = api.artifact(f"{name}:latest")
        latest.verify(latest.download(tmp_path / f"after-{name}"))


def test_cli_gc_dry_run_lists_then_gc_deletes(two_versions, store_url: str) -> None:
    from typer.testing import CliRunner

    from quire.cli import app

    v0, _ = two_versions
    v0.delete()
    runner = CliRunner()
    kept = runner.invoke(app, ["gc"])  # the default grace period: everything is young
    assert kept.exit_code == 0 and "Freed 0 B" in kept.stdout, kept.output
    before = stored_bytes(store_url)
    dry = runner.invoke(app, ["gc", "--grace", "0", "--dry-run"])
    assert dry.exit_code == 0 and "Would free 2." in dry.stdout and "objects/" in dry.stdout, dry.output
    assert stored_bytes(store_url) == before
    done = json.loads(runner.invoke(app, ["gc", "--grace", "0s", "--json"]).stdout)
    assert done["freed_bytes"] == before - stored_bytes(store_url) > 2 << 20
    bad = runner.invoke(app, ["gc", "--grace", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_gc_of_a_damaged_store_deletes_nothing(two_versions, store_url: str) -> None:
    v0, _v1 = two_versions
    v0.delete()
    objects = open_store(store_url).blobs.objects
    for info in list(objects.list("packs/")):
        if info.key.endswith(".idx"):
            objects.delete(info.key)  # every pack index gone: no manifest can be read
    pages._cache.clear()  # as in a new process
    open_store(store_url).blobs.reload()
    before = stored_bytes(store_url)
    with pytest.raises(OSError, match="damaged, so gc deleted nothing"):
        collect_garbage(open_store(store_url), grace=0)
    assert stored_bytes(store_url) == before
    assert not open_store(store_url).catalog.gc_epoch().sweeping  # no sweep left holding writers off
