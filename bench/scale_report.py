"""The report of ``python -m bench.scale``: tables per curve, the targets of issue 13,
and the ``## Scale`` section of BENCHMARKS.md (with an earlier run's figures beside).

Everything here reads the raw figures (``rows``: dicts of curve, op, size, times,
rss_mb, error), so a run and a ``--before`` JSON file are summarized alike.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

LABELS = {
    "log": "log one tiny version (1 file, a new collection)",
    "read": "read one entry of a big version (`get_entry(…).download()`)",
    "download": "download a 1-file version",
    "gc-dry-run": "`quire gc --dry-run`",
    "gc": "`quire gc` after deleting one version",
    "sweep": "floor of that sweep: open the store, delete just what gc deletes",
    "versions": "`quire artifact versions NAME`",
    "versions-limit": "`quire artifact versions NAME --limit 50`",
    "api-artifacts": "`Api().artifacts(…)`, first page of 50",
    "verify-store": "`quire artifact verify NAME` (from the store)",
    "verify-root": "`quire artifact verify NAME --root DIR` (its download)",
    "import-baseline": "`python -c 'import json, sqlite3'`",
    "import-quire": "`python -c 'import quire'`",
    "help": "`quire --help`",
    "artifact-help": "`quire artifact --help`",
}
CURVES = {
    "blobs": "Blobs in the store (N)",
    "versions": "Versions in one collection (V)",
    "verify": "Verifying a many-file version",
    "startup": "Start-up, as a whole process (fork and exec included)",
}
INTRO = """\
How the costs of a fresh process grow with the store (issue 13), from
`python -m bench.scale` (see `bench/README.md`). Each measurement is a fresh process on a
fresh copy of a cached store (blob files hardlinked, catalog copied), timed after
`import quire` and the sdk and catalog modules it once loaded eagerly (after
`import quire.cli` too for a command), so opening the store and
loading its indexes count; start-up rows time the whole process. Cells: median wall
time · median peak RSS of the process; ¹ marks a row measured once (its row budget ran
out). Blobs are 4 KiB up to 10⁶ and 256 B above (the pack index and gc's marking cost
what the count of blobs costs, not their bytes). The blob stores hold the N blobs in
`bulk` (2 versions, or one per 10⁶ blobs, disjoint), plus `victim:v0` (100 blobs in packs
of their own: the version the gc row deletes first) and `one:v0` (1 file)."""


@dataclass(frozen=True)
class Stat:
    seconds: float
    rss_mb: float
    n: int


@dataclass(frozen=True)
class Target:
    key: str  #: stable across runs: matches a --before run's figure
    name: str
    wanted: str
    value: str
    ok: bool | None  #: None: not measured


def stats(rows: list[dict]) -> dict[tuple[str, int], Stat]:
    """(op, size) → medians, for the rows that were measured."""
    return {
        (r["op"], r["size"]): Stat(statistics.median(r["times"]), statistics.median(r["rss_mb"]), len(r["times"]))
        for r in rows
        if r["times"]
    }


def _sizes(st: dict[tuple[str, int], Stat], op: str) -> list[int]:
    return sorted(size for o, size in st if o == op)


def size_name(n: int) -> str:
    """10⁴ for a power of ten, else 1,234."""
    k = len(str(n)) - 1
    if n >= 100 and n == 10**k:
        return "10" + str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{n:,}"


def _ratio(x: float) -> str:
    return f"{x:.2f}×" if x < 100 else f"{x:.0f}×"


def targets(rows: list[dict]) -> list[Target]:
    """Issue 13's targets, at the sizes this run measured (its largest for "10⁷")."""
    st = stats(rows)
    out = []

    def growth(op: str, key: str, wanted: float, rss_below: float | None = None) -> None:
        sizes = _sizes(st, op)
        if len(sizes) >= 2:
            lo, hi = sizes[0], sizes[-1]
            r = st[op, hi].seconds / st[op, lo].seconds
            name = f"{op} at {size_name(hi)}: time ÷ at {size_name(lo)}"
            out.append(Target(f"{key}-time", name, f"≤{wanted:g}×", _ratio(r), r <= wanted))
        if rss_below is not None and sizes:
            rss = st[op, sizes[-1]].rss_mb
            name = f"{op} at {size_name(sizes[-1])}: peak RSS"
            out.append(Target(f"{key}-rss", name, f"<{rss_below:g} MB", f"{rss:.0f} MB", rss < rss_below))

    for op in ("log", "read", "download"):
        growth(op, op, 1.5, rss_below=100)
    dry = _sizes(st, "gc-dry-run")
    if dry:
        hi = dry[-1]
        rss = st["gc-dry-run", hi].rss_mb
        out.append(
            Target("gc-dry-rss", f"gc --dry-run at {size_name(hi)}: peak RSS", "<500 MB", f"{rss:.0f} MB", rss < 500)
        )
    if len(dry) >= 2:
        prev, hi = dry[-2], dry[-1]
        r = st["gc-dry-run", hi].seconds / st["gc-dry-run", prev].seconds
        name = f"gc --dry-run at {size_name(hi)}: time ÷ at {size_name(prev)} (linear or better)"
        out.append(Target("gc-dry-growth", name, f"≤{hi / prev:g}×", _ratio(r), r <= hi / prev))
    both = sorted(set(_sizes(st, "gc")) & set(_sizes(st, "sweep")))
    if both:
        hi = both[-1]
        r = st["gc", hi].seconds / st["sweep", hi].seconds
        name = f"gc after a 1-version delete at {size_name(hi)}: time ÷ its sweep's floor"
        out.append(Target("gc-incremental", name, "≤2×", _ratio(r), r <= 2))
    for op in ("versions", "versions-limit", "api-artifacts"):
        growth(op, op, 1.5)
    for size in _sizes(st, "verify-store"):
        if ("verify-root", size) in st:
            r = st["verify-store", size].seconds / st["verify-root", size].seconds
            name = f"verify of {size:,} files from the store ÷ `--root` of its download"
            out.append(Target("verify", name, "≤3×", _ratio(r), r <= 3))
    if ("import-quire", 1) in st and ("import-baseline", 1) in st:
        q, base = st["import-quire", 1].seconds, st["import-baseline", 1].seconds
        bound = 1.5 * base + 0.05
        name = "`import quire` ÷ (1.5 × `import json, sqlite3` + 50 ms)"
        out.append(Target("import", name, "≤1×", _ratio(q / bound), q <= bound))
    return out


