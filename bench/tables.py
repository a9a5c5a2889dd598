"""Tables benchmark: ``python -m bench.tables [--rows 10000000] [--writers 16] [--repeat 3]``.

1. A ``rows`` × 5-column table written by ``writers`` parallel processes (each adds its
   part and upserts it; one finisher adds the ``PartitionedTable`` and finishes the
   version), then read back with ``to_arrow()`` in a new process: rows per second.
2. ``iterrows()`` over the whole partitioned table in a new process: peak RSS, against
   the RSS of the same process before iterating and of reading everything with
   ``to_arrow()``; bounded by one part means it stays near the former.
3. Against W&B's JSON table at the largest size W&B accepts (200,000 rows): the same
   rows in memory → a committed version (write), and a committed version → the rows as
   Python lists (read). W&B runs offline from ``bench/.venv``; its read is what
   ``artifact.get`` does once the file is downloaded (``Table.from_json``), since an
   offline run has no server to download from.

Each measurement runs in a fresh process and is timed after imports. Medians of
``repeat`` runs are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS = ["id", "x", "y", "label", "flag"]
LABELS = ["cat", "dog", "bird", "fish", "horse"]
WANDB_MAX_ROWS = 200_000
MARK = "TABLES-RESULT "


# -- the data ------------------------------------------------------------------------------


def frame(first: int, n: int):
    """Rows ``first`` … ``first + n`` as a pandas DataFrame (deterministic)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(first)
    ids = np.arange(first, first + n, dtype=np.int64)
    return pd.DataFrame({
        "id": ids, "x": rng.random(n), "y": rng.standard_normal(n),
        "label": np.array(LABELS, dtype=object)[ids % len(LABELS)], "flag": ids % 3 == 0,
    })


def rows(n: int) -> list[list]:
    """``n`` rows as Python lists, without numpy (the W&B venv has none)."""
    import random

    rng = random.Random(0)
    return [[i, rng.random(), rng.gauss(0, 1), LABELS[i % len(LABELS)], i % 3 == 0] for i in range(n)]


# -- operations, each run in a fresh process ----------------------------------------------------


