"""``quire artifact verify NAME``: the store's copy checked in place (issue 13, item 4).

Every blob is read from the store and hashed; the packs are read once each, in order, in
few ranges; large blobs are streamed in chunks; nothing is written; the damaged files are
listed by path, and a corrupt blob is set aside as every read sets it aside.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest

import quire
from quire.core import progress, repair
from quire.store import open_store
from quire.store.blobs import SMALL, BlobStore, blob_key
from quire.store.objects import LocalObjects
from servers import behind
from support import digest, log_files
from test_cli import assert_one_line_error, quire_cli, runner
from test_integrity_blobs import corrupt, fresh

LARGE = SMALL + 4321  # a blob of its own


def _files(n: int = 40) -> dict[str, bytes]:
    rng = random.Random(13)
    files = {f"data/{i:03d}.bin": rng.randbytes(3000 + i) for i in range(n)}
    files["model/large.bin"] = rng.randbytes(LARGE)
    files["model/gone.bin"] = rng.randbytes(LARGE + 1)
    files["copy/000.bin"] = files["data/000.bin"]  # two paths, one blob
    return files


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_verify_lists_the_missing_and_corrupt_files_and_sets_the_corrupt_aside(store_url: str, tmp_path: Path) -> None:
    from quire.cli import app

    files = _files()
    log_files("ds", files, tmp_path / "src")
    assert "OK: the store holds p/ds:v0 intact" in quire_cli("artifact", "verify", "p/ds").stdout
    store = open_store(behind(store_url))
    corrupt(store, files["data/000.bin"])
    corrupt(store, files["data/007.bin"])
    corrupt(store, files["model/large.bin"])
    store.blobs.objects.delete(blob_key(digest(files["model/gone.bin"])))
    fresh(store_url)

    result = runner.invoke(app, ["artifact", "verify", "p/ds"])
    assert_one_line_error(result, "5 files", "damaged in the store", "copy/000.bin", "--repair --from DIR")
    assert result.stdout.splitlines() == [
        "corrupt: copy/000.bin",
        "corrupt: data/000.bin",
        "corrupt: data/007.bin",
        "missing: model/gone.bin",
        "corrupt: model/large.bin",
    ]  # by path
    # Set aside as every read sets it aside: the slots marked, the large blob moved.
    objects = open_store(behind(store_url)).blobs.objects
    marks = [i.key for i in objects.list("packs/") if i.key.endswith(".bad")]
    assert sorted(m.split(".")[-2] for m in marks) == sorted(
        [digest(files["data/000.bin"]), digest(files["data/007.bin"])]
    )
    assert [i.key for i in objects.list("quarantine/")] and not objects.exists(
        blob_key(digest(files["model/large.bin"]))
    )

    fresh(store_url)  # a marked slot is still known corrupt; a moved large blob is gone
    again = runner.invoke(app, ["artifact", "verify", "p/ds", "--json"])
    assert again.exit_code == 1
    report = json.loads(again.stdout)
    assert report["damaged"] == {
        "copy/000.bin": "corrupt",
        "data/000.bin": "corrupt",
        "data/007.bin": "corrupt",
        "model/gone.bin": "missing",
        "model/large.bin": "missing",
    }
    assert (report["ok"], report["verified"], report["checked_files"]) == (False, "the store", len(files))

    quire_cli("artifact", "verify", "p/ds", "--repair", "--from", str(tmp_path / "src"))
    fresh(store_url)
    intact = json.loads(quire_cli("artifact", "verify", "p/ds", "--json").stdout)
    assert (intact["ok"], intact["damaged"]) == (True, {})


class Recording:
    """The real local object store, recording every call (and able to hide its files'
    paths, as a remote store has none)."""

    def __init__(self, inner: LocalObjects, remote: bool = False) -> None:
        self.inner, self.remote, self.url = inner, remote, inner.url
        self.calls: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> Any:
        return self.inner.capabilities

    def _note(self, *call: Any) -> None:
        with self._lock:
            self.calls.append(call)

    def __getattr__(self, name: str) -> Any:  # every other call: recorded, then passed on
        method = getattr(self.inner, name)

        def recorded(*args: Any) -> Any:
            self._note(name, *args)
            return method(*args)

        return recorded

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        self._note("get_range", key, offset, length)
        return self.inner.get_range(key, offset, length)

    def local_path(self, key: str) -> Path | None:
        self._note("local_path", key)
        return None if self.remote else self.inner.local_path(key)

    def named(self, *names: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] in names]


def _logged(store_url: str, tmp_path: Path, files: dict[str, bytes]) -> tuple[str, LocalObjects]:
    log_files("ds", files, tmp_path / "src")
    store = fresh(store_url)
    assert isinstance(store.blobs.objects, LocalObjects)
    return quire.Api().artifact("p/ds:v0")._committed_version("check").record.root, store.blobs.objects


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
def test_the_check_reads_each_pack_once_in_order_and_writes_nothing(
    remote: bool, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(300)
    root, objects = _logged(store_url, tmp_path, files)
    monkeypatch.setattr(repair, "CHUNK", 1 << 18)  # a large blob in several chunks
    recording = Recording(objects, remote=remote)
    reports: list[int] = []
    lock = threading.Lock()

    def listen(n: int) -> None:
        with lock:
            reports.append(n)

    with progress.reporting(listen):
        report = repair.check(BlobStore(recording), root)  # type: ignore[arg-type]
    assert report.ok and report.files == len(files)
    unique = {digest(b): len(b) for b in files.values()}
    assert report.size == sum(unique.values())
    assert sum(reports) == sum(len(b) for b in files.values())  # the version's size: a bar's total

    # Nothing written, nothing copied to a file, no large blob whole in memory.
    assert not recording.named("put", "put_file", "temp_path", "move", "delete", "get_file")
    assert not [c for c in recording.named("get") if c[1].startswith("objects/")]
    # Each pack in one forward pass: ranges in offset order, none read twice. (The
    # manifest's pages are read first, one by one, like any manifest load.)
    packs = {i.key for i in objects.list("packs/") if i.key.endswith(".pack")}
    pack_reads = [c for c in recording.named("get_range") if c[1] in packs]
    pages = len(pack_reads) - len(packs)
    assert 0 < pages < 5, pack_reads  # a few pages; 300 files would be 300 reads one by one
    by_pack: dict[str, list[tuple[int, int]]] = {}
    for _, key, offset, length in pack_reads[pages:]:
        by_pack.setdefault(key, []).append((offset, length))
    assert set(by_pack) == packs and all(len(r) == 1 for r in by_pack.values()), by_pack
    large = [c for c in recording.named("get_range") if c[1].startswith("objects/")]
    if remote:  # streamed in chunks, each hashed as it comes
        assert sorted(large) == sorted(
            ("get_range", blob_key(digest(files[p])), at, min(1 << 18, len(files[p]) - at))
            for p in ("model/large.bin", "model/gone.bin")
            for at in range(0, len(files[p]), 1 << 18)
        )
    else:  # read from their files in place
        assert not large


def test_a_pack_is_read_in_bounded_ranges(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(300)
    _, objects = _logged(store_url, tmp_path, files)
    monkeypatch.setattr(repair, "RANGE", 64 << 10)
    recording = Recording(objects)
    sizes = {digest(b): len(b) for b in files.values()}
    assert repair.check_blobs(BlobStore(recording), sizes) == {}  # type: ignore[arg-type]
    packs = {i.key for i in objects.list("packs/") if i.key.endswith(".pack")}
    reads = [c[2:] for c in recording.named("get_range") if c[1] in packs]
    assert len(reads) > 10 and all(length <= 64 << 10 for _, length in reads)
    assert reads == sorted(reads) and all(a + n <= b for (a, n), (b, _) in itertools.pairwise(reads))
    assert sum(n for _, n in reads) >= sum(len(b) for p, b in files.items() if len(b) < SMALL and p != "copy/000.bin")


def test_a_blob_missing_from_every_pack_is_reported_missing(store_url: str, tmp_path: Path) -> None:
    files = {"a.txt": b"kept" * 100, "b.txt": b"lost" * 100}
    root, objects = _logged(store_url, tmp_path, files)
    blobs = BlobStore(objects)
    sizes = {digest(b): len(b) for b in files.values()} | {digest(b"never stored"): 12}
    assert repair.check_blobs(blobs, sizes) == {digest(b"never stored"): "missing"}
    assert repair.check(blobs, root).ok
    assert os.listdir(objects.tmp) == []
