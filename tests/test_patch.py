"""Patch mode: ``new_draft()`` and ``incremental=True`` make a version from the previous
one at the cost of the change (files hashed, bytes stored, manifest pages written)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import quire
from quire.errors import ArtifactNotFoundError, ArtifactNotLoggedError, ValidationError
from quire.store import open_store
from support import patience, process_start, stored_bytes

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3


def log(artifact: quire.Artifact) -> quire.Artifact:
    with quire.init(project="p") as run:
        run.log_artifact(artifact)
    return artifact


def api_artifact(address: str) -> quire.Artifact:
    return quire.Api(overrides={"project": "p"}).artifact(address)


@pytest.fixture
def v0(make_files) -> quire.Artifact:
    """``ds:v0``: 30 small files in 3 folders; the local copies are deleted afterwards."""
    root = make_files({f"d{i % 3}/f{i:02d}.txt": f"file {i}\n" for i in range(30)}, root=Path("src"))
    art = quire.Artifact("ds", "dataset")
    art.add_dir(root)
    log(art)
    for path in sorted(root.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    root.rmdir()
    return art


def test_new_draft_remove_and_add_makes_a_version_with_exactly_the_edit(v0, tmp_path: Path) -> None:
    # The unchanged files no longer exist locally: the draft does not need them.
    draft = v0.new_draft()
    draft.remove("d0/f00.txt")
    draft.remove("d1")  # a folder
    Path("new.txt").write_text("new\n")
    draft.add_file("new.txt", "d2/new.txt")
    Path("f02.txt").write_text("changed\n")
    draft.add_file("f02.txt", "d2/f02.txt", overwrite=True)
    log(draft)

    v1 = api_artifact("ds:latest")
    assert (v1.version, v1.parent.version, draft.parent.version) == ("v1", "v0", "v0")
    diff = v0.diff(v1)
    assert [e.path for e in diff.added] == ["d2/new.txt"]
    assert [e.path for e in diff.removed] == ["d0/f00.txt"] + [f"d1/f{i:02d}.txt" for i in range(1, 30, 3)]
    assert [(a.path, a.size, b.size) for a, b in diff.changed] == [("d2/f02.txt", 7, 8)]
    assert v1.file_count == 30 - 1 - 10 + 1
    root = Path(v1.download(tmp_path / "out"))
    v1.verify(root)
    assert (root / "d2/f02.txt").read_text() == "changed\n"
    assert (root / "d0/f03.txt").read_text() == "file 3\n"  # unchanged, from the store
    assert v0.parent is None
    assert v1.diff(v0).added == diff.removed  # the other way round


def test_re_adding_a_whole_folder_onto_a_draft_keeps_only_the_change(make_files, store_url: str) -> None:
    files = {f"d{i % 4}/f{i:04d}.txt": f"row {i}\n" for i in range(1500)}
    root = make_files(files)
    art = quire.Artifact("ds", "dataset")
    art.add_dir(root)
    log(art)
    (root / "d1/f0001.txt").write_text("edited\n")
    draft = art.new_draft()
    draft.add_dir(root, merge=True)  # every file again; only one differs
    assert [e.path for e in draft.manifest.fresh_entries()] == ["d1/f0001.txt"]
    before = stored_bytes(store_url)
    log(draft)
    assert [(a.path, b.path) for a, b in art.diff(draft).changed] == [("d1/f0001.txt", "d1/f0001.txt")]
    assert stored_bytes(store_url) - before < 48_000  # the file and a few pages (the manifest: ~140 KB)


def test_a_patch_that_changes_nothing_is_the_parent(v0) -> None:
    draft = v0.new_draft()
    Path("same.txt").write_text("file 4\n")
    draft.add_file("same.txt", "d1/f04.txt", overwrite=True)  # the same bytes again
    log(draft)
    assert draft.version == "v0"
    assert [v.version for v in quire.Api(overrides={"project": "p"}).artifact_versions("dataset", "ds")] == ["v0"]


def test_bad_patches_fail_before_anything_is_written(v0, store_url: str) -> None:
    with pytest.raises(ArtifactNotLoggedError, match="draft: log it"):
        quire.Artifact("x", "dataset").new_draft()
    draft = v0.new_draft()
    with pytest.raises(ArtifactNotFoundError, match="no such path") as err:
        draft.remove("d0/nope.txt")
    assert isinstance(err.value, KeyError)
    Path("other.txt").write_text("other\n")
    with pytest.raises(ValidationError, match="overwrite=True"):
        draft.add_file("other.txt", "d0/f00.txt")
    before = stored_bytes(store_url)
    log(draft)  # nothing changed after all
    assert draft.version == "v0"
    assert stored_bytes(store_url) == before
    with pytest.raises(quire.ArtifactFinalizedError, match="new_draft"):
        v0.remove("d0/f00.txt")


def test_a_patch_making_a_path_both_file_and_folder_is_refused(v0) -> None:
    Path("x.txt").write_text("x\n")
    draft = v0.new_draft()
    draft.add_file("x.txt", "d0")  # a file where the folder d0 is
    with pytest.raises(ValidationError, match="both a file and a folder"):
        log(draft)
    inc = quire.Artifact("ds", "dataset", incremental=True)
    inc.add_file("x.txt", "d1/f01.txt/x.txt")  # below a file of the latest version
    with pytest.raises(ValidationError, match="both a file and a folder"):
        log(inc)
    assert api_artifact("ds:latest").version == "v0"


def test_a_small_patch_of_a_large_artifact_stores_about_the_change(tmp_path: Path, store_url: str) -> None:
    data = tmp_path / "big"
    data.mkdir()
    for i in range(200):  # 50 MiB in 256 KiB files
        (data / f"part{i:03d}.bin").write_bytes(os.urandom(256 << 10))
    art = quire.Artifact("big", "dataset")
    art.add_dir(data)
    log(art)
    before = stored_bytes(store_url)
    assert before > 50 << 20

    draft = art.new_draft()
    (tmp_path / "patch.bin").write_bytes(os.urandom(256 << 10))
    draft.add_file(tmp_path / "patch.bin", "part007.bin", overwrite=True)
    log(draft)
    grown = stored_bytes(store_url) - before
    assert draft.version == "v1"
    assert 256 << 10 <= grown < (256 << 10) + (32 << 10), grown


@pytest.mark.slow
def test_a_one_entry_patch_writes_metadata_that_does_not_grow_with_the_version(store_url: str) -> None:
    """A 1-entry patch writes a few pages (one per level of the tree), not the manifest:
    the 1,000,000-entry figure is in bench/patch.py."""
    from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest

    blobs = open_store(store_url).blobs
    full, written = {}, {}
    for n in (5_000, 100_000):
        before = stored_bytes(store_url)
        root = save_manifest(blobs, Manifest(Entry(f"d{i % 100:03d}/f{i:07d}.bin", "ab" * 32, 4096) for i in range(n)))
        full[n] = stored_bytes(store_url) - before
        manifest = load_manifest(blobs, root)
        manifest.put(Entry("d042/new.bin", "cd" * 32, 10))
        before = stored_bytes(store_url)
        save_manifest(blobs, manifest)
        written[n] = stored_bytes(store_url) - before
    assert full[100_000] > 9_000_000
    assert written[100_000] < 100_000 and written[5_000] < 50_000, written


@pytest.mark.slow
def test_reading_one_entry_or_folder_of_a_large_version_reads_few_pages(store_url: str, monkeypatch) -> None:
    from quire.core import pages
    from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest

    blobs = open_store(store_url).blobs
    entries = [Entry(f"d{i % 200:03d}/f{i:06d}.bin", f"{i:064x}", i) for i in range(50_000)]
    root = save_manifest(blobs, Manifest(entries))
    reads: list[str] = []
    real_read = blobs.read
    monkeypatch.setattr(blobs, "read", lambda d: reads.append(d) or real_read(d))
    pages._cache.clear()

    manifest = load_manifest(blobs, root)
    assert len(manifest) == 50_000 and manifest.size == sum(range(50_000))
    assert manifest.get("d007/f001007.bin") == entries[1007]
    assert len(reads) <= 3, "one page per level"
    folder = manifest.under("d007")
    assert [e.path for e in folder] == sorted(e.path for e in entries if e.path.startswith("d007/"))
    assert len(reads) < 20, "only the pages that cover the folder"
    assert manifest.digest == Manifest(entries).digest
    assert len(manifest.entries) == 50_000  # and everything is still there


def test_incremental_drafts_overlay_the_latest_version_and_record_deletions(v0) -> None:
    inc = quire.Artifact("ds", "dataset", incremental=True)
    Path("day.txt").write_text("day 1\n")
    inc.add_file("day.txt", "days/1.txt")
    inc.remove("d0")  # not in this draft: a deletion from the latest version
    log(inc)
    got = api_artifact("ds:latest")
    assert got.version == "v1" and got.parent.version == "v0"
    assert got.file_count == 30 - 10 + 1
    assert "days/1.txt" in got.manifest and not got.manifest.under("d0")

    again = quire.Artifact("ds", "dataset", incremental=True)
    again.remove("days/1.txt")
    Path("x.txt").write_text("x\n")
    again.add_file("x.txt", "days/1.txt")  # removed then added in one draft: the add wins
    again.add_file("x.txt", "days/2.txt")
    again.remove("days/2.txt")  # added then removed: it goes
    log(again)
    assert sorted(e.path for e in api_artifact("ds:latest").manifest.under("days")) == ["days/1.txt"]


APPEND = """
import sys, time, quire
from pathlib import Path
i, start = int(sys.argv[1]), float(sys.argv[2])
Path(f"part{i}.txt").write_text(f"part {i}\\n")
with quire.init(project="p") as run:
    art = quire.Artifact("growing", "dataset", incremental=True)
    art.add_file(f"part{i}.txt", f"parts/{i}.txt")
    while time.time() < start:
        time.sleep(0.005)
    run.log_artifact(art)