def op_write_parts(store: str, total: int, writers: int) -> dict:
    """Parallel writers (forked processes) upsert one part each; a finisher commits."""
    import multiprocessing

    import quire

    group = f"bench-{time.time_ns()}"
    bounds = [(w * total // writers, (w + 1) * total // writers) for w in range(writers)]
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(writers) as pool:
        pool.starmap(_write_part, [(store, group, w, a, b) for w, (a, b) in enumerate(bounds)])
    with quire.init(project="bench", group=group, store=store) as run:
        art = quire.Artifact("predictions", "dataset")
        art.add(quire.PartitionedTable("parts"), "table")
        run.finish_artifact(art)
    return {"seconds": time.perf_counter() - t0}


def _write_part(store: str, group: str, w: int, first: int, end: int) -> None:
    import quire

    with quire.init(project="bench", group=group, store=store) as run:
        art = quire.Artifact("predictions", "dataset")
        art.add(quire.Table(dataframe=frame(first, end - first)), f"parts/part_{w:03d}")
        run.upsert_artifact(art)


def op_read_arrow(store: str, expected: int) -> dict:
    """``get("table").to_arrow()`` of the committed partitioned table."""
    import quire

    t0 = time.perf_counter()
    table = quire.Api(store=store).artifact("bench/predictions:latest").get("table").to_arrow()
    seconds = time.perf_counter() - t0
    assert table.num_rows == expected, table.num_rows
    return {"seconds": seconds, "rss_mib": _peak_rss_mib()}


def op_iterrows(store: str, expected: int) -> dict:
    """Every row through ``iterrows()``; peak RSS before and after."""
    import quire

    pt = quire.Api(store=store).artifact("bench/predictions:latest").get("table")
    pt._local_files()  # fetch the parts into the cache first: this op measures reading
    before = _peak_rss_mib()
    t0 = time.perf_counter()
    n = sum(1 for _ in pt.iterrows())
    seconds = time.perf_counter() - t0
    assert n == expected, n
    import pyarrow.parquet as pq

    one_part = pq.read_table(pt._local_files()[0]).nbytes / 2**20
    return {"seconds": seconds, "rss_before_mib": before, "rss_mib": _peak_rss_mib(), "part_arrow_mib": one_part}


def op_quire_write(store: str, n: int) -> dict:
    import quire

    data = rows(n)
    t0 = time.perf_counter()
    with quire.init(project="bench", store=store) as run:
        art = quire.Artifact("json-size", "dataset")
        t1 = time.perf_counter()
        art.add(quire.Table(columns=COLUMNS, data=data), "table")
        t2 = time.perf_counter()
        run.log_artifact(art)
    return {"seconds": time.perf_counter() - t0, "add_seconds": t2 - t1}


def op_quire_read(store: str, n: int) -> dict:
    import quire

    t0 = time.perf_counter()
    data = quire.Api(store=store).artifact("bench/json-size:latest").get("table").data
    seconds = time.perf_counter() - t0
    assert len(data) == n
    return {"seconds": seconds}


def op_wandb_write(folder: str, n: int) -> dict:
    import wandb

    data = rows(n)
    t0 = time.perf_counter()
    run = wandb.init(project="bench", dir=folder)
    art = wandb.Artifact("json-size", "dataset")
    t1 = time.perf_counter()
    art.add(wandb.Table(columns=COLUMNS, data=data), "table")
    t2 = time.perf_counter()
    staged = Path(art.manifest.entries["table.table.json"].local_path)
    run.log_artifact(art)
    run.finish()
    seconds = time.perf_counter() - t0
    kept = Path(folder, "table.table.json")  # the staged copy W&B would upload, for the read op
    kept.write_bytes(staged.read_bytes())
    return {"seconds": seconds, "add_seconds": t2 - t1, "file": str(kept)}


def op_wandb_read(file: str, n: int) -> dict:
    import wandb

    t0 = time.perf_counter()
    with open(file) as f:
        table = wandb.Table.from_json(json.load(f), None)
    data = table.data
    seconds = time.perf_counter() - t0
    assert len(data) == n
    return {"seconds": seconds}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


OPS = {f.__name__[3:]: f for f in (op_write_parts, op_read_arrow, op_iterrows, op_quire_write,
                                   op_quire_read, op_wandb_write, op_wandb_read)}


# -- the harness ---------------------------------------------------------------------------------


def run(python: str, op: str, home: Path, **kwargs) -> dict:
    """Run one operation in a fresh interpreter with an isolated HOME; return its result."""
    from bench.tools import tool_env

    env = tool_env(home)
    proc = subprocess.run([python, "-m", "bench.tables", "--op", json.dumps({"op": op, "args": kwargs})],
                          env=env, cwd=home, capture_output=True, text=True, timeout=3600)
    results = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode or not results:
        raise SystemExit(f"{op} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(results[-1][len(MARK):])


def median(results: list[dict], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in results)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tables", description=__doc__.splitlines()[0])
    p.add_argument("--op", help=argparse.SUPPRESS)
    p.add_argument("--rows", type=int, default=10_000_000, help="rows of the partitioned table")
    p.add_argument("--writers", type=int, default=16, help="parallel writer processes")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--iterrows-repeat", type=int, default=1, help="iterrows is slow in Python: fewer runs")
    p.add_argument("--wandb-rows", type=int, default=WANDB_MAX_ROWS)
    p.add_argument("--peers-python", help="interpreter with wandb (default: bench/.venv, made on first use)")
    p.add_argument("--only", choices=["parts", "wandb"], help="run one half of the benchmark")
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "quire-bench-tables")
    args = p.parse_args(argv)
    if args.op:
        spec = json.loads(args.op)
        print(MARK + json.dumps(OPS[spec["op"]](**spec["args"])), flush=True)
        return 0

    from bench.tools import ensure_peers_venv, rmtree

    report: list[tuple[str, str]] = []

    def fresh(name: str) -> Path:
        home = args.scratch / name
        rmtree(home)
        home.mkdir(parents=True)
        return home

    if args.only != "wandb":
        report += bench_parts(args, fresh)
    if args.only != "parts":
        report += bench_wandb(args, fresh, args.peers_python or ensure_peers_venv())
    print(f"\nTables benchmark, medians of {args.repeat} (iterrows: {args.iterrows_repeat}), "
          f"{os.cpu_count()} cores\n\n| measurement | result |\n|---|---|")
    for name, value in report:
        print(f"| {name} | {value} |")
    rmtree(args.scratch)
    return 0


def bench_parts(args: argparse.Namespace, fresh) -> list[tuple[str, str]]:
    """The partitioned table: parallel write, to_arrow, iterrows."""
    me = sys.executable
    writes, reads, warm_reads = [], [], []
    for r in range(args.repeat):
        home = fresh(f"parts-{r}")
        store = str(home / "store")
        writes.append(run(me, "write_parts", home, store=store, total=args.rows, writers=args.writers))
        reads.append(run(me, "read_arrow", home, store=store, expected=args.rows))  # fills the cache
        warm_reads.append(run(me, "read_arrow", home, store=store, expected=args.rows))
        print(f"[{r + 1}/{args.repeat}] write {writes[-1]['seconds']:.2f} s, to_arrow {reads[-1]['seconds']:.2f} s "
              f"(warm {warm_reads[-1]['seconds']:.2f} s)", flush=True)
    iters = [run(me, "iterrows", home, store=store, expected=args.rows) for _ in range(args.iterrows_repeat)]
    n = args.rows
    growth = [r["rss_mib"] - r["rss_before_mib"] for r in iters]
    return [
        (f"write {n:,} rows × 5 columns, {args.writers} parallel writers (upsert + finish)",
         f"{median(writes):.2f} s ({n / median(writes):,.0f} rows/s)"),
        ("read back with to_arrow(), first read (fills the local cache)",
         f"{median(reads):.2f} s ({n / median(reads):,.0f} rows/s)"),
        ("read back with to_arrow(), warm cache", f"{median(warm_reads):.2f} s ({n / median(warm_reads):,.0f} rows/s)"),
        ("to_arrow() process peak RSS", f"{median(reads, 'rss_mib'):,.0f} MiB"),
        ("iterrows() over every row", f"{median(iters):.1f} s ({n / median(iters):,.0f} rows/s)"),
        ("iterrows() peak RSS: before iterating → after (growth)",
         f"{median(iters, 'rss_before_mib'):,.0f} → {median(iters, 'rss_mib'):,.0f} MiB "
         f"(+{statistics.median(growth):,.0f} MiB; one part in Arrow: {median(iters, 'part_arrow_mib'):,.0f} MiB)"),
    ]


def bench_wandb(args: argparse.Namespace, fresh, peers: str) -> list[tuple[str, str]]:
    """The same rows as a Quire table and as W&B's JSON table: write and read."""
    me = sys.executable
    m = args.wandb_rows
    qw, qr, ww, wr = [], [], [], []
    for r in range(args.repeat):
        home = fresh(f"json-quire-{r}")
        qw.append(run(me, "quire_write", home, store=str(home / "store"), n=m))
        qr.append(run(me, "quire_read", home, store=str(home / "store"), n=m))
        home = fresh(f"json-wandb-{r}")
        ww.append(run(peers, "wandb_write", home, folder=str(home), n=m))
        wr.append(run(peers, "wandb_read", home, file=ww[-1]["file"], n=m))
        print(f"[{r + 1}/{args.repeat}] {m:,} rows: quire write {qw[-1]['seconds']:.2f} s read {qr[-1]['seconds']:.2f} s; "
              f"wandb write {ww[-1]['seconds']:.2f} s read {wr[-1]['seconds']:.2f} s", flush=True)
    return [
        (f"{m:,} rows from Python lists to a committed version: quire / wandb",
         f"{median(qw):.2f} s / {median(ww):.2f} s (quire {median(ww) / median(qw):.1f}× faster)"),
        (f"{m:,} rows from a committed version to Python lists: quire / wandb",
         f"{median(qr):.2f} s / {median(wr):.2f} s (quire {median(wr) / median(qr):.1f}× faster)"),
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
