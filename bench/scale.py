"""``python -m bench.scale``: how Quire's costs grow with the store (issue 13).

Usage::

    python -m bench.scale                          # 10⁴…10⁶ blobs, 10²…10⁴ versions, ~15 min
    python -m bench.scale --max-blobs 10000000     # and the 10⁷ step (256-byte blobs there)
    python -m bench.scale --skip gc,verify --repeat 1 --out /tmp/scale.md
    python -m bench.scale --before bench/results/scale-before.json --write --check

Curves (each measurement a fresh process, on a fresh copy of a cached store):

- blobs N: log one tiny version, read one entry of a big version, download a 1-file
  version, ``quire gc --dry-run``, a real ``quire gc`` after deleting one version, and
  the floor of that gc's sweep (opening the store and deleting just what gc deletes);
- versions V in one collection: ``quire artifact versions`` (and ``--limit 50`` where
  the command has it), ``Api().artifacts(...)``'s first page;
- ``quire artifact verify`` of a many-file version from the store, and ``--root`` of
  its downloaded copy;
- start-up: ``import quire`` against ``import json, sqlite3``, and ``quire --help``,
  each timed as a whole process.

Time and peak RSS are medians over the repetitions, which are interleaved across the
rows of a curve; a row stops repeating once it has used ``--row-budget`` seconds.
Building the stores is printed apart (they are kept under ``--scratch`` and reused).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import report as bench_report
from bench import runner, scale_build, scale_report
from bench.runner import BenchError, Op, rmtree

#: what ``--skip`` can name
STEPS = ("log", "read", "download", "gc-dry-run", "gc", "versions", "verify", "startup")
BIG = 1_000_000  #: above this many blobs, ``--big-blob-size`` applies


@dataclass
class Row:
    """One measured operation at one size."""

    curve: str
    op: str  #: an id of scale_report.LABELS
    size: int
    prepare: Callable[[Path], Op | list[str]]  #: a list: a whole process, timed from outside
    blob_size: int | None = None
    times: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    error: str | None = None


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    p.add_argument("--max-blobs", type=int, default=10**6, help="largest N of the blob curve (default 10⁶)")
    p.add_argument("--blobs", help="the sizes of the blob curve, comma-separated (default 10⁴ … --max-blobs)")
    p.add_argument("--blob-size", type=int, default=4096, help="bytes per blob up to 10⁶ blobs (default 4096)")
    p.add_argument("--big-blob-size", type=int, default=256, help="bytes per blob above 10⁶ blobs (default 256)")
    p.add_argument("--versions", default="100,1000,10000", help="sizes of the versions curve (default 10²,10³,10⁴)")
    p.add_argument("--verify-files", type=int, default=50_000, help="files of the verified version (default 50,000)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions per row (medians), default 3")
    p.add_argument("--startup-repeat", type=int, default=10, help="repetitions of the start-up rows (default 10)")
    p.add_argument(
        "--row-budget", type=float, default=120.0, help="seconds after which a row stops repeating (default 120)"
    )
    p.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {','.join(STEPS)}")
    p.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()) / "quire-scale",
        help="work space; built stores are kept there for reuse (default: %(default)s)",
    )
    p.add_argument("--json", type=Path, help="write the raw figures here (the input of a later --before)")
    p.add_argument(
        "--before",
        type=Path,
        action="append",
        default=[],
        help="the raw figures (--json) of an earlier run, shown beside these; repeatable: "
        "a later file adds the rows the earlier ones lack (e.g. a separate 10⁷ run)",
    )
    p.add_argument(
        "--report",
        type=Path,
        action="append",
        default=[],
        help="measure nothing: report the raw figures of this file (repeatable, merged as --before)",
    )
    p.add_argument("--out", type=Path, help="write the Markdown section to this file")
    p.add_argument("--write", action="store_true", help="replace the ## Scale section of BENCHMARKS.md")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument(
        "--warm-cache",
        action="store_true",
        help="give each repetition a user cache filled by an untimed run on the same copy of the store "
        "(default: every repetition starts with an empty cache, as the first process on a machine)",
    )
    args = p.parse_args(argv)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if bad := args.skip - set(STEPS):
        p.error(f"unknown step {', '.join(sorted(bad))}; choose from {', '.join(STEPS)}")
    if args.blobs:
        args.blobs = sorted({int(float(x)) for x in args.blobs.split(",")})
    else:
        args.blobs = [10**k for k in range(4, 12) if 10**k <= args.max_blobs] or [args.max_blobs]
    args.versions = sorted({int(float(x)) for x in args.versions.split(",") if x.strip()})
    if min([args.repeat, args.startup_repeat, *args.blobs, *args.versions, args.verify_files]) < 1:
        p.error("sizes and repetitions must be at least 1")
    return args


# -- rows ----------------------------------------------------------------------------------


def _home(rep: Path) -> Path:
    return rep / "home"


def _cli(rep: Path, store: Path, argv: list[str], check=None) -> Op:
    return Op("scale_cli", {"argv": argv}, sys.executable, _home(rep), env={"QUIRE_STORE": str(store)}, check=check)


def _untimed(store: Path, code: str, *argv: str) -> str:
    """Run a set-up step on ``store`` in its own process (never the harness's: it keeps
    nothing open); returns its stdout."""
    env = runner.tool_env(store.parent / "setup") | {"QUIRE_STORE": str(store)}
    done = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True)
    if done.returncode:
        raise BenchError(f"set-up step failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


DELETE = "import quire, sys; quire.Api().artifact(sys.argv[1]).delete(delete_aliases=True)"
#: what a gc of the store would delete (objects of the store: a staging file is a path)
PLAN = (
    "import json, os, quire; r = quire.Api().gc(grace=0, dry_run=True);"
    "print(json.dumps([k for _, k, _ in r.deleted if not os.path.isabs(k)]))"
)


def blob_rows(args: argparse.Namespace) -> list[Row]:
    rows = []
    for n in args.blobs:
        size = args.blob_size if n <= BIG else args.big_blob_size
        built = _build(f"{n:,} blobs × {size} B", args.scratch, "blobs", n, size)
        ops = blob_ops(Path(built["store"]), scale_build.BlobLayout(**built["layout"]))
        rows += [Row("blobs", op, n, prepare, size) for op, prepare in ops.items() if _step(op) not in args.skip]
    return rows


def _step(op: str) -> str:
    """The ``--skip`` step a row belongs to (the sweep's floor goes with gc)."""
    return "gc" if op == "sweep" else op


def blob_ops(kept: Path, layout: scale_build.BlobLayout) -> dict[str, Callable[[Path], Op]]:
    """The rows' set-up for one blob store: each makes a fresh copy to measure on."""
    bulk = f"{scale_build.PROJECT}/bulk:v0"
    victim = f"{scale_build.PROJECT}/{layout.victim}"
    plan: list[str] = []  # what gc deletes: the same in every copy, so asked once

    def fresh(rep: Path) -> Path:
        return scale_build.copy_store(kept, rep / "store")

    def log_op(rep: Path) -> Op:
        store, tiny = fresh(rep), rep / "tiny.txt"
        tiny.write_text("one tiny file\n")
        return Op("scale_log", {"store": str(store), "collection": "tiny", "file": str(tiny)}, *_env(rep))

    def read_op(rep: Path) -> Op:
        args = {"store": str(fresh(rep)), "ref": bulk, "path": layout.read_path, "root": str(rep / "out")}
        return Op("scale_read", args, *_env(rep))

    def download_op(rep: Path) -> Op:
        args = {"store": str(fresh(rep)), "ref": f"{scale_build.PROJECT}/{layout.one}", "root": str(rep / "out")}
        return Op("scale_download", args, *_env(rep), check=runner.expect_files(rep / "out", 1))

    def dry_op(rep: Path) -> Op:
        return _cli(rep, fresh(rep), ["gc", "--dry-run", "--grace", "0"])

    def gc_op(rep: Path) -> Op:
        store = fresh(rep)
        _untimed(store, DELETE, victim)
        packs = len(list((store / "blobs" / "packs").glob("*.pack")))
        return _cli(rep, store, ["gc", "--grace", "0"], check=_fewer_packs(store, packs))

    def sweep_op(rep: Path) -> Op:
        store = fresh(rep)
        _untimed(store, DELETE, victim)
        if not plan:
            plan.extend(json.loads(_untimed(store, PLAN)))
        return Op("scale_sweep", {"store": str(store), "keys": plan}, *_env(rep))

    return {
        "log": log_op,
        "read": read_op,
        "download": download_op,
        "gc-dry-run": dry_op,
        "gc": gc_op,
        "sweep": sweep_op,
    }


#: with --warm-cache, where each row keeps the user cache its repetitions share
SHARED_CACHE: list[Path] = []


def _env(rep: Path) -> tuple[str, Path, Path, dict]:
    """Interpreter, HOME, cwd and a cache of its own (each repetition starts cold), or
    with ``--warm-cache`` the row's cache, which an untimed run on the same copy has just
    filled (the seal of a verified combined index: a machine that used the store before)."""
    cache = SHARED_CACHE[0] / rep.name.rsplit("-", 1)[0] if SHARED_CACHE else rep / "cache"
    return sys.executable, _home(rep), rep, {"QUIRE_CACHE_DIR": str(cache)}


def _fewer_packs(store: Path, before: int) -> Callable[[], None]:
    def check() -> None:
        after = len(list((store / "blobs" / "packs").glob("*.pack")))
        if after >= before:
            raise BenchError(f"gc left {after} packs of {before}: it collected nothing")

    return check


def version_rows(args: argparse.Namespace) -> list[Row]:
    if "versions" in args.skip:
        return []
    has_limit = (
        "--limit"
        in subprocess.run(
            [sys.executable, "-m", "quire.cli", "artifact", "versions", "--help"], capture_output=True, text=True
        ).stdout
    )
    rows = []
    name = f"{scale_build.PROJECT}/many"
    for v in args.versions:
        kept = Path(_build(f"{v:,} versions", args.scratch, "versions", v)["store"])

        def cli(argv: list[str], kept=kept) -> Callable[[Path], Op]:
            return lambda rep: _cli(rep, scale_build.copy_store(kept, rep / "store"), argv)

        def api(rep: Path, kept=kept) -> Op:
            store = scale_build.copy_store(kept, rep / "store")
            return Op("scale_versions_page", {"store": str(store), "name": name, "per_page": 50}, *_env(rep))

        rows.append(Row("versions", "versions", v, cli(["artifact", "versions", name])))
        if has_limit:
            rows.append(Row("versions", "versions-limit", v, cli(["artifact", "versions", name, "--limit", "50"])))
        rows.append(Row("versions", "api-artifacts", v, api))
    return rows


def verify_rows(args: argparse.Namespace) -> list[Row]:
    if "verify" in args.skip:
        return []
    n, size = args.verify_files, args.blob_size
    built = _build(f"a {n:,}-file version", args.scratch, "verify", n, size)
    kept, download = Path(built["store"]), built["download"]
    name = f"{scale_build.PROJECT}/wide:v0"

    def op(extra: list[str]) -> Callable[[Path], Op]:
        return lambda rep: _cli(rep, scale_build.copy_store(kept, rep / "store"), ["artifact", "verify", name, *extra])

    return [
        Row("verify", "verify-store", n, op([]), size),
        Row("verify", "verify-root", n, op(["--root", str(download)]), size),
    ]


#: the start-up programs (row name → code), as bench/startup.py (part of the import work)
#: defines them when it is there: one definition of what is timed
STARTUP = {
    "import json, sqlite3": "import json, sqlite3",
    "import quire": "import quire",
    "quire --help": "import sys; sys.argv = ['quire', '--help']; from quire.cli import main; main()",
    "quire artifact --help": (
        "import sys; sys.argv = ['quire', 'artifact', '--help']; from quire.cli import main; main()"
    ),
}
STARTUP_OPS = {
    "import json, sqlite3": "import-baseline",
    "import quire": "import-quire",
    "quire --help": "help",
    "quire artifact --help": "artifact-help",
}


def startup_rows(args: argparse.Namespace) -> list[Row]:
    if "startup" in args.skip:
        return []
    try:
        from bench.startup import PROGRAMS as programs
    except ImportError:
        programs = STARTUP
    rows = []
    for name, code in programs.items():
        argv = [sys.executable, "-c", code]
        whole_process(argv, args.scratch / "warm-up")  # untimed: fills the page cache (and compiles what was missed)
        rows.append(Row("startup", STARTUP_OPS.get(name, name), 1, lambda rep, argv=argv: argv))
    return rows


def compiled(scratch: Path) -> None:
    """Every measured process reads compiled bytecode, as an installed package does:
    ``PYTHONDONTWRITEBYTECODE`` is dropped and Quire is compiled once into a prefix under
    the scratch folder (else each process compiles what it imports, and a module imported
    inside the clock, lazily, costs its compilation too)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    where = subprocess.run(
        [sys.executable, "-c", "import quire, os; print(os.path.dirname(quire.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", where, str(runner.BENCH_DIR)], check=True)


BUILDS: list[dict] = []


def _build(what: str, scratch: Path, kind: str, *params: int) -> dict:
    """Build (or find) a store in a child process, recording how long building took."""
    t0 = time.perf_counter()
    out = scale_build.build(scratch, kind, *params)
    took = time.perf_counter() - t0
    BUILDS.append({"what": what, "seconds": round(took, 2), "reused": not out["built"]})
    print(f"store of {what}: " + (f"built in {took:.1f} s" if out["built"] else "reused"), flush=True)
    return out


# -- measuring -----------------------------------------------------------------------------


def whole_process(argv: list[str], home: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process, fork and exec included."""
    env = runner.tool_env(home)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise BenchError(f"{shlex.join(argv)} exited {proc.returncode}: {proc.stderr.read().decode()[-300:]}")
    return seconds, usage.ru_maxrss * 1024 / 1e6


def warm(rep: Path) -> None:
    """Flush earlier writes, then read the copy's indexes and catalog once: every row
    starts from a warm page cache, as a store in use has."""
    os.sync()
    store = rep / "store"
    if store.is_dir():
        subprocess.run(
            f"find '{store}' -name '*.idx' -o -name 'catalog.db*' | xargs -r cat > /dev/null", shell=True, check=True
        )


def measure(rows: list[Row], repeat: int, budget: float, scratch: Path, label: str) -> None:
    """Round-robin over ``rows``, ``repeat`` times; a failing row is not retried."""
    for r in range(repeat):
        for row in rows:
            if row.error or sum(row.times) >= budget:
                continue
            rep = scratch / "runs" / f"{row.curve}-{row.op}-{row.size}-{r}"
            rmtree(rep)
            _home(rep).mkdir(parents=True)
            try:
                if SHARED_CACHE:  # untimed: fills the row's cache for this copy of the store
                    first = row.prepare(rep)
                    whole_process(first, _home(rep)) if isinstance(first, list) else runner.run_op(first)
                    rmtree(rep)
                    _home(rep).mkdir(parents=True)
                op = row.prepare(rep)
                warm(rep)
                if isinstance(op, list):
                    seconds, rss = whole_process(op, _home(rep))
                else:
                    out = runner.run_op(op)
                    seconds, rss = out["seconds"], out["peak_rss_mib"] * (1 << 20) / 1e6
            except Exception as e:  # noqa: BLE001  # a failed step is a row of the report, not a crash
                row.error = str(e) if isinstance(e, BenchError) else f"{type(e).__name__}: {e}"
                print(f"[{label} {r + 1}/{repeat}] {row.op} {row.size}: FAILED {row.error}", flush=True)
            else:
                row.times.append(seconds)
                row.rss_mb.append(rss)
                print(
                    f"[{label} {r + 1}/{repeat}] {row.op:<16} {row.size:>10,} {seconds:9.3f} s {rss:8.1f} MB",
                    flush=True,
                )
            finally:
                rmtree(rep)


def raw(rows: list[Row]) -> list[dict]:
    keys = ("curve", "op", "size", "blob_size", "times", "rss_mb", "error")
    return [{k: getattr(row, k) for k in keys} for row in rows]


def merge(results: list[dict]) -> dict:
    """Several runs' raw figures as one: the first run's machine, and of each (op, size)
    the first measured row."""
    seen, rows = set(), []
    for result in results:
        for row in result["rows"]:
            if row["times"] and (row["op"], row["size"]) not in seen:
                seen.add((row["op"], row["size"]))
                rows.append(row)
    builds = [b for r in results for b in r.get("builds", [])]
    return {"machine": results[0]["machine"], "builds": builds, "rows": rows, "note": results[0].get("note", "")}


def run(args: argparse.Namespace, command: str) -> dict:
    """Build (or find) the stores and measure every curve; the raw figures."""
    compiled(args.scratch)
    versions = runner.versions(sys.executable, ["quire"])
    machine = dict(bench_report.machine_info(args.scratch, versions, command))

    curves = [
        ("blobs", lambda: blob_rows(args), args.repeat),
        ("versions", lambda: version_rows(args), args.repeat),
        ("verify", lambda: verify_rows(args), args.repeat),
        ("startup", lambda: startup_rows(args), args.startup_repeat),
    ]
    measured: list[Row] = []
    for name, make, repeat in curves:
        rows = make()  # builds its stores (untimed, reported apart)
        measure(rows, repeat, args.row_budget, args.scratch, name)
        measured += rows
    rmtree(args.scratch / "runs")

    # A child's peak RSS counts its parent's at the time it was started (Linux keeps the
    # high-water mark across exec): this is the floor under every figure.
    machine["harness peak RSS"] = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000:.0f} MB"
    result = {"machine": machine, "builds": BUILDS, "rows": raw(measured)}
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args.scratch = args.scratch.resolve()
    args.scratch.mkdir(parents=True, exist_ok=True)
    if args.warm_cache:
        rmtree(args.scratch / "shared-cache")
        SHARED_CACHE.append(args.scratch / "shared-cache")
    if args.report:  # figures measured earlier: only the report
        result = merge([json.loads(path.read_text()) for path in args.report])
    else:
        result = run(args, "python -m bench.scale " + shlex.join(argv))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    before = merge([json.loads(path.read_text()) for path in args.before]) if args.before else None
    print("\n" + scale_report.text(result, before), flush=True)
    section = scale_report.markdown(result, before)
    if args.out:
        args.out.write_text(section)
        print(f"wrote {args.out}")
    if args.write:
        path = runner.REPO_ROOT / "BENCHMARKS.md"
        old = path.read_text() if path.exists() else ""
        path.write_text(scale_report.replace_section(old, section))
        print(f"wrote the ## Scale section of {path}")
    missed = [t.name for t in scale_report.targets(result["rows"]) if t.ok is False]
    if missed:
        print("targets missed: " + "; ".join(missed))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
