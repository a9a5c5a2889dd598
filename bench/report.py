"""Summaries, the machine description, and the plain-text and Markdown tables."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.runner import Case, Result

HEADER = ["tool", "variant", "median s", "min–max s", "CPU s", "import s", "ratio", "target"]

NOTES = """\
- Each measured operation runs in a fresh subprocess; the time is taken inside it with
  `time.perf_counter()` after the tool's imports, so interpreter and import start-up are
  excluded for every tool alike ("import s" shows the imports separately).
- Repetitions are interleaved across rows (round-robin) so load from other processes
  spreads over all tools; medians of the repetitions are shown, with min–max.
- Before each measurement the harness flushes dirty pages (`sync`) and reads the input
  tree once (`find … -type f -exec cat {} + > /dev/null`), so the page cache is warm.
- Every repetition gets its own HOME, XDG dirs, TMPDIR, wandb dirs and dvc site cache,
  and (for first logs) a fresh Quire store / wandb run dir / `git init && dvc init` repo.
- wandb runs with `WANDB_MODE=offline`, `WANDB_SILENT=true`, `WANDB_DISABLE_GIT=true`,
  `WANDB_DISABLE_CODE=true`; timed: `wandb.init()` … `run.finish()`. dvc runs its CLI
  in-process (`dvc.cli.main`) with `core.analytics`, `core.autostage` and
  `core.check_update` off. Quire's timed part: `quire.init()` … `art.wait();
  run.finish()`, or `Api().artifact(…).download(root=…)`.
- "CPU s" is the median user + system CPU time spent while timed, by the process and
  the child processes it waited for (for C1's writers row: the writer processes alone).
  On 2 cores, many processes at once show their cost there rather than in wall time.
- ratio = median of the first named row ÷ median of the second ("this" = the row
  itself): above 1 means Quire is that many times faster. A target ≥0.5× means "Quire
  within 2× of it". Where a CPU target is set, the ratio of CPU medians is shown too.
- Compare rows of one run: on a small VM, creating many files is erratic (a `cp -r` of
  W1 took from 0.7 s to 15 s within one hour here), and the anchor rows show how fast
  the machine was during this run."""


def _fmt(s: float) -> str:
    return f"{s:.3f}" if s < 10 else f"{s:.1f}"


def summarize(cases: list[Case], results: dict[str, Result]) -> list[list[str]]:
    """One table row per case (cells as strings)."""
    medians = {label: statistics.median(r.times) for label, r in results.items() if r.times}
    cpu = {label: statistics.median(r.cpu) for label, r in results.items() if r.cpu}
    rows = []
    for c in cases:
        r = results[c.label]
        if r.error and not r.times:
            rows.append([c.tool, c.variant, "failed", "", "", "", r.error[:160], ""])
            continue
        ratio, targets = "", []
        if c.ratio:
            num, den = c.ratio
            names = [("this" if n == c.label else n) for n in c.ratio]
            wall = medians[num] / medians[den] if num in medians and den in medians else None
            on_cpu = cpu[num] / cpu[den] if num in cpu and den in cpu and cpu[den] > 0 else None
            if wall is not None:
                ratio = f"{wall:.2f}×"
                if c.cpu_target is not None and on_cpu is not None:
                    ratio = f"wall {wall:.2f}×, CPU {on_cpu:.2f}×"
                ratio += f" ({names[0]} / {names[1]})"
            targets += [_target(c.target, wall, ""), _target(c.cpu_target, on_cpu, "CPU ")]
        figures = _figures(r.extra)
        for key, bound in c.limits.items():
            value = figures.get(key, (None, ""))[0]
            mark = "" if value is None else " ✓" if value <= bound else " ✗"
            targets.append(f"{key} ≤{bound:g}{mark}")
        rows.append(
            [
                c.tool,
                c.variant + "".join(f"; {key} {shown}" for key, (_, shown) in figures.items()),
                _fmt(medians[c.label]),
                f"{_fmt(min(r.times))}–{_fmt(max(r.times))}",
                _fmt(cpu[c.label]) if c.label in cpu else "",
                _fmt(statistics.median(r.imports)),
                ratio,
                ", ".join(t for t in targets if t),
            ]
        )
    return rows


def _figures(extra: list[dict]) -> dict[str, tuple[float, str]]:
    """The medians (and min–max) of the figures a row's checks returned, by name."""
    out = {}
    for key in dict.fromkeys(k for e in extra for k in e):
        values = [e[key] for e in extra if key in e]
        med = statistics.median(values)
        shown = _num(med) + (f" ({_num(min(values))}–{_num(max(values))})" if min(values) != max(values) else "")
        out[key] = (med, shown)
    return out


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else _fmt(x)


def _target(wanted: float | None, value: float | None, what: str) -> str:
    """A target cell: ``≥0.5× ✓``; without a mark when the ratio is missing."""
    if wanted is None:
        return ""
    return f"{what}≥{wanted:g}×" + ("" if value is None else " ✓" if value >= wanted else " ✗")


def missed_targets(rows: list[list[str]]) -> list[str]:
    return [f"{r[0]} {r[1]}" for r in rows if "✗" in r[-1]]


def text_table(title: str, rows: list[list[str]]) -> str:
    table = [HEADER, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = [title, "=" * len(title)]
    for n, r in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in rows]
    return "\n".join(out)


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_info(scratch: Path, versions: dict[str, str], command: str) -> list[tuple[str, str]]:
    df = subprocess.run(["df", "-PT", str(scratch)], capture_output=True, text=True).stdout.split()
    fs = f"{df[-6]} on {df[-7]} ({df[-1]})" if len(df) >= 7 else "unknown"
    mem_kib = _first("/proc/meminfo", "MemTotal").split()[0]
    ram = f"{int(mem_kib) / (1 << 20):.1f} GiB" if mem_kib.isdigit() else "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("command", f"`{command}`"),
        ("nproc", f"{os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})"),
        ("RAM", ram),
        ("CPU", _first("/proc/cpuinfo", "model name")),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("scratch", f"`{scratch}`, filesystem {fs}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("load average at start", load),
    ]


def markdown(machine: list[tuple[str, str]], sections: list[tuple[object, list[list[str]]]]) -> str:
    out = [
        "# Quire benchmarks",
        "",
        "Generated by the harness in `bench/` (see `bench/README.md`); regenerate, "
        "don't edit by hand. Timings on a small shared machine are noisy.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in machine]
    for wl, rows in sections:
        out += ["", f"## {wl.name}: {wl.title}", "", wl.doc.replace("\n", " "), "", markdown_table(rows)]
    out += ["", "## Method", "", NOTES, ""]
    return "\n".join(out)
