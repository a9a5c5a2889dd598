"""Many processes writing one embedded catalog: they take turns on a file lock, keep
their connections open between transactions, and a fork does not carry one across."""

from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

import quire
from quire.errors import StoreError
from quire.store import open_store, writer_turn
from quire.store.catalog import RunRecord, now


def record(run_id: str) -> RunRecord:
    return RunRecord(
        id=run_id, project="p", name=None, group=None, job_type=None, config={}, state="running", created_at=now()
    )


def test_a_stuck_writer_makes_the_others_fail_clearly(tmp_path: Path) -> None:
    lock = tmp_path / "catalog.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process, stuck in its transaction
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="is one of them stuck"):
            with writer_turn(lock, wait=0.2):
                pass
        assert time.monotonic() - started >= 0.2
    finally:
        os.close(fd)
    with writer_turn(lock, wait=0.2):  # free again
        pass


def test_a_write_waits_for_its_turn(store_url: str) -> None:
    catalog = open_store().catalog
    fd = os.open(Path(store_url, "catalog.lock"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    threading.Timer(0.3, os.close, [fd]).start()  # the other writer finishes
    started = time.monotonic()
    catalog.create_run(record("waited"))
    assert time.monotonic() - started >= 0.25
    assert catalog.run("waited").state == "running"


def _child_writes(i: int) -> None:
    catalog = open_store().catalog  # this process's own engine and connections
    for k in range(5):
        catalog.create_run(record(f"child{i}-{k}"))


def test_forked_writers_beside_a_parent_with_open_connections(store_url: str) -> None:
    catalog = open_store().catalog
    catalog.create_run(record("parent-before"))  # leaves a pooled connection open
    ctx = mp.get_context("fork")
    children = [ctx.Process(target=_child_writes, args=(i,)) for i in range(4)]
    for child in children:
        child.start()
    for k in range(5):
        catalog.create_run(record(f"parent-{k}"))
    for child in children:
        child.join()
    assert [c.exitcode for c in children] == [0] * 4
    ids = [f"child{i}-{k}" for i in range(4) for k in range(5)] + [f"parent-{k}" for k in range(5)]
    assert all(catalog.run(i).id == i for i in ids)
    with closing(sqlite3.connect(Path(store_url, "catalog.db"))) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _child_logs(src: str) -> None:
    with quire.init(project="p") as run:
        art = quire.Artifact("child", "dataset")
        art.add_file(src)
        run.log_artifact(art)


def test_a_forked_child_does_not_record_its_parents_run(store_url: str, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    parent = quire.init(project="p")  # recorded with its first write, not yet
    child = mp.get_context("fork").Process(target=_child_logs, args=(str(src),))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert quire.Api().artifact("p/child:v0").logged_by().state == "finished"
    art = quire.Artifact("parent", "dataset")
    art.add_file(src)
    parent.log_artifact(art)  # the parent's run is recorded once, by the parent, running
    assert quire.Api().run(parent.id).state == "running"
    parent.finish()
    assert quire.Api().run(parent.id).state == "finished"
