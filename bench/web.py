"""Server time of every web page at size (issue 15):
``python -m bench.web [--repeat 15] [--scratch DIR] [--json FILE] [--out FILE] [--check]``.

Target: every page renders in under 200 ms of server time with 100,000 versions in a
collection and 1,000,000 entries in a version. Two stores of the same shape are built
once and kept in ``--scratch`` (``bench/web_build.py``): the big one at those sizes and a
small one (2 versions, 10 entries) as the baseline, so that the ratio big ÷ small says
whether a page grows with the store.

Each store is served by a real ``quire server`` process (``bench/server.py``) on loopback,
as users reach it: its uvicorn, middleware and thread pool are in the figure, and the
harness never imports Quire (its memory stays out of the server's). The time of a
request is the ``ms`` field of the server's JSON request log: from the request's arrival
in the app to its whole answer rendered (the pages answer with a complete HTML body),
without the client's share. The client's wall time per request is kept beside it.

Every page is asked once untimed (templates compiled, the page cache warm), then
``--repeat`` times, round-robin over the pages, one request at a time over one kept-alive
connection with the admin key as a bearer key. Reported per page: median and p90 of the
server's ms on both stores, and the ratio of the medians big ÷ small.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from bench import report, scale_report
from bench.runner import BenchError, rmtree
from bench.server import Server

TARGET_MS = 200.0
CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass
class Page:
    label: str
    url: str  #: of the big store; ``small`` when the small one needs another
    small: str | None = None


@dataclass
class Timing:
    server_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    bytes: int = 0
    error: str = ""


def pages(big: dict, small: dict) -> list[Page]:
    """The pages to time, each asked of both stores (the same URL unless the small store
    has no such place: a deep page is the last one of its listing there)."""
    b, s = big["shape"], small["shape"]

    def deep_folder(shape: dict) -> str:
        i = shape["folders"] - 1
        j = max(shape["files"] - 100, 0)
        return f"/p/bench/big/v1/files/d{i:04d}?after=f{i * shape['files'] + j - 1:07d}.bin"

    table = "/p/bench/big/v1/preview/tables/rows.table.parquet"
    return [
        Page("home", "/"),
        Page("project", "/p/bench"),
        Page("collection, first page", "/p/bench/many"),
        Page(
            "collection, deep page (?after= the middle)",
            f"/p/bench/many?after={b['versions'] // 2}",
            f"/p/bench/many?after={s['versions'] // 2}",
        ),
        Page("version overview (many:latest)", "/p/bench/many/latest"),
        Page("version overview (big:v1)", "/p/bench/big/v1"),
        Page("files, root (1,002 children)", "/p/bench/big/v1/files"),
        Page("files, root, deep page (?after=d0900/)", "/p/bench/big/v1/files?after=" + quote("d0900/", safe="")),
        Page("files, a folder (d0500/, 1,000 files)", "/p/bench/big/v1/files/d0500", "/p/bench/big/v1/files/d0001"),
        Page("files, last page of the last folder", deep_folder(b), deep_folder(s)),
        Page("preview text (200 MiB file)", "/p/bench/big/v1/preview/text/big.txt"),
        Page("preview table, first page", table),
        Page("preview table, page 100 (rows 5,000…)", table + "?page=100"),
        Page("preview table, page 10,000 (rows 500,000…)", table + "?page=10000"),
        Page("preview table, last page (rows 999,950…)", table + f"?page={b['rows'] // 50 - 1}"),
        Page("preview table, sorted by a column (desc)", table + "?sort=score&desc=1"),
        Page("diff many: latest against its previous", "/p/bench/many/latest/diff"),
        Page("diff many: latest against v0", "/p/bench/many/latest/diff?against=v0"),
        Page("diff big: v1 against v0 (1,000,002 entries each)", "/p/bench/big/v1/diff?against=v0"),
        Page("lineage (big:v1)", "/p/bench/big/v1/lineage"),
        Page(
            "lineage (many: a middle version)",
            f"/p/bench/many/v{b['versions'] // 2}/lineage",
            f"/p/bench/many/v{s['versions'] // 2}/lineage",
        ),
        Page("runs, first page", "/p/bench/~runs"),
        Page("run page (10,000 history rows)", f"/p/bench/~runs/{big['run']}"),
        Page("pending versions", "/p/bench/~pending"),
        Page(
            "pending version (8 × 25,000 entries)",
            f"/p/bench/~pending/{big['pending']}",
            f"/p/bench/~pending/{small['pending']}",
        ),
    ]


def build(scratch: Path, which: str) -> dict:
    """Build (or find) a store in a child process (``bench/web_build.py``)."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-m", "bench.web_build", str(scratch), which]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"building the {which} web store failed (exit {done.returncode}); see above")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Client:
    """One kept-alive HTTP connection to a server; each GET paired with its log line."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        self.headers = {"Authorization": f"Bearer {server.key}"}
        self.seen = len(server.requests())

    def get(self, url: str) -> tuple[float, float, int, int]:
        """(server ms, client ms, status, body bytes)."""
        t0 = time.perf_counter()
        self.conn.request("GET", url, headers=self.headers)
        answer = self.conn.getresponse()
        body = answer.read()
        client_ms = (time.perf_counter() - t0) * 1000
        for _ in range(100):  # the log line is written as the answer goes out: wait for it
            lines = self.server.requests()
            if len(lines) > self.seen:
                break
            time.sleep(0.01)
        else:
            raise BenchError(f"no request log line for {url}")
        if len(lines) != self.seen + 1:
            raise BenchError(f"{len(lines) - self.seen} log lines for one request to {url}")
        self.seen = len(lines)
        if b'id="content"' not in body and answer.status == 200:
            raise BenchError(f"{url}: a 200 without the page's <main id=content>")
        return float(lines[-1]["ms"]), client_ms, answer.status, len(body)


def measure(server: Server, urls: list[str], repeat: int, label: str) -> list[Timing]:
    client = Client(server)
    try:
        return _rounds(client, urls, repeat, label)
    finally:
        client.conn.close()


def _rounds(client: Client, urls: list[str], repeat: int, label: str) -> list[Timing]:
    timings = [Timing() for _ in urls]
    for r in range(repeat + 1):  # the first round is the untimed warm-up
        for url, t in zip(urls, timings, strict=True):
            if t.error:
                continue
            ms, wall, status, size = client.get(url)
            if status != 200:
                t.error = f"HTTP {status}"
                print(f"[{label}] {url}: HTTP {status}", flush=True)
                continue
            if r:
                t.server_ms.append(ms)
                t.client_ms.append(wall)
                t.bytes = size
        if r:
            print(
                f"[{label} {r}/{repeat}] " + " ".join(f"{t.server_ms[-1]:.0f}" for t in timings if t.server_ms),
                flush=True,
            )
    return timings


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


def _ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


HEADER = [
    "page",
    "big: median ms",
    "big: p90 ms",
    "small: median ms",
    "small: p90 ms",
    "big ÷ small",
    "client ms (big)",
    "target <200 ms",
]


def rows(table: list[Page], big: list[Timing], small: list[Timing]) -> tuple[list[list[str]], list[str]]:
    out, missed = [], []
    for page_, b, s in zip(table, big, small, strict=True):
        if b.error or not b.server_ms:
            out.append([page_.label, "failed: " + b.error, "", "", "", "", "", "✗"])
            missed.append(page_.label)
            continue
        bm, sm = statistics.median(b.server_ms), statistics.median(s.server_ms) if s.server_ms else math.nan
        met = bm < TARGET_MS
        if not met:
            missed.append(page_.label)
        out.append(
            [
                page_.label,
                _ms(bm),
                _ms(p90(b.server_ms)),
                _ms(sm) if s.server_ms else "failed: " + s.error,
                _ms(p90(s.server_ms)) if s.server_ms else "",
                f"{bm / sm:.2f}×" if s.server_ms and sm > 0 else "",
                _ms(statistics.median(b.client_ms)),
                "✓" if met else "✗",
            ]
        )
    return out, missed


def markdown(table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in table]
    return "\n".join(lines)


HEADING = "## WEB: page render times at size"

METHOD = """\
Server time of every page of the web UI (issue 15), from `python -m bench.web` (see
`bench/README.md`). Target: every page renders in under 200 ms of server time with 100,000
versions in a collection and 1,000,000 entries in a version. The big store holds `many`
(100,000 versions of one entry each, logged 10 a run by 10,000 runs, each run using the
last version of the one before), `big:v0` and `big:v1` (1,000,000 entries in 1,000 folders
× 1,000 files, plus `tables/rows.table.parquet`, 1,000,000 rows × 5 columns written as
`quire.Table` writes one: `pq.write_table`'s defaults, so one row group; the preview shows
50 rows a page), and `text/big.txt`, 200 MiB of lines; `v1` is `v0` with one file
changed and one added), an open pending version of 8 contributions × 25,000 entries (past
the 20,000 entries up to which the pending page merges to name conflicts: the page says the
finisher names them; a merge costs about 7 µs an entry, so the page at 20,000 is ~140 ms
more, not measured here) and a run with 10,000 history rows.
The small store has the same shape at 2 versions and 10 entries (its deep pages are the
last of their listing). Each store is served by its own `quire server` process on loopback;
the time is the `ms` of the server's JSON request log (the app's time from the request to
the rendered answer: routing, key check, catalog and blob reads, rendering; not the
network or the client). Every page is asked once untimed (templates compiled, page cache
warm), then the given number of times, round-robin over the pages, one request at a time
with an admin bearer key. "client ms": the client's median wall time per request (big
store), connection and transfer included. big ÷ small: ratio of the medians; near 1 means
the page does not grow with the store. ✓: the big store's median is under 200 ms."""