"""


@pytest.mark.slow
def test_eight_processes_appending_at_once_lose_nothing(tmp_path: Path, python_env) -> None:
    script = tmp_path / "append.py"
    script.write_text(APPEND)
    start = time.time() + max(
        4, 8 * process_start()
    )  # all eight are ready (imported, added) by then, then commit at once
    procs = [subprocess.Popen([sys.executable, str(script), str(i), str(start)], env=python_env) for i in range(8)]
    assert [p.wait(timeout=patience(8)) for p in procs] == [0] * 8
    versions = quire.Api(overrides={"project": "p"}).artifact_versions("dataset", "growing")
    assert len(versions) == 8
    latest = api_artifact("growing:latest")
    assert sorted(e.path for e in latest.manifest) == [f"parts/{i}.txt" for i in range(8)]
    assert sorted(v.parent.version for v in versions if v.parent) == [f"v{i}" for i in range(7)]


KILLED = """
import os, time, uuid, quire
from quire.store import blobs
def stall(self, spool):  # positions the kill: after the pack, before its index
    spool.close()
    key = f"packs/{uuid.uuid4().hex}.pack"  # named as writers name packs
    self.objects.put_file(key, spool.path)  # the pack, but never its index
    print("uploading", key, flush=True)
    time.sleep(600)