def _cell(s: Stat | None, before: Stat | None) -> str:
    if s is None:
        return "–" if before is None else f"– (before {_fmt(before.seconds)} · {before.rss_mb:.0f} MB)"
    text = f"{_fmt(s.seconds)} · {s.rss_mb:.0f} MB" + ("¹" if s.n == 1 else "")
    if before is not None:
        text += f" (before {_fmt(before.seconds)} · {before.rss_mb:.0f} MB)"
    return text


def _fmt(s: float) -> str:
    """Seconds with their unit, to about three figures (a sweep's floor is microseconds)."""
    if s < 0.01:
        return f"{s * 1000:.2g} ms"
    return (f"{s:.3f}" if s < 1 else f"{s:.2f}" if s < 10 else f"{s:.0f}") + " s"


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]


def _curve(curve: str, rows: list[dict], before: list[dict] | None) -> list[str]:
    st, old = stats(rows), stats(before or [])
    ops = list(dict.fromkeys(r["op"] for r in rows if r["curve"] == curve))
    sizes = sorted({r["size"] for r in rows if r["curve"] == curve})
    errors = [
        f"- {r['op']} at {size_name(r['size'])} failed: {r['error']}"
        for r in rows
        if r["curve"] == curve and r["error"]
    ]
    if not ops:
        return []
    grows = curve in ("blobs", "versions") and len(sizes) > 1
    header = ["operation", *([size_name(s) for s in sizes] if grows else ["median"])]
    header += ["largest ÷ smallest"] if grows else []
    body = []
    for op in ops:
        cells = [_cell(st.get((op, s)), old.get((op, s)) if before else None) for s in sizes]
        if grows:
            cells.append(_growth(st, op, sizes) + (f" (before {_growth(old, op, sizes)})" if before else ""))
        body.append([LABELS.get(op, op), *cells])
    return ["", f"### {CURVES[curve]}", "", *_table(header, body), *(["", *errors] if errors else [])]


