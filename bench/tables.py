"""Rows per second and memory of a partitioned table:
``python -m bench.tables [--rows 10000000] [--writers 16] [--repeat 3]``.

Each repetition writes the table with parallel writers into a fresh store (the T1 write),
then, each in a new process: opens it and fetches its parts (the baseline every reader
pays), ``to_arrow()``, and ``iterrows()`` over every row. Printed: medians of rows per
second, and each process's peak RSS: ``iterrows()`` should stay near the baseline (it
holds one part at a time) while ``to_arrow()`` holds every row. The timings against
W&B and the pyarrow floor are the harness's T1 and T2 (``python -m bench --workloads T1,T2``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.runner import Op, rmtree, run_op


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tables", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--writers", type=int, default=16)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "quire-bench-tables")
    args = p.parse_args(argv)

    results: dict[str, list[dict]] = {"write": [], "open": [], "to_arrow": [], "iterrows": []}
    for r in range(args.repeat):
        home = args.scratch / f"rep-{r}"
        rmtree(home)
        home.mkdir(parents=True)
        env = {"QUIRE_STORE": str(home / "store")}

        def op(name: str, **extra: int) -> dict:
            return run_op(Op(name, {"total": args.rows, **extra}, sys.executable, home, env=env))  # noqa: B023

        results["write"].append(op("tables_write_parts", writers=args.writers))
        for name, key in (("tables_open", "open"), ("tables_to_arrow", "to_arrow"), ("tables_iterrows", "iterrows")):
            results[key].append(op(name))
        print(
            f"[{r + 1}/{args.repeat}] "
            + ", ".join(f"{k} {v[-1]['seconds']:.2f} s / {v[-1]['peak_rss_mib']:.0f} MiB" for k, v in results.items()),
            flush=True,
        )
        rmtree(home)

    def med(key: str, field: str) -> float:
        return statistics.median(x[field] for x in results[key])

    n = args.rows
    print(f"\n{n:,} rows × 5 columns, {args.writers} writers; medians of {args.repeat}\n")
    print("| operation | median s | rows/s | peak RSS (MiB) |\n|---|---|---|---|")
    print(
        f"| {args.writers} writers upsert a part, 1 finisher commits | {med('write', 'seconds'):.2f} | "
        f"{n / med('write', 'seconds'):,.0f} | {med('write', 'peak_rss_mib'):.0f} (the finisher) |"
    )
    print(f"| open the table, fetch its parts (baseline) | – | – | {med('open', 'peak_rss_mib'):.0f} |")
    for key, label in (("to_arrow", "to_arrow()"), ("iterrows", "iterrows(), every row")):
        print(
            f"| {label} | {med(key, 'seconds'):.2f} | {n / med(key, 'seconds'):,.0f} | {med(key, 'peak_rss_mib'):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
