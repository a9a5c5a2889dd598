"""Command line: ``python -m bench [--workloads W1,W2,W5] [--repeat 3] [--only quire] ...``

Runs the selected workloads for Quire and its peers in one go, prints a table per
workload and writes BENCHMARKS.md.  Quire runs under this interpreter; wandb and dvc
run under ``bench/.venv`` (created on first use) so their pins cannot clash with
Quire's dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import shlex
import sys
import tempfile
from pathlib import Path

from bench import report, runner, scale_report
from bench.runner import BenchError, Case, Context, Result, rmtree
from bench.workloads import WORKLOADS

TOOLS = ("quire", "wandb", "dvc", "anchor")
PEERS = {"wandb", "dvc"}
ALIASES = {"anchors": "anchor"}


def load_workloads() -> None:
    """Import bench/workloads_*.py so their @workload registrations take effect."""
    for mod in pkgutil.iter_modules([str(runner.BENCH_DIR)]):
        if mod.name.startswith("workloads_"):
            importlib.import_module(f"bench.{mod.name}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Quire against wandb (offline) and dvc; print tables and write BENCHMARKS.md.",
    )
    p.add_argument(
        "--workloads", default=",".join(WORKLOADS), help=f"comma-separated, default all: {','.join(WORKLOADS)}"
    )
    p.add_argument("--repeat", type=int, default=3, help="repetitions per row (median), default 3")
    p.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()) / "quire-bench",
        help="work space; generated inputs are kept there for reuse (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="Markdown report to (re)write; default BENCHMARKS.md, but only for a "
        "full run (every workload and tool): a partial run must not replace it",
    )
    p.add_argument(
        "--only",
        "--tools",
        dest="tools",
        default=",".join(TOOLS),
        help="comma-separated subset of quire,wandb,dvc,anchors (default all)",
    )
    p.add_argument("--json", type=Path, help="also dump raw timings to this file")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    args.tools = {ALIASES.get(t, t) for t in args.tools.lower().replace(" ", "").split(",") if t}
    args.workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    for bad, known in ((args.tools - set(TOOLS), TOOLS), (set(args.workloads) - set(WORKLOADS), WORKLOADS)):
        if bad:
            p.error(f"unknown {', '.join(sorted(bad))}; choose from {', '.join(known)}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def measure(ctx: Context, name: str, cases: list[Case], repeat: int) -> dict[str, Result]:
    """Round-robin over rows, ``repeat`` times; a failing row is not retried."""
    results = {c.label: Result() for c in cases}
    for r in range(repeat):
        for c in cases:
            res = results[c.label]
            if res.error:
                continue
            rep = ctx.scratch / "runs" / name / f"{c.label.replace(' ', '_').replace('/', '_')}-{r}"
            rmtree(rep)
            rep.mkdir(parents=True)
            try:
                op = c.prepare(rep)
                os.sync()  # earlier writes must not be flushed during this measurement
                ctx.warm()
                out = runner.run_op(op)
            except Exception as e:  # noqa: BLE001  # any failure of a tool or set-up step (git, cp, dvc init) is a row, not a crash
                res.error = str(e) if isinstance(e, BenchError) else f"{type(e).__name__}: {e}"
                print(f"[{name} {r + 1}/{repeat}] {c.label}: FAILED {res.error}", flush=True)
            else:
                res.times.append(out["seconds"])
                res.imports.append(out["import_seconds"])
                children = out["children_cpu_seconds"]
                res.cpu.append(children if c.cpu == "children" else out["cpu_seconds"] + children)
                if "extra" in out:
                    res.extra.append(out["extra"])
                extra = "".join(f"  {k} {v:g}" for k, v in out.get("extra", {}).items())
                print(
                    f"[{name} {r + 1}/{repeat}] {c.label:<45} {out['seconds']:9.3f} s  {res.cpu[-1]:7.3f} s CPU{extra}",
                    flush=True,
                )
            finally:
                rmtree(rep)
                os.sync()
    return results


def main(argv: list[str] | None = None) -> int:
    load_workloads()
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    peers_python = runner.ensure_peers_venv() if args.tools & PEERS else None
    ctx = Context(args.scratch, peers_python)
    ctx.scratch.mkdir(parents=True, exist_ok=True)

    versions = runner.versions(ctx.quire_python, ["quire", "blake3"])
    if peers_python:
        versions |= runner.versions(peers_python, ["wandb", "dvc"])
    command = "python -m bench " + shlex.join(argv)
    machine = report.machine_info(ctx.scratch, versions, command)

    sections, raw, missed = [], {}, []
    for name in args.workloads:
        wl = WORKLOADS[name]
        try:
            cases = [c for c in wl.build(ctx) if c.tool in args.tools]
            results = measure(ctx, name, cases, args.repeat)
        finally:
            ctx.reset()
        rows = report.summarize(cases, results)
        print("\n" + report.text_table(f"{wl.name}: {wl.title}", rows) + "\n", flush=True)
        sections.append((wl, rows))
        missed += [f"{name} {m}" for m in report.missed_targets(rows)]
        raw[name] = {label: vars(r) for label, r in results.items()}
    rmtree(ctx.scratch / "runs")

    out = args.out
    if out is None and set(args.workloads) == set(WORKLOADS) and args.tools == set(TOOLS):
        out = runner.REPO_ROOT / "BENCHMARKS.md"
    if out is not None:
        text = report.markdown(machine, sections)
        # BENCHMARKS.md's ## Scale section is python -m bench.scale's: keep it.
        out.write_text(scale_report.keep_section(out.read_text(), text) if out.exists() else text)
        print(f"wrote {out}")
    if args.json:
        args.json.write_text(json.dumps({"machine": dict(machine), "results": raw}, indent=1))
    if missed:
        print("targets missed: " + "; ".join(missed))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