blobs.BlobStore._write_pack = stall
with quire.init(project="p") as run:
    art = quire.Api(overrides={"project": "p"}).artifact("ds:latest").new_draft()
    open("big.bin", "wb").write(os.urandom(3 << 20))
    art.add_file("big.bin", "big.bin")  # a large blob: stored whole, at once
    open("small.bin", "wb").write(b"small" * 100)
    art.add_file("small.bin", "small.bin")
    run.log_artifact(art)  # flushes the pack: stalls there
"""


def test_a_patch_killed_mid_upload_leaves_no_version_and_a_consistent_store(
    v0, tmp_path: Path, python_env, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    # A short writer lease: the killed writer's protects its blobs only that long.
    proc = subprocess.Popen(
        [sys.executable, str(script)], env={**python_env, "QUIRE_WRITER_LEASE": "1"}, stdout=subprocess.PIPE, text=True
    )
    said, stalled = proc.stdout.readline().split()
    assert said == "uploading"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=patience(1))
    proc.stdout.close()

    assert api_artifact("ds:latest").version == "v0"
    assert len(quire.Api(overrides={"project": "p"}).artifact_versions("dataset", "ds")) == 1
    v0.verify(v0.download(tmp_path / "out"))
    draft = v0.new_draft()  # the store works as before
    Path("small.bin").write_bytes(b"small" * 100)
    draft.add_file("small.bin", "small.bin")
    log(draft)
    assert draft.version == "v1" and "small.bin" in draft.manifest

    from quire.core import gc

    while open_store(store_url).catalog.live_leases()[1]:  # the dead writer's runs out
        time.sleep(0.1)
    objects = open_store(store_url).blobs.objects
    report = gc.collect_garbage(open_store(store_url), grace=0)
    assert [kind for kind, _, _ in report.deleted] == ["blob"]  # the large blob nothing references
    assert objects.exists(stalled), "a pack without its index may be a live writer's: kept an hour"
    monkeypatch.setattr(gc, "IN_FLIGHT", 0)  # an hour later (a bucket's mtimes cannot be set back)
    kinds = [kind for kind, _, _ in gc.collect_garbage(open_store(store_url), grace=0).deleted]
    # (and "temp": a bucket store stages in one folder per user, where other tests'
    # killed writers left files)
    assert [kind for kind in kinds if kind != "temp"] == ["stray"]
    assert not objects.exists(stalled)
    draft.verify(draft.download(tmp_path / "out2"))


def test_daily_scraper_appends_a_part_each_day_and_the_latest_reads_all_days() -> None:
    # Each day is a run of its own; it appends that day's rows as one more table part.
    for day in range(1, 6):
        rows = [[day, i, f"item-{day}-{i}"] for i in range(3)]
        with quire.init(project="p", job_type="scrape") as run:
            art = quire.Artifact("golden", "dataset", incremental=True)
            art.add(quire.Table(columns=["day", "i", "item"], data=rows), f"parts/day{day:03d}")
            art.add(quire.PartitionedTable("parts"), "golden")
            run.log_artifact(art)
        assert art.version == f"v{day - 1}"
        if day > 1:
            diff = art.parent.diff(art)
            assert ([e.path for e in diff.added], diff.removed) == ([f"parts/day{day:03d}.table.parquet"], [])

    latest = api_artifact("golden:latest")
    table = latest.get("golden")
    assert [(row[0], row[1]) for _, row in table.iterrows()] == [(d, i) for d in range(1, 6) for i in range(3)]
    assert table.to_arrow().column("item").to_pylist()[-1] == "item-5-2"
    assert [v.version for v in [latest, latest.parent, latest.parent.parent]] == ["v4", "v3", "v2"]


def test_a_draft_must_be_logged_to_its_parents_store(v0, tmp_path: Path) -> None:
    draft = v0.new_draft()
    draft.remove("d0")
    with quire.init(project="p", store=tmp_path / "elsewhere") as run:
        with pytest.raises(ValidationError, match="log it to that store"):
            run.log_artifact(draft)


def test_format_1_manifests_still_read_and_patch(store_url: str) -> None:
    from quire.core.manifest import Entry, Manifest, load_manifest, save_manifest

    blobs = open_store(store_url).blobs
    old = Manifest(Entry(f"f{i:04d}", f"{i:064x}", i) for i in range(1000))
    root = blobs.put_bytes(old.to_bytes())  # one blob, as format 1 stored every manifest
    loaded = load_manifest(blobs, root)
    assert loaded.entries == old.entries and loaded.digest == old.digest
    loaded = load_manifest(blobs, root)
    loaded.pop("f0000")
    edited = save_manifest(blobs, loaded)
    assert list(load_manifest(blobs, edited).entries) == [f"f{i:04d}" for i in range(1, 1000)]
    assert edited == save_manifest(blobs, Manifest(Entry(f"f{i:04d}", f"{i:064x}", i) for i in range(1, 1000)))


def test_cli_diff_and_versions_show_the_patch(v0) -> None:
    from typer.testing import CliRunner

    from quire.cli import app

    draft = v0.new_draft()
    draft.remove("d0")
    Path("new.txt").write_text("new\n")
    draft.add_file("new.txt", "d1/new.txt")
    Path("f01.txt").write_text("a longer first file\n")
    draft.add_file("f01.txt", "d1/f01.txt", overwrite=True)
    log(draft)

    runner = CliRunner()
    result = runner.invoke(app, ["artifact", "diff", "p/ds:v0", "p/ds:v1", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert (got["old"], got["new"]) == ("p/ds:v0", "p/ds:v1")
    assert [a["path"] for a in got["added"]] == ["d1/new.txt"]
    assert [r["path"] for r in got["removed"]] == [f"d0/f{i:02d}.txt" for i in range(0, 30, 3)]
    assert [(c["path"], c["old_size"], c["size"]) for c in got["changed"]] == [("d1/f01.txt", 7, 20)]

    text = runner.invoke(app, ["artifact", "diff", "p/ds:v0", "p/ds:latest"]).stdout
    assert "1 added, 10 removed, 1 changed" in text and "d1/f01.txt" in text
    same = runner.invoke(app, ["artifact", "diff", "p/ds:v1", "p/ds:latest"]).stdout
    assert "0 added, 0 removed, 0 changed" in same

    versions = json.loads(runner.invoke(app, ["artifact", "versions", "p/ds", "--json"]).stdout)
    assert [(v["version"], v["parent"]) for v in versions] == [("v0", None), ("v1", "v0")]
    missing = runner.invoke(app, ["artifact", "diff", "p/ds:v0", "p/ds:v7"])
    assert missing.exit_code == 1 and "no version 'v7'" in missing.stderr