def section(machine: list[tuple[str, str]], table: list[list[str]], missed: list[str]) -> str:
    info = dict(machine)
    run = (
        f"Run {info.get('date', '')} with {info.get('command', '')} on {info.get('nproc', '?')} cores, "
        f"{info.get('RAM', '?')} (load average at start {info.get('load average at start', '?')})."
    )
    verdict = "Every page met the target." if not missed else "**Over 200 ms (median)**: " + "; ".join(missed) + "."
    return "\n\n".join([HEADING, METHOD, run, markdown(table), verdict]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=15, help="timed requests per page and store (default 15)")
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "quire-web")
    p.add_argument("--json", type=Path, help="also dump the raw timings here")
    p.add_argument("--out", type=Path, help="write the Markdown section here")
    p.add_argument("--check", action="store_true", help="exit 1 when a page misses 200 ms")
    p.add_argument("--write", action="store_true", help=f"replace BENCHMARKS.md's {HEADING!r} section")
    args = p.parse_args(argv)
    command = "python -m bench.web " + shlex.join(argv if argv is not None else sys.argv[1:])

    t0 = time.perf_counter()
    stores = {which: build(args.scratch, which) for which in ("small", "big")}
    print(f"stores ready in {time.perf_counter() - t0:.0f} s (big built in {stores['big']['build_seconds']:.0f} s)")
    table = pages(stores["big"], stores["small"])
    machine = report.machine_info(args.scratch, {}, command)
    results: dict[str, list[Timing]] = {}
    for which in ("small", "big"):
        home = args.scratch / "runs" / which
        rmtree(home)
        home.mkdir(parents=True)
        server = Server(sys.executable, home, store=Path(stores[which]["store"]), key=stores[which]["key"])
        try:
            urls = [(pg.small or pg.url) if which == "small" else pg.url for pg in table]
            results[which] = measure(server, urls, args.repeat, which)
        finally:
            server.stop()
    out, missed = rows(table, results["big"], results["small"])
    text = markdown(out)
    print("\n" + text + "\n")
    print(f"machine: {dict(machine)}")
    if args.out:
        args.out.write_text(section(machine, out, missed))
    if args.write:
        path = CHECKOUT / "BENCHMARKS.md"
        path.write_text(scale_report.replace_section(path.read_text(), section(machine, out, missed), HEADING))
        print(f"wrote {path}")
    if args.json:
        raw = {w: [vars(t) | {"page": pg.label} for pg, t in zip(table, ts, strict=True)] for w, ts in results.items()}
        args.json.write_text(json.dumps({"machine": dict(machine), "stores": stores, "results": raw}, indent=1))
    if missed:
        print("pages over 200 ms: " + "; ".join(missed))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
