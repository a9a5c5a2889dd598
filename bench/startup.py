"""Start-up cost: ``python -m bench.startup [--repeat 10]``.

Times fresh processes of this interpreter, each doing one thing and exiting: ``import
json, sqlite3`` (the floor: what any program that keeps a SQLite file pays), ``import
quire``, ``quire --help`` and ``quire artifact --help``. Each row is the median wall time
of ``--repeat`` processes, interleaved so that a burst of load on a shared machine
spreads over every row. Every process reads compiled bytecode, as an installed package
does: ``PYTHONDONTWRITEBYTECODE`` is dropped and the ``.pyc`` files go to a scratch folder
(``PYTHONPYCACHEPREFIX``), written by an untimed first run. The target (issue 13):
``import quire`` at most 1.5× the floor plus 50 ms.

:func:`measure` returns the medians, for ``bench.scale`` (or any report) to print.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

#: row name → the code one fresh process runs
PROGRAMS = {
    "import json, sqlite3": "import json, sqlite3",
    "import quire": "import quire",
    "quire --help": "import sys; sys.argv = ['quire', '--help']; from quire.cli import main; main()",
    "quire artifact --help": (
        "import sys; sys.argv = ['quire', 'artifact', '--help']; from quire.cli import main; main()"
    ),
}
FLOOR, SUBJECT = "import json, sqlite3", "import quire"


def _once(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    # --help exits with 0 through SystemExit; anything else is a broken program, not a timing.
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def measure(repeat: int = 10) -> dict[str, float]:
    """Row name → median seconds of ``repeat`` fresh processes (after one untimed warm-up
    each, which compiles the bytecode and fills the page cache)."""
    times: dict[str, list[float]] = {name: [] for name in PROGRAMS}
    with tempfile.TemporaryDirectory(prefix="quire-startup-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for code in PROGRAMS.values():
            _once(code, env)
        for _ in range(repeat):
            for name, code in PROGRAMS.items():
                times[name].append(_once(code, env))
    return {name: statistics.median(runs) for name, runs in times.items()}


def target(medians: dict[str, float]) -> float:
    """The most ``import quire`` may cost: 1.5× the floor plus 50 ms."""
    return 1.5 * medians[FLOOR] + 0.050


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="fresh processes per row (default 10)")
    parser.add_argument("--check", action="store_true", help="exit 1 when import quire misses the target")
    args = parser.parse_args(argv)
    medians = measure(args.repeat)
    floor = medians[FLOOR]
    print(f"{'program':<24}{'median ms':>10}{'× floor':>9}")
    for name, seconds in medians.items():
        print(f"{name:<24}{seconds * 1000:>10.1f}{seconds / floor:>9.2f}")
    limit = target(medians)
    met = medians[SUBJECT] <= limit
    print(f"target: import quire ≤ 1.5 × {floor * 1000:.1f} + 50 = {limit * 1000:.1f} ms: {'met' if met else 'MISSED'}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
