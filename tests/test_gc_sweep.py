"""gc in bounded memory (issue 13, item 2): the live set holds digests' 8-byte prefixes,
and the sweep reads one pack's index at a time. What that must never cost: a live blob.
A prefix shared by a live and a garbage blob keeps the garbage; a gc killed anywhere in
its sweep leaves every live blob readable; a long walk still finds every live blob."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import quire
from quire.core import gc as gc_module
from quire.core import gc_mark
from quire.core.gc import GCReport, collect_garbage
from quire.core.gc_mark import LiveSet
from quire.errors import ConcurrentGCError
from quire.store import close_stores, open_store
from quire.store.blobs import BlobStore, blob_key
from quire.store.objects import ObjectStore
from quire.store.packs import index_bytes
from servers import behind
from support import files_of, patience

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

LIVE = b"the one live small file\n"


def log(artifact: quire.Artifact) -> quire.Artifact:
    with quire.init(project="p") as run:
        run.log_artifact(artifact)
    return artifact


@pytest.fixture
def mostly_garbage(make_files) -> quire.Artifact:
    """``ds:v1``, one small file (plus a large one) left of ``ds:v0``'s forty-one, whose
    pack is mostly garbage now (``ds:v0`` is deleted): gc rewrites it."""
    files: dict[str, bytes | str] = {f"junk/{i:02d}.txt": f"garbage {i}\n" * 60 for i in range(40)}
    files["keep.txt"] = LIVE
    files["big.bin"] = b"L" * (2 << 20)
    v0 = quire.Artifact("ds", "dataset")
    v0.add_dir(make_files(files))
    log(v0)
    v1 = v0.new_draft()
    for i in range(40):
        v1.remove(f"junk/{i:02d}.txt")
    log(v1)
    v0.delete()
    return v1


def plant_pack(objects: ObjectStore, blobs: list[tuple[str, bytes]]) -> str:
    """A pack holding ``blobs`` (digest, bytes) as a writer would name it; its key."""
    pack_id = uuid.uuid4().hex
    slots, offset = [], 0
    for digest, data in blobs:
        slots.append((digest, (offset, len(data))))
        offset += len(data)
    objects.put(f"packs/{pack_id}.pack", b"".join(data for _, data in blobs))
    objects.put(f"packs/{pack_id}.idx", index_bytes(slots))
    return f"packs/{pack_id}.pack"


def twin(digest: str) -> str:
    """Another digest with the same first 8 bytes (a prefix collision, made to order)."""
    tail = "0" * 48 if digest[16:] != "0" * 48 else "1" * 48
    return digest[:16] + tail


@pytest.mark.parametrize("where", ["own pack", "beside a copy", "large blob"])
def test_a_prefix_collision_keeps_the_garbage_and_never_loses_the_live_blob(
    where: str, mostly_garbage: quire.Artifact, store_url: str, tmp_path: Path
) -> None:
    """Garbage sharing a live blob's prefix: in a pack of its own (which then looks all
    live, so it stays, and must not make gc think the live blob is held there), in a
    pack beside a second copy of the live blob, or as a large blob."""
    live = mostly_garbage.get_entry("keep.txt").digest
    objects = open_store(behind(store_url)).blobs.objects  # planted behind a server's checks
    if where == "own pack":
        planted = plant_pack(objects, [(twin(live), b"garbage, whatever its digest says")])
    elif where == "beside a copy":
        planted = plant_pack(objects, [(live, LIVE), (twin(live), b"more garbage")])
    else:
        planted = blob_key(twin(mostly_garbage.get_entry("big.bin").digest))
        objects.put(planted, b"a large blob's garbage")

    report = collect_garbage(open_store(store_url), grace=0)
    assert report.repacked, "ds:v0's pack holds one live blob of forty-one: rewritten"
    assert planted not in {key for _, key, _ in report.deleted} and objects.exists(planted)
    fresh = BlobStore(open_store(store_url).blobs.objects)  # another process, in effect
    assert fresh.read(live) == LIVE
    root = mostly_garbage.download(tmp_path / "out", skip_cache=True)
    mostly_garbage.verify(root)
    assert files_of(root)["keep.txt"] == LIVE


def test_the_live_set_loses_nothing_when_it_spills_and_merges(
    make_files, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefixes go to arrays a few at a time and are merged as they pile up: with runs of
    three, every blob and page of three versions (which share most entries) is still in."""
    for n in range(3):
        art = quire.Artifact(f"ds{n}", "dataset")
        art.add_dir(make_files({f"f{i}.txt": f"file {i}\n" for i in range(20 + n)}, Path(f"src{n}")))
        log(art)
    monkeypatch.setattr(gc_mark, "RUN", 3)
    store = open_store(store_url)
    live = LiveSet(store)
    live.add(store.catalog.roots())
    digests = {e.digest for n in range(3) for e in quire.Api().artifact(f"p/ds{n}:v0").manifest.entries.values()}
    assert len(digests) == 22  # f0…f21: the versions share their files
    assert all(live.holds_digest(d) for d in digests | live.pages)
    assert len(live) == len(digests) + len(live.pages)
    assert not live.holds_digest(twin(sorted(digests)[0])[:15] + "f" * 49)


