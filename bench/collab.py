"""Collaborative mode, measured: ``python bench/collab.py [--repeat 3] [--scratch DIR]``.

- **many writers**: 32 writer processes × 100 files × 64 KiB upsert into one version
  and a finisher commits it, against the same 3,200 files logged by one process in
  simple mode (target: at most 1.5× its time).
- **merge + commit**: a finisher merges 100 contributions of 1,000 entries each
  (100,000 entries) and commits them (target: under 2 s).

As in the harness, interpreter start-up and imports are not timed: writers are forked
after ``import quire`` and wait at a barrier; the clock runs from the barrier to the
finisher's commit. Every repetition uses a fresh store in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WRITERS, FILES, FILE_SIZE = 32, 100, 64 << 10
CONTRIBUTIONS, ENTRIES = 100, 1_000


def make_data(root: Path) -> Path:
    """32 folders of 100 files of 64 KiB (random, seeded); made once."""
    data = root / "collab-data"
    stamp = root / "collab-data.complete"
    if stamp.exists():
        return data
    rng = random.Random(7)
    for w in range(WRITERS):
        folder = data / f"w{w:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(FILES):
            (folder / f"f{i:03d}.bin").write_bytes(rng.randbytes(FILE_SIZE))
    stamp.write_text("")
    return data


def _writer(data: Path, w: int, start) -> None:  # type: ignore[no-untyped-def]
    import quire

    start.wait()
    with quire.init(project="bench", group="collab") as run:
        art = quire.Artifact("collab", "dataset")
        art.add_dir(data / f"w{w:02d}", name=f"w{w:02d}")
        run.upsert_artifact(art)


def many_writers(data: Path) -> float:
    """Seconds from the writers' start to the finisher's commit (this process finishes)."""
    import quire

    ctx = mp.get_context("fork")
    start = ctx.Barrier(WRITERS + 1)
    procs = [ctx.Process(target=_writer, args=(data, w, start)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    with quire.init(project="bench", group="collab") as run:
        art = run.finish_artifact(quire.Artifact("collab", "dataset"))
    seconds = time.perf_counter() - t0
    assert art.file_count == WRITERS * FILES, art.file_count
    return seconds


def simple(data: Path) -> float:
    """Seconds to log the same files from one process in simple mode."""
    import quire

    t0 = time.perf_counter()
    with quire.init(project="bench") as run:
        art = quire.Artifact("collab", "dataset")
        art.add_dir(data)
        run.log_artifact(art)
    seconds = time.perf_counter() - t0
    assert art.file_count == WRITERS * FILES
    return seconds


def merge_commit(_: Path) -> float:
    """Seconds for a finisher to merge and commit 100 contributions × 1,000 entries.

    The contributions are real catalog rows with real manifest blobs, but their entries
    point at blobs that were never written: merge and commit do not read file bytes.
    """
    import quire
    from quire.core.manifest import Entry, Manifest, save_manifest
    from quire.store import open_store, pending

    store = open_store()
    rng = random.Random(3)
    for c in range(CONTRIBUTIONS):
        entries = [Entry(f"part{c:03d}/row{i:04d}.parquet", rng.randbytes(32).hex(), 4096) for i in range(ENTRIES)]
        entries += [Entry(f"shared/{i}.json", f"{i:064x}", 10) for i in range(10)]  # in every one
        manifest = Manifest(entries)
        own = pending.NewContribution(f"writer{c}", save_manifest(store.blobs, manifest), len(manifest),
                                      manifest.size, {"role": "writer", "writer": {"rank": str(c)}})
        pending.add_contribution(store.catalog, "bench", "merged", "dataset", "merge", own)
    with quire.init(project="bench", group="merge") as run:
        draft = quire.Artifact("merged", "dataset")
        t0 = time.perf_counter()
        art = run.finish_artifact(draft)
        seconds = time.perf_counter() - t0
    assert art.file_count == CONTRIBUTIONS * ENTRIES + 10, art.file_count
    return seconds


CASES = {"many writers": many_writers, "simple, one process": simple, "merge + commit": merge_commit}


def one(case: str, data: str) -> None:
    """Run one case in this (fresh) process; print its seconds as JSON."""
    print(json.dumps(CASES[case](Path(data))))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "quire-bench")
    p.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        one(*args.one)
        return 0
    data = make_data(args.scratch)
    times: dict[str, list[float]] = {c: [] for c in CASES}
    for r in range(args.repeat):
        for case in CASES:  # interleaved, each in a fresh process and store
            store = Path(tempfile.mkdtemp(prefix="store-", dir=args.scratch))
            env = dict(os.environ, QUIRE_STORE=str(store), HOME=str(store))
            subprocess.run(["sync"], check=True)
            out = subprocess.run([sys.executable, __file__, "--one", case, str(data)], env=env,
                                 capture_output=True, text=True, check=True)
            times[case].append(json.loads(out.stdout.splitlines()[-1]))
            subprocess.run(["rm", "-rf", str(store)], check=True)
    med = {c: statistics.median(t) for c, t in times.items()}
    for case, t in times.items():
        print(f"{case:22s} median {med[case]:6.2f} s   ({', '.join(f'{x:.2f}' for x in t)})")
    ratio = med["many writers"] / med["simple, one process"]
    print(f"many writers / simple: {ratio:.2f}× (target ≤ 1.5×); merge + commit "
          f"{med['merge + commit']:.2f} s (target < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
