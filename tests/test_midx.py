"""The combined pack index (``packs/<digest>.midx``): lookups from it, and every way it
can be missing, damaged, stale, half-written or written twice at once."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

import quire
from quire.cli import app
from quire.core.gc import collect_garbage
from quire.errors import BlobNotFoundError, StoreError
from quire.hashing import hash_bytes
from quire.store import blobs as blobs_module
from quire.store import open_store
from quire.store.blobs import BlobStore
from quire.store.midx import HEADER, PACK_ROW, TRAILER, CombinedIndex
from quire.store.objects import Capabilities, LocalObjects
from support import files_of, log_files

runner = CliRunner()


def store_in(root: Path) -> BlobStore:
    """A fresh blob store over the folder ``root``: nothing of another's memory."""
    return BlobStore(LocalObjects(root))


def write_packs(blobs: BlobStore, packs: int, per_pack: int, seed: int = 0) -> dict[str, bytes]:
    """``packs`` packs of ``per_pack`` small random blobs each; digest → bytes."""
    rng = random.Random(seed)
    held = {}
    for _ in range(packs):
        with blobs.writer() as writer:
            for _ in range(per_pack):
                data = rng.randbytes(rng.randrange(1, 200))
                held[writer.add_bytes(data)] = data
    return held


def midx_files(root: Path) -> list[Path]:
    return sorted((root / "packs").glob("*.midx"))


def assert_serves(root: Path, held: dict[str, bytes]) -> BlobStore:
    """A fresh process's view of the store finds every blob, with the right bytes."""
    blobs = store_in(root)
    assert blobs.missing({d: len(b) for d, b in held.items()}) == set()
    assert blobs.missing({d: len(b) + 1 for d, b in held.items()}) == set(held)  # the size counts
    assert dict(blobs.read_many(list(held))) == held
    assert all(blobs.read(d) == b for d, b in list(held.items())[:20])
    return blobs


