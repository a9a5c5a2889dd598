"""Where C1's time goes: 32 forked writers doing less and less of an upsert.

Usage: ``python bench/collab_floor.py [--repeat 5] [--scratch DIR]``

C1 (``python -m bench --workloads C1``) times 32 writer processes, forked after
``import quire``, that each upsert 100 files of 64 KiB, then a finisher. This prints the
median wall time of the same 32 forked processes doing, from most to least:

- ``upsert``: the whole writer (``init``, ``add_dir``, ``upsert_artifact``, finish);
- ``stage``: open the store and store the files and manifest (no run, no catalog write);
- ``bytes``: what any tool must do with the bytes, without Quire: read, hash (BLAKE3),
  write one file, fsync it and its folder.

Each row is measured against a store that exists already (as for all but the first
writer), and the sum of the writers' CPU time (user + system) is shown beside it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import blake3

import quire
from bench.workloads_collab import C1_DATA
from quire.core.commit import stage_contribution as stage_draft
from quire.store import STORES, open_store


def upsert(folder: Path, out: Path) -> None:
    with quire.init(project="bench", group="floor") as run:
        art = quire.Artifact("c1", "dataset")
        art.add_dir(folder, name=folder.name)
        run.upsert_artifact(art)


def stage(folder: Path, out: Path) -> None:
    store = open_store()
    art = quire.Artifact("c1", "dataset")
    art._staging.store = store
    art.add_dir(folder, name=folder.name)
    stage_draft(art._check_draft(), art._staging, store)


def raw_bytes(folder: Path, out: Path) -> None:
    with open(out / folder.name, "wb", buffering=0) as dst:
        for name in sorted(os.listdir(folder)):
            data = (folder / name).read_bytes()
            blake3.blake3(data).digest()
            dst.write(data)
        os.fsync(dst.fileno())
    fd = os.open(out, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def _child(work, folder: Path, out: Path, start) -> None:  # type: ignore[no-untyped-def]
    start.wait()
    work(folder, out)


def once(work, data: Path, scratch: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """One round: a fresh store (made before the clock) and output folder; 32 writers."""
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "out").mkdir(parents=True)
    os.environ["QUIRE_STORE"] = str(scratch / "store")
    open_store().catalog.engine.dispose()  # the store exists, as for every writer but the first
    STORES.forget()
    folders = sorted(p for p in data.iterdir() if p.is_dir())
    ctx = mp.get_context("fork")
    start = ctx.Barrier(len(folders) + 1)
    procs = [ctx.Process(target=_child, args=(work, f, scratch / "out", start)) for f in folders]
    for p in procs:
        p.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.sync()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    if any(p.exitcode for p in procs):
        raise SystemExit(f"a writer failed: {[p.exitcode for p in procs]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "quire-bench")
    args = p.parse_args()
    data = C1_DATA.materialize(args.scratch / "data")
    rows = {"upsert": upsert, "stage": stage, "bytes": raw_bytes}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for _ in range(args.repeat):  # interleaved, so load from elsewhere spreads over all rows
        for name, work in rows.items():
            results[name].append(once(work, data, args.scratch / "floor"))
    shutil.rmtree(args.scratch / "floor", ignore_errors=True)
    print(f"32 forked writers x 100 files x 64 KiB, medians of {args.repeat}:")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {name:<7} {wall:6.3f} s wall   {cpu:5.2f} s CPU ({1000 * cpu / 32:4.1f} ms a writer)")


if __name__ == "__main__":
    main()
