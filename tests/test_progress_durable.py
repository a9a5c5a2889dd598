"""Honest progress (issue 13, item 6): a stored file's bytes are reported half as they are
read and hashed, half once they are durable, so the last report of a file comes after the
store made it durable (its fsync, or the upload's completion), never before.

The object stores here are the real ones, wrapped to note in the same list as the
listener when each durable write returns.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import pytest

from quire import hashing
from quire.core import progress
from quire.core.ingest import ingest_file
from quire.core.statcache import StatCache
from quire.store import s3
from quire.store.blobs import SMALL, BlobStore, blob_key
from quire.store.objects import LocalObjects
from support import digest

Event = tuple[str, Any]


class NotingDurable:
    """A real object store; appends ``("durable", key)`` to ``events`` as each write returns."""

    def __init__(self, inner: Any, events: list[Event]) -> None:
        self.inner, self.events, self.url = inner, events, inner.url
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> Any:
        return self.inner.capabilities

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _done(self, key: str) -> None:
        with self._lock:
            self.events.append(("durable", key))

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, data)
        self._done(key)

    def put_file(self, key: str, path: Path) -> None:
        self.inner.put_file(key, path)  # LocalObjects: fsynced (file and folder) when it returns
        self._done(key)

    def put_source(self, key: str, path: Path, digest: str, hashed: Any = None, report: Any = None) -> None:
        self.inner.put_source(key, path, digest, hashed, report=report)  # the upload is complete
        self._done(key)


def _listening(events: list[Event]) -> Any:
    lock = threading.Lock()

    def listen(n: int) -> None:
        with lock:
            events.append(("report", n))

    return progress.reporting(listen)


def _reports(events: list[Event]) -> list[int]:
    return [n for kind, n in events if kind == "report"]


def _write(path: Path, size: int) -> bytes:
    data = random.Random(size).randbytes(size)
    path.write_bytes(data)
    return data


def test_a_large_file_is_reported_as_it_is_written_and_finished_after_its_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "CHUNK", 1 << 20)  # read in several chunks
    data = _write(tmp_path / "big.bin", 5 * (1 << 20) + 123)
    events: list[Event] = []
    writer = BlobStore(NotingDurable(LocalObjects(tmp_path / "blobs", durable=True), events)).writer()  # type: ignore[arg-type]
    with _listening(events):
        entry = ingest_file(tmp_path / "big.bin", "big.bin", writer, StatCache(tmp_path / "cache.db"))
    durable = events.index(("durable", blob_key(digest(data))))
    assert entry.digest == digest(data) and sum(_reports(events)) == len(data)
    before = _reports(events[:durable])
    assert len(before) == 6 and sum(before) <= len(data) // 2 + 1  # as it went, chunk by chunk: half
    assert events[-1][0] == "report" and durable < len(events) - 1  # the end only once it is durable


def test_small_files_are_finished_once_their_pack_is_durable(tmp_path: Path) -> None:
    events: list[Event] = []
    writer = BlobStore(NotingDurable(LocalObjects(tmp_path / "blobs", durable=True), events)).writer()  # type: ignore[arg-type]
    sizes = [3000, 5000, SMALL - 1]
    stat = StatCache(tmp_path / "cache.db")
    with _listening(events):
        for i, size in enumerate(sizes):
            _write(tmp_path / f"{i}.bin", size)
            ingest_file(tmp_path / f"{i}.bin", f"{i}.bin", writer, stat)
        assert sum(_reports(events)) < sum(sizes)  # their pack is not written yet
        writer.flush()
    pack = next(i for i, (kind, key) in enumerate(events) if kind == "durable" and str(key).endswith(".pack"))
    assert sum(_reports(events)) == sum(sizes)
    assert sum(_reports(events[:pack])) == sum(s // 2 for s in sizes)
    assert events[-1][0] == "report"


def test_a_file_already_stored_is_reported_at_once(tmp_path: Path) -> None:
    events: list[Event] = []
    blobs = BlobStore(NotingDurable(LocalObjects(tmp_path / "blobs"), events))  # type: ignore[arg-type]
    data = _write(tmp_path / "big.bin", SMALL + 1)
    with blobs.writer() as writer:
        writer.add_file(tmp_path / "big.bin")
    events.clear()
    got: list[int] = []
    with blobs.writer() as writer:
        writer.add_file(tmp_path / "big.bin", expected=digest(data), report=got.append)
    assert got == [len(data)] and events == []


@pytest.mark.s3
def test_a_large_upload_is_reported_part_by_part_and_finished_once_complete(
    open_s3_objects: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3, "PART_CONCURRENCY", 1)  # one part in flight: each reported as the next is asked for
    data = _write(tmp_path / "big.bin", 2 * s3.PART_SIZE + 4321)  # three parts
    events: list[Event] = []
    writer = BlobStore(NotingDurable(open_s3_objects(), events)).writer()  # type: ignore[arg-type]
    with _listening(events):
        entry = ingest_file(tmp_path / "big.bin", "big.bin", writer, StatCache(tmp_path / "cache.db"))
    durable = events.index(("durable", blob_key(entry.digest)))
    reports = _reports(events)
    assert sum(reports) == len(data) and events[-1][0] == "report" and durable < len(events) - 1
    hashed = [s // 2 for s in (s3.PART_SIZE, s3.PART_SIZE, 4321)]  # read in chunks of PART_SIZE = CHUNK
    parts = [s3.PART_SIZE // 2, s3.PART_SIZE // 2]  # parts 1 and 2, when parts 2 and 3 were asked for
    assert _reports(events[:durable]) == hashed + parts