def test_lookups_come_from_the_combined_index_without_reading_pack_indexes(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    held = write_packs(store_in(root), packs=6, per_pack=50)
    done = store_in(root).consolidate()
    assert done.written and (done.packs, done.rows, done.newer) == (6, 300, 6)
    assert [p.name for p in midx_files(root)] == [done.key.removeprefix("packs/")]  # type: ignore[union-attr]
    blobs = assert_serves(root, held)
    assert blobs._loaded == set() and blobs._index == {}  # no pack index was read whole
    # Consolidating again finds nothing to do, and writes nothing.
    again = store_in(root).consolidate()
    assert (again.key, again.written) == (done.key, False)


def test_packs_written_after_the_combined_index_are_read_one_by_one(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    held = write_packs(store_in(root), packs=3, per_pack=20)
    store_in(root).consolidate()
    held |= write_packs(store_in(root), packs=2, per_pack=20, seed=1)
    blobs = assert_serves(root, held)
    assert len(blobs._loaded) == 2  # only the newer packs' indexes
    done = blobs.consolidate()
    assert (done.packs, done.newer, len(done.merged), len(done.deleted)) == (5, 2, 1, 1)
    assert len(midx_files(root)) == 1
    assert store_in(root)._loaded == set()


def test_a_writer_combines_the_newer_packs_once_there_are_many(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(blobs_module, "NEWER_PACKS", 4)
    root = tmp_path / "blobs"
    blobs = store_in(root)
    held = write_packs(blobs, packs=3, per_pack=5)
    assert midx_files(root) == []
    held |= write_packs(blobs, packs=1, per_pack=5, seed=1)  # the fourth
    assert len(midx_files(root)) == 1 and blobs._loaded == set()
    held |= write_packs(blobs, packs=9, per_pack=5, seed=2)
    assert 1 <= len(midx_files(root)) <= 3  # merged geometrically, not one file per flush
    assert_serves(root, held)


def test_an_old_store_works_without_a_combined_index_and_is_upgraded(store_url: str, make_files) -> None:
    src = make_files({f"f{i}.txt": f"file {i}" for i in range(30)})
    with quire.init(project="p") as run:
        art = quire.Artifact("data", "dataset")
        art.add_dir(src)
        run.log_artifact(art)
    root = Path(store_url) / "blobs"
    assert midx_files(root) == []  # as stores were before it
    result = runner.invoke(app, ["store", "upgrade", "--store", store_url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["written"] and report["packs"] >= 1 and report["blobs"] >= 30  # and the manifest
    assert [f"packs/{p.name}" for p in midx_files(root)] == [report["combined_index"]]
    text = runner.invoke(app, ["store", "upgrade", "--store", store_url])
    assert text.exit_code == 0 and "up to date" in text.output
    quire.store.close_stores()
    # Reads, a write and a gc after it.
    got = quire.Api().artifact("p/data:latest").download(root=str(make_files({}, root=Path("out"))))
    assert files_of(Path(got)) == files_of(src)
    more = make_files({"new.txt": "new"}, root=Path("more"))
    with quire.init(project="p") as run:
        art = quire.Artifact("data", "dataset")
        art.add_dir(more)
        run.log_artifact(art)
    collect_garbage(open_store(store_url), grace=0)
    assert len(midx_files(root)) == 1  # gc's consolidation replaced the upgrade's index
    quire.store.close_stores()
    for version, files in (("v0", src), ("v1", more)):
        got = quire.Api().artifact(f"p/data:{version}").download(root=f"dl-{version}")
        assert files_of(Path(got)) == files_of(files)


def test_gc_keeps_the_combined_index_and_it_omits_what_gc_deleted(store_url: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    log_files("data", {f"a{i}": f"first {i}".encode() for i in range(10)}, src)
    log_files("other", {f"b{i}": f"second {i}".encode() for i in range(10)}, dst)
    store = open_store(store_url)
    collect_garbage(store, grace=0)
    root = Path(store_url) / "blobs"
    first = midx_files(root)
    assert len(first) == 1
    quire.Api().artifact("p/data:v0").delete()
    collect_garbage(open_store(store_url), grace=0)  # deletes the first version's pack
    second = midx_files(root)
    assert len(second) == 1 and second != first
    index = CombinedIndex("packs/" + second[0].name, second[0])
    assert all((root / p).is_file() for p in index.packs)
    got = quire.Api().artifact("p/other:v0").download(root=str(tmp_path / "out"))
    assert files_of(Path(got)) == files_of(dst)


# -- damage -------------------------------------------------------------------------------


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _damage(path: Path, how: str) -> None:
    index = CombinedIndex("x", path)
    packs, rows = len(index.packs), index.rows
    index.close()
    digests = HEADER.size + packs * PACK_ROW.size
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif how == "garbled digest":
        _flip(path, digests + 32 * (rows // 2) + 5)
    elif how == "garbled offset":
        _flip(path, digests + 40 * rows + 8 * (rows // 3))
    elif how == "wrong checksum":
        _flip(path, path.stat().st_size - TRAILER // 2)
    elif how == "wrong magic":
        _flip(path, 0)
    elif how == "garbled pack table":
        _flip(path, HEADER.size + 3)


DAMAGE = ["truncated", "garbled digest", "garbled offset", "wrong checksum", "wrong magic", "garbled pack table"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_combined_index_is_ignored_with_a_warning_and_replaced(tmp_path: Path, how: str, caplog) -> None:
    root = tmp_path / "blobs"
    held = write_packs(store_in(root), packs=4, per_pack=40)
    store_in(root).consolidate()
    [path] = midx_files(root)
    _damage(path, how)
    with caplog.at_level(logging.WARNING, logger="quire"):
        blobs = assert_serves(root, held)
    assert "combined index" in caplog.text and "damaged" in caplog.text
    assert len(blobs._loaded) == 4  # served from the packs' own indexes
    assert not list((root / "packs").glob("*.bad"))  # nothing good was marked corrupt
    done = store_in(root).consolidate()  # rebuilt from the packs (under the same name: the same bytes)
    assert done.written and done.rows == 160
    assert midx_files(root) == [root / done.key]  # type: ignore[operator]
    CombinedIndex(done.key, root / done.key).verify()  # type: ignore[arg-type, operator]
    assert store_in(root)._loaded == set()
    assert_serves(root, held)


def test_damage_that_slips_past_the_seal_never_marks_a_good_slot(tmp_path: Path, caplog) -> None:
    """Bit rot after the file was verified (same size, same mtime): a garbled offset reads
    bytes that fail their digest; the pack's own index is asked before anything is marked."""
    root = tmp_path / "blobs"
    held = write_packs(store_in(root), packs=2, per_pack=40)
    store_in(root).consolidate()
    [path] = midx_files(root)
    os.utime(path, (1e9, 1e9))  # old enough to be sealed
    store_in(root).missing(dict.fromkeys(held, 1))  # verified, and sealed
    st = path.stat()
    index = CombinedIndex("x", path)
    rows, packs = index.rows, len(index.packs)
    index.close()
    offsets = HEADER.size + packs * PACK_ROW.size + 40 * rows
    data = bytearray(path.read_bytes())
    for row in range(rows):  # every offset off by one: every read from it is wrong
        at = offsets + 8 * row
        value = int.from_bytes(data[at : at + 8], "little") + 1
        data[at : at + 8] = value.to_bytes(8, "little")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    blobs = store_in(root)
    with caplog.at_level(logging.WARNING, logger="quire"):
        assert dict(blobs.read_many(list(held))) == held
    assert "disagrees" in caplog.text
    assert not list((root / "packs").glob("*.bad"))


def test_a_pack_the_index_lists_but_gone_is_named_and_the_next_consolidation_drops_it(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    blobs = store_in(root)
    first = write_packs(blobs, packs=1, per_pack=10)
    rest = write_packs(blobs, packs=2, per_pack=10, seed=1)
    blobs.consolidate()
    slot = store_in(root)._slot(next(iter(first)))
    assert slot is not None
    pack = root / slot.pack
    pack.unlink()  # gone behind the store's back (its index too)
    pack.with_suffix(".idx").unlink()
    fresh = store_in(root)
    with pytest.raises(BlobNotFoundError, match=pack.name):
        fresh.read(next(iter(first)))
    assert fresh.missing({d: len(b) for d, b in first.items()}) == set(first)
    assert_serves(root, rest)
    done = store_in(root).consolidate()
    assert done.written and done.packs == 2 and done.rows == 20
    with pytest.raises(BlobNotFoundError) as info:
        store_in(root).read(next(iter(first)))
    assert pack.name not in str(info.value)


def test_a_corrupt_slot_is_hidden_and_another_pack_s_copy_found(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    data = b"the same bytes in two packs"
    digest = hash_bytes(data)
    for _ in range(2):  # two writers that each stored it (no look in between)
        spool = blobs_module.Spool(LocalObjects(root))
        spool.add(digest, data)
        store_in(root)._write_pack(spool)
    store_in(root).consolidate()
    blobs = store_in(root)
    slot = blobs._slot(digest)
    assert slot is not None
    with open(root / slot.pack, "r+b") as f:  # the first copy rots
        f.seek(slot.offset)
        f.write(b"X")
    assert blobs.read(digest) == data  # from the other pack
    assert len(list((root / "packs").glob("*.bad"))) == 1
    fresh = store_in(root)
    assert fresh._slot(digest).pack != slot.pack and fresh.read(digest) == data  # type: ignore[union-attr]


# -- crashes and races --------------------------------------------------------------------


class FailingMidxPut(LocalObjects):
    """A real local store whose put_file of a combined index fails (a crash mid-write)."""

    def put_file(self, key: str, path: Path) -> None:
        if key.endswith(".midx"):
            path.unlink(missing_ok=True)
            raise StoreError(f"injected: cannot store {key}")
        super().put_file(key, path)


def test_a_consolidation_that_fails_to_store_leaves_the_old_index_serving(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    held = write_packs(store_in(root), packs=3, per_pack=20)
    store_in(root).consolidate()
    before = midx_files(root)
    held |= write_packs(store_in(root), packs=2, per_pack=20, seed=1)
    with pytest.raises(StoreError, match="injected"):
        BlobStore(FailingMidxPut(root)).consolidate()
    assert midx_files(root) == before
    assert list((root / "tmp").iterdir()) == []  # the staged file went too
    assert_serves(root, held)


KILLED = """
import os, sys
from pathlib import Path
from quire.store.blobs import BlobStore
from quire.store.objects import LocalObjects

class DiesBeforeStoring(LocalObjects):
    def put_file(self, key, path):
        if key.endswith(".midx"):
            os._exit(9)  # killed between writing the file and giving it its name
        super().put_file(key, path)

BlobStore(DiesBeforeStoring(Path(sys.argv[1]))).consolidate()
"""


def test_a_process_killed_mid_consolidation_leaves_the_old_index_serving(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = tmp_path / "blobs"
    held = write_packs(store_in(root), packs=3, per_pack=20)
    store_in(root).consolidate()
    before = midx_files(root)
    held |= write_packs(store_in(root), packs=2, per_pack=20, seed=1)
    proc = subprocess.run([sys.executable, "-c", KILLED, str(root)], check=False)
    assert proc.returncode == 9
    assert midx_files(root) == before
    assert_serves(root, held)
    collect_before = store_in(root).consolidate()  # the next one completes it
    assert collect_before.written and collect_before.packs == 5


def _consolidate_when_told(root: str, barrier, seed: int) -> None:
    blobs = BlobStore(LocalObjects(Path(root)))
    write_packs(blobs, packs=1, per_pack=10, seed=seed)
    barrier.wait()
    blobs.consolidate()


def test_two_processes_consolidating_at_once_leave_a_store_that_reads_right(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    held = write_packs(store_in(root), packs=3, per_pack=20)
    store_in(root).consolidate()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_consolidate_when_told, args=(str(root), barrier, 10 + i)) for i in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    assert [proc.exitcode for proc in procs] == [0, 0]
    for i in range(2):
        held |= dict(_blobs_of_seed(10 + i))
    for path in midx_files(root):
        CombinedIndex("packs/" + path.name, path).verify()  # whatever is left is whole
    assert_serves(root, held)
    store_in(root).consolidate()
    assert len(midx_files(root)) == 1
    assert_serves(root, held)


def _blobs_of_seed(seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    out = {}
    for _ in range(10):
        data = rng.randbytes(rng.randrange(1, 200))
        out[hash_bytes(data)] = data
    return out


# -- a remote store -----------------------------------------------------------------------


class Remote(LocalObjects):
    """A real local store that behaves as a remote one: no local paths."""

    @property
    def capabilities(self) -> Capabilities:
        return replace(super().capabilities, local=False)

    def local_path(self, key: str) -> Path | None:
        return None


def test_a_remote_store_s_combined_index_is_cached_by_its_digest(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QUIRE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "blobs"
    held = write_packs(BlobStore(Remote(root)), packs=3, per_pack=20)
    done = BlobStore(Remote(root)).consolidate()
    (tmp_path / "cache").joinpath("x").mkdir(parents=True)  # noise in the cache is fine
    for path in (tmp_path / "cache").rglob("*.midx"):
        path.unlink()  # as on another machine
    blobs = BlobStore(Remote(root))
    assert blobs.missing({d: len(b) for d, b in held.items()}) == set()
    assert dict(blobs.read_many(list(held))) == held and blobs._loaded == set()
    [copy] = (tmp_path / "cache").rglob("*.midx")
    assert copy.name == done.key.removeprefix("packs/")  # type: ignore[union-attr]
    assert copy.read_bytes() == (root / done.key).read_bytes()  # type: ignore[operator]


def test_a_blob_in_two_packs_is_still_found_when_gc_deletes_one(tmp_path: Path) -> None:
    """Found by the model: the dict of newer packs keeps one slot per digest, and dropping
    a gone pack's slots lost the blob another loaded pack still held."""
    root = tmp_path / "blobs"
    data = b"stored by two writers"
    digest = hash_bytes(data)
    for _ in range(2):
        spool = blobs_module.Spool(LocalObjects(root))
        spool.add(digest, data)
        store_in(root)._write_pack(spool)
    live = store_in(root)
    slot = live._slot(digest)
    assert slot is not None
    store_in(root).delete(slot.pack)  # as gc deletes a pack
    live.reload()
    assert live.missing({digest: len(data)}) == set() and live.read(digest) == data
