"""Progress reports: what a bar shows while files are stored and downloaded."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import quire
from quire.core import progress
from quire.store.blobs import SMALL

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3


def test_storing_and_downloading_report_every_byte_once(make_files, tmp_path: Path) -> None:
    files = {f"small/{i}.txt": os.urandom(3000 + i) for i in range(50)}
    files |= {"big/a.bin": os.urandom(SMALL + 17), "big/b.bin": os.urandom(2 * SMALL), "same.txt": files["small/0.txt"]}
    total = sum(len(b) for b in files.values())
    root = make_files(files)
    reports: list[int] = []
    lock = threading.Lock()

    def listen(n: int) -> None:  # large files are stored from several threads
        with lock:
            reports.append(n)

    with progress.reporting(listen), quire.init(project="p") as run:
        art = quire.Artifact("ds", "dataset")
        art.add_dir(root)
        run.log_artifact(art)
    assert sum(reports) == total and all(n > 0 for n in reports)  # stored files: in halves (see test_progress_durable)

    reports.clear()
    with progress.reporting(listen):  # a cold cache: bytes as blobs arrive, then placed
        quire.Api().artifact("p/ds:v0").download(tmp_path / "cold", skip_cache=True)
    assert sum(reports) == total
    reports.clear()
    with progress.reporting(listen):  # a warm cache: bytes as files are placed
        quire.Api().artifact("p/ds:v0").download(tmp_path / "warm")
    assert sum(reports) == total
    reports.clear()
    quire.Api().artifact("p/ds:v0").download(tmp_path / "quiet")  # nobody listening: no reports
    assert reports == []
