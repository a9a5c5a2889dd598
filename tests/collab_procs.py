"""Writer and finisher processes for the collaborative tests.

``python tests/collab_procs.py MODE '<json>'`` (the store comes from ``QUIRE_STORE``):

- ``writers``: fork ``writers`` processes; each writes its files, then all upsert at once.
- ``race``: the same, plus a finisher that commits while the upserts are in flight; each
  writer's outcome (``ok`` or ``refused``) is printed as JSON.

Forking after ``import quire`` spares every writer the interpreter start-up and
imports, so 64 real processes (each its own SQLite connection and blob writer) start in
well under a second on two cores. The test imports :func:`files_of` to know the union.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

import quire
from quire.errors import PendingVersionError
from support import patience

REFUSED = 3  # exit status of a writer whose upsert came after the commit


def files_of(writer: int, round_: int, n_files: int, n_shared: int) -> dict[str, bytes]:
    """Writer ``writer``'s files in round ``round_``: ``n_shared`` that every writer
    writes identically, and the rest its own."""
    files = {f"shared/s{k:03d}.txt": f"shared file {k} of round {round_}\n".encode() for k in range(n_shared)}
    for k in range(n_files - n_shared):
        files[f"w{writer:03d}/f{k:03d}.txt"] = f"round {round_} writer {writer} file {k}\n".encode() * 8
    return files


def _prepare(work: Path, spec: dict, writer: int) -> quire.Artifact:
    folder = work / f"round{spec['round']}" / f"writer{writer}"
    for rel, data in files_of(writer, spec["round"], spec["files"], spec["shared"]).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    art = quire.Artifact(spec["name"], "dataset")
    art.add_dir(folder)
    return art


def _writer(work: Path, spec: dict, writer: int, start) -> None:  # type: ignore[no-untyped-def]
    os.environ["RANK"] = str(writer)  # as torchrun would set it
    with quire.init(group=spec["did"], job_type="writer") as run:
        art = _prepare(work, spec, writer)
        start.wait(spec["barrier"])
        try:
            run.upsert_artifact(art)
        except PendingVersionError as exc:
            print(f"writer {writer}: {exc}", file=sys.stderr)
            os._exit(REFUSED)


def _finisher(spec: dict, start) -> None:  # type: ignore[no-untyped-def]
    with quire.init(group=spec["did"], job_type="finisher") as run:
        art = quire.Artifact(spec["name"], "dataset")
        with art.new_file("finisher.txt") as f:
            f.write(f"finished round {spec['round']}\n")
        start.wait(spec["barrier"])
        random.seed(spec["round"])
        # Let a random part of the upserts land first: the rest race the commit.
        time.sleep(random.uniform(0.0, spec.get("finish_delay", 0.3)))
        run.finish_artifact(art)


def main(mode: str, spec: dict) -> int:
    """Run ``spec["rounds"]`` rounds (default 1), round numbers from ``spec["round"]``;
    print one JSON line per round; exit 1 if a process failed."""
    failed = 0
    for r in range(spec.get("rounds", 1)):
        failed |= _round(mode, {**spec, "round": spec["round"] + r, "did": f"{spec['did']}-{r}"})
    return failed


def _round(mode: str, spec: dict) -> int:
    ctx = mp.get_context("fork")
    work = Path(spec["work"])
    n = spec["writers"]
    start = ctx.Barrier(n + (mode == "race"))
    # A writer that dies before the barrier must break it, not hang the others for good.
    spec = {**spec, "barrier": patience(n / 4)}  # the writers only write their files first
    procs = [ctx.Process(target=_writer, args=(work, spec, i, start)) for i in range(n)]
    if mode == "race":
        procs.append(ctx.Process(target=_finisher, args=(spec, start)))
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    outcomes = {i: {0: "ok", REFUSED: "refused"}.get(c, f"exit {c}") for i, c in enumerate(codes[:n])}
    print(json.dumps({"writers": outcomes, "finisher": codes[n] if mode == "race" else None}), flush=True)
    allowed = (0, REFUSED) if mode == "race" else (0,)
    return 0 if all(c in allowed for c in codes[:n]) and codes[n:] in ([], [0]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], json.loads(sys.argv[2])))
