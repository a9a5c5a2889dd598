"""``python -m bench.web``: its report (fast), and a smoke run of the builder and every
timed page on the small store through a real ``quire server`` (slow: a server process).

Nothing here checks a timing: the smoke run checks that every page the benchmark asks
for answers 200 with a page, and that every request got its own line in the server's log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench import scale_report, web
from bench.scale_report import replace_section

REPO = Path(__file__).resolve().parents[1]


def test_the_main_harness_keeps_the_web_section_beside_the_scale_one() -> None:
    old = replace_section("# Quire benchmarks\n\n## Method\n\nold notes\n", "## Scale\n\nscale figures\n")
    old = replace_section(old, f"{web.HEADING}\n\nweb figures\n", web.HEADING)
    new = "# Quire benchmarks\n\n## W1: x\n\nnew table\n\n## Method\n\nnew notes\n"
    kept = scale_report.keep_section(old, new)
    assert "scale figures" in kept and "web figures" in kept and "new table" in kept
    assert kept.index("## W1") < kept.index(web.HEADING) < kept.index("## Method")


def test_a_page_misses_on_the_big_median_and_shows_its_ratio() -> None:
    pages = [web.Page("fast", "/a"), web.Page("slow", "/b")]
    big = [web.Timing([10.0, 12.0, 400.0]), web.Timing([250.0, 260.0, 20.0])]
    small = [web.Timing([5.0, 6.0, 7.0]), web.Timing([5.0, 5.0, 5.0])]
    for t in big + small:
        t.client_ms = list(t.server_ms)
    rows, missed = web.rows(pages, big, small)
    assert missed == ["slow"]
    fast, slow = rows
    assert fast[1:3] == ["12.0", "400"] and fast[5] == "2.00×" and fast[-1] == "✓"  # p90 of 3 is the largest
    assert slow[1] == "250" and slow[5] == "50.00×" and slow[-1] == "✗"


@pytest.mark.slow
def test_every_page_answers_on_the_small_store(tmp_path: Path) -> None:
    from bench.server import Server

    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    done = subprocess.run(
        [sys.executable, "-m", "bench.web_build", str(tmp_path / "s"), "small"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    small = json.loads(done.stdout.strip().splitlines()[-1])
    pages = web.pages(small, small)
    (tmp_path / "home").mkdir()
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]  # the server process imports this checkout's quire
    try:
        server = Server(sys.executable, tmp_path / "home", store=Path(small["store"]), key=small["key"])
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    try:
        timings = web.measure(server, [p.small or p.url for p in pages], 1, "smoke")
    finally:
        server.stop()
    failed = {p.label: t.error for p, t in zip(pages, timings, strict=True) if t.error or len(t.server_ms) != 1}
    assert not failed
