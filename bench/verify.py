"""``verify`` at read speed (issue 13, item 4): ``quire artifact verify NAME`` (the store's
copy, checked in place) against ``verify NAME --root DIR`` (its downloaded copy).

    python -m bench.verify [--files 50000] [--repeat 3] [--scratch DIR]

One version of ``--files`` files of 4 KiB (seeded) is logged into an embedded store and
downloaded once (untimed); then each command runs in a fresh process, the two
interleaved, ``--repeat`` times. Prints the medians (wall seconds, interpreter start-up
included for both) and their ratio; the target is at most 3x.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 3.0  #: the store's check within this many times the folder's


def _make(root: Path, files: int) -> None:
    rng = random.Random(13)
    for i in range(files):
        folder = root / f"d{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.bin").write_bytes(rng.randbytes(4096))


def _quire(env: dict[str, str], *args: str) -> float:
    """Wall seconds of one ``quire ARGS`` in a fresh process (stdout discarded)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "quire.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "quire-bench-verify")
    args = parser.parse_args(argv)
    scratch: Path = args.scratch / str(args.files)
    data, store, got = scratch / "data", scratch / "store", scratch / "got"
    env = {**os.environ, "QUIRE_STORE": str(store)}
    if not got.exists():
        _make(data, args.files)
        _quire(env, "artifact", "put", str(data), "--name", "ds")
        _quire(env, "artifact", "get", "ds", "--root", str(got))
    times: dict[str, list[float]] = {"store": [], "root": []}
    for _ in range(args.repeat):
        times["store"].append(_quire(env, "artifact", "verify", "ds"))
        times["root"].append(_quire(env, "artifact", "verify", "ds", "--root", str(got)))
    store_s, root_s = statistics.median(times["store"]), statistics.median(times["root"])
    print(f"{args.files} files x 4 KiB, medians of {args.repeat} (fresh processes):")
    print(f"  quire artifact verify NAME          {store_s:7.2f} s  {sorted(round(t, 2) for t in times['store'])}")
    print(f"  quire artifact verify NAME --root   {root_s:7.2f} s  {sorted(round(t, 2) for t in times['root'])}")
    ratio = store_s / root_s
    print(f"  ratio store / root: {ratio:.2f}x (target at most {TARGET:g}x): {'met' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