def _growth(st: dict[tuple[str, int], Stat], op: str, sizes: list[int]) -> str:
    lo, hi = st.get((op, sizes[0])), st.get((op, sizes[-1]))
    if lo is None or hi is None:
        return "–"
    return f"{_ratio(hi.seconds / lo.seconds)} time, {_ratio(hi.rss_mb / lo.rss_mb)} RSS"


def markdown(result: dict, before: dict | None = None) -> str:
    """The ``## Scale`` section: the curves, the builds, the targets."""
    m = result["machine"]
    rows, old = result["rows"], before["rows"] if before else None
    out = ["## Scale", "", INTRO.replace("\n", " "), ""]
    out.append(
        f"Run {m.get('date', '?')}: {m.get('command', '')} on {m.get('nproc', '?')} cores, {m.get('RAM', '?')} "
        f"(load average at start {m.get('load average at start', '?')}); {m.get('versions', '')}."
    )
    if result.get("note"):
        out.append(f"Note: {result['note']}.")
    if before:
        bm = before["machine"]
        out.append(f"Before: {bm.get('date', '?')}, {bm.get('command', '')}, {bm.get('versions', '')}.")
    built = [f"{b['what']} {b['seconds']:.0f} s" for b in result.get("builds", []) if not b["reused"]]
    if built:
        out += ["", "Stores built for this run (not measured rows): " + "; ".join(built) + "."]
    for curve in CURVES:
        out += _curve(curve, rows, old)
    now, then = targets(rows), {t.key: t for t in targets(old or [])}
    body = []
    for t in now:
        mark = "✓" if t.ok else "✗"
        prior = then.get(t.key)
        body.append(
            [t.name, t.wanted, prior.value if prior else "–", f"{t.value} {mark}"]
            if before
            else [t.name, t.wanted, f"{t.value} {mark}"]
        )
    header = ["target (issue 13)", "wanted", "before", "now"] if before else ["target (issue 13)", "wanted", "measured"]
    out += ["", "### Targets", "", *_table(header, body), ""]
    return "\n".join(out)


def text(result: dict, before: dict | None = None) -> str:
    """What the terminal shows: the same section (Markdown tables read well as text)."""
    return markdown(result, before)


def replace_section(document: str, section: str, heading: str = "## Scale") -> str:
    """``document`` with its ``heading`` section replaced by ``section`` (inserted before
    ``## Method``, else at the end, when it has none); other sections are kept as they are."""
    lines = document.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == heading), None)
    if start is None:
        at = next((i for i, ln in enumerate(lines) if ln.strip() == "## Method"), len(lines))
        end = at
        start = at
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = section.rstrip("\n").splitlines()
    return "\n".join([*lines[:start], *new, *([""] if end < len(lines) else []), *lines[end:]]) + "\n"


#: the sections of BENCHMARKS.md other commands write (``bench.scale``, ``bench.web``)
KEPT = ("## Scale", "## WEB: page render times at size")


def keep_section(old: str, new: str) -> str:
    """``new`` (a whole BENCHMARKS.md the main harness made) with ``old``'s sections of
    :data:`KEPT` carried over: each command owns its part of the file."""
    lines = old.splitlines()
    for heading in KEPT:
        start = next((i for i, ln in enumerate(lines) if ln.strip() == heading), None)
        if start is None:
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = replace_section(new, "\n".join(lines[start:end]), heading)
    return new