KILLED_GC = """
import os, sys, time
from quire.core.gc import GCReport, collect_garbage
from quire.store import close_stores, open_store
store = open_store()
objects = store.blobs.objects
real, left = objects.delete, int(sys.argv[1])
def dying(key):
    global left
    if left == 0:
        print("killing me now", flush=True)
        time.sleep(3600)  # until killed
    left -= 1
    real(key)
objects.delete = dying
collect_garbage(store, grace=0)
print("done", flush=True)
"""


@pytest.mark.parametrize("deletions", [0, 2, 3, 4])
def test_a_gc_killed_mid_sweep_leaves_every_live_blob_readable(
    deletions: int, mostly_garbage: quire.Artifact, store_url: str, python_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed (kill -9) after ``deletions`` of the five objects it deletes went: a large
    blob, a pack of garbage pages (its index, then the pack), then, once the new pack is
    written, the rewritten pack's index and the pack."""
    garbage = quire.Artifact("old", "dataset")
    garbage.add_file(_write(tmp_path / "old.bin", os.urandom(2 << 20)))
    log(garbage)
    garbage.delete()  # a large blob to delete too, and its manifest's pack
    dry = collect_garbage(open_store(store_url), grace=0, dry_run=True)
    assert [kind for kind, _, _ in dry.deleted] == ["blob", "pack"] and len(dry.repacked) == 1
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_GC, str(deletions)],
        env={**python_env, "QUIRE_GC_LEASE": "1"},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    ) as gc:
        said = gc.stdout.readline()  # type: ignore[union-attr]
        assert said.startswith("killing me now"), f"the gc said {said!r}: fewer than {deletions} deletions?"
        gc.kill()
    close_stores()  # what a new process sees: no pack index loaded before the gc
    assert BlobStore(open_store(store_url).blobs.objects).read(mostly_garbage.get_entry("keep.txt").digest) == LIVE
    root = mostly_garbage.download(tmp_path / "after-kill", skip_cache=True)
    mostly_garbage.verify(root)
    _gc_once_its_lease_ran_out(store_url)  # the next gc finishes the job
    fresh = BlobStore(open_store(store_url).blobs.objects)
    assert fresh.read(mostly_garbage.get_entry("keep.txt").digest) == LIVE
    mostly_garbage.verify(mostly_garbage.download(tmp_path / "after-gc", skip_cache=True))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _gc_once_its_lease_ran_out(store_url: str) -> GCReport:
    """gc, retried while the killed gc's lease (a second) still runs."""
    deadline = time.monotonic() + patience(10)
    while True:
        try:
            return collect_garbage(open_store(store_url), grace=0)
        except ConcurrentGCError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_packs_are_rewritten_a_batch_at_a_time(
    make_files, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three packs, each mostly garbage, rewritten one batch of live blobs at a time."""
    kept = []
    for n in range(3):
        files: dict[str, bytes | str] = {f"junk/{i:02d}.txt": f"garbage {n}.{i}\n" * 60 for i in range(20)}
        files["keep.txt"] = f"live {n}\n"
        v0 = quire.Artifact(f"ds{n}", "dataset")
        v0.add_dir(make_files(files, tmp_path / f"src{n}"))
        log(v0)
        v1 = v0.new_draft()
        for i in range(20):
            v1.remove(f"junk/{i:02d}.txt")
        kept.append(log(v1))
        v0.delete()
    monkeypatch.setattr(gc_module, "REPACK_BATCH", 1)
    store = open_store(store_url)
    calls = []
    real = store.blobs.repack
    monkeypatch.setattr(
        store.blobs, "repack", lambda packs, keep, **kw: calls.append(len(list(keep))) or real(packs, keep, **kw)
    )
    report = collect_garbage(store, grace=0)
    assert len(report.repacked) == 3 and len(calls) == 3 and all(calls)
    close_stores()
    for n, version in enumerate(kept):
        assert files_of(version.download(tmp_path / f"out{n}", skip_cache=True)) == {"keep.txt": f"live {n}\n".encode()}
