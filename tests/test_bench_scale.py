"""``python -m bench.scale``: its report and targets (fast), and a smoke run of the builder
and every measured operation at a tiny size in a subprocess (slow: dozens of processes).

Nothing here checks a timing: the smoke run checks that every row was measured and
reported, and that the builder's stores hold what gc and the readers expect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench import scale_report
from bench.scale_report import replace_section, targets

REPO = Path(__file__).resolve().parents[1]


def _row(op: str, size: int, seconds: float, rss: float = 50.0, curve: str = "blobs") -> dict:
    return {
        "curve": curve,
        "op": op,
        "size": size,
        "blob_size": 4096,
        "times": [seconds],
        "rss_mb": [rss],
        "error": None,
    }


def _by_key(rows: list[dict]) -> dict[str, scale_report.Target]:
    return {t.key: t for t in targets(rows)}


def test_targets_compare_the_largest_size_with_the_smallest() -> None:
    rows = [_row("read", 10**4, 0.2), _row("read", 10**5, 9.0), _row("read", 10**6, 0.29, rss=120)]
    found = _by_key(rows)
    assert found["read-time"].ok is True  # 0.29 / 0.2 = 1.45, within 1.5×: the middle size does not count
    assert found["read-time"].value == "1.45×"
    assert found["read-rss"].ok is False  # 120 MB at 10⁶ is over 100 MB
    assert "10⁶" in found["read-time"].name and "10⁴" in found["read-time"].name


def test_gc_targets_linear_growth_memory_and_the_sweep_floor() -> None:
    rows = [
        _row("gc-dry-run", 10**5, 2.0),
        _row("gc-dry-run", 10**6, 25.0, rss=880),
        _row("gc", 10**6, 30.0),
        _row("sweep", 10**6, 0.02),
    ]
    found = _by_key(rows)
    assert found["gc-dry-growth"].ok is False  # 12.5× for 10× the blobs: worse than linear
    assert found["gc-dry-rss"].ok is False
    assert found["gc-incremental"].ok is False
    rows[1] = _row("gc-dry-run", 10**6, 19.0, rss=400)
    found = _by_key(rows)
    assert found["gc-dry-growth"].ok is True and found["gc-dry-rss"].ok is True


def test_verify_and_import_targets() -> None:
    rows = [
        _row("verify-store", 50_000, 30.0, curve="verify"),
        _row("verify-root", 50_000, 12.0, curve="verify"),
        _row("import-baseline", 1, 0.1, curve="startup"),
        _row("import-quire", 1, 0.21, curve="startup"),
    ]
    found = _by_key(rows)
    assert found["verify"].ok is True  # 2.5×
    assert found["import"].ok is False  # 0.21 s > 1.5 × 0.1 + 0.05
    rows[3] = _row("import-quire", 1, 0.19, curve="startup")
    assert _by_key(rows)["import"].ok is True


def test_a_failed_or_missing_row_makes_no_target() -> None:
    failed = {**_row("log", 10**6, 1.0), "times": [], "rss_mb": [], "error": "boom"}
    assert "log-time" not in _by_key([_row("log", 10**4, 0.1), failed])


def test_the_scale_section_is_replaced_and_nothing_else() -> None:
    doc = "# Quire benchmarks\n\n## W1: x\n\nw1 table\n\n## Method\n\nnotes\n"
    first = replace_section(doc, "## Scale\n\nfirst\n")
    assert first.index("## W1") < first.index("## Scale") < first.index("## Method")
    second = replace_section(first, "## Scale\n\nsecond\n")
    assert "first" not in second and "second" in second
    assert second.replace("## Scale\n\nsecond\n\n", "") == doc


def test_the_main_harness_keeps_the_scale_section() -> None:
    old = replace_section("# Quire benchmarks\n\n## Method\n\nold notes\n", "## Scale\n\nscale figures\n")
    new = "# Quire benchmarks\n\n## W1: x\n\nnew table\n\n## Method\n\nnew notes\n"
    kept = scale_report.keep_section(old, new)
    assert "scale figures" in kept and "new table" in kept and "old notes" not in kept
    assert scale_report.keep_section("# nothing\n", new) == new


def test_before_figures_are_shown_beside() -> None:
    machine = {"date": "d", "command": "c", "versions": "quire 0"}
    before = {"machine": machine, "rows": [_row("log", 10**4, 0.5), _row("log", 10**6, 3.0)]}
    now = {"machine": machine, "rows": [_row("log", 10**4, 0.4), _row("log", 10**6, 0.5)]}
    text = scale_report.markdown(now, before)
    assert "(before 3.00 s · 50 MB)" in text
    assert "| log at 10⁶: time ÷ at 10⁴ | ≤1.5× | 6.00× | 1.25× ✓ |" in text


@pytest.mark.slow
def test_a_tiny_run_measures_and_reports_every_row(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    out, raw = tmp_path / "scale.md", tmp_path / "scale.json"
    argv = [sys.executable, "-m", "bench.scale", "--blobs", "200,400", "--versions", "3,6"]
    argv += ["--verify-files", "20", "--repeat", "1", "--startup-repeat", "1", "--scratch", str(tmp_path / "s")]
    argv += ["--json", str(raw), "--out", str(out), "--check"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == (1 if "targets missed" in done.stdout else 0), done.stdout[-2000:] + done.stderr[-2000:]

    result = json.loads(raw.read_text())
    measured = {(r["op"], r["size"]): r for r in result["rows"]}
    assert all(r["error"] is None and len(r["times"]) == 1 for r in result["rows"]), result["rows"]
    for n in (200, 400):
        for op in ("log", "read", "download", "gc-dry-run", "gc", "sweep"):
            assert (op, n) in measured
    for v in (3, 6):
        assert ("versions", v) in measured and ("api-artifacts", v) in measured
    assert ("verify-store", 20) in measured and ("verify-root", 20) in measured
    for op in ("import-baseline", "import-quire", "help", "artifact-help"):
        assert (op, 1) in measured
    assert all(not b["reused"] for b in result["builds"])  # a fresh scratch folder: all built

    section = out.read_text()
    assert section.startswith("## Scale")
    for op in {r["op"] for r in result["rows"]}:
        assert scale_report.LABELS[op] in section
    for target in targets(result["rows"]):
        assert target.name in section

    # A second look finds the store built (the cache is keyed by size and format).
    again = subprocess.run(
        [sys.executable, "-m", "bench.scale_build", str(tmp_path / "s"), "blobs", "200", "4096"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(again.stdout)["built"] is False


def test_before_runs_merge_first_measured_row_wins() -> None:
    from bench.scale import merge

    first = {"machine": {"date": "one"}, "rows": [_row("log", 10**4, 0.5), {**_row("log", 10**7, 1), "times": []}]}
    second = {"machine": {"date": "two"}, "rows": [_row("log", 10**4, 0.9), _row("log", 10**7, 30.0)]}
    merged = merge([first, second])
    assert merged["machine"]["date"] == "one"
    assert {(r["size"], r["times"][0]) for r in merged["rows"]} == {(10**4, 0.5), (10**7, 30.0)}
