"""Collaborative mode: many writer processes, one version (C1); merge + commit (C2)."""

from __future__ import annotations

from pathlib import Path

from bench import tools
from bench.runner import Case, Context, Op
from bench.workloads import Dataset, vs, workload

C1_DATA = Dataset("c1", n_files=3200, file_size=64 << 10, n_dirs=32, seed=6)


def _quire_op(ctx: Context, rep: Path, name: str, args: dict) -> Op:
    store = str(rep / "store")
    return Op(name, args, ctx.quire_python, rep, env={"QUIRE_STORE": store})


@workload("C1", "32 writer processes × 100 files × 64 KiB into one version")
def c1(ctx: Context) -> list[Case]:
    """32 writer processes each upsert one folder of 100 files (64 KiB each) into one
    pending version, at once; a finisher then merges and commits it (fresh store each
    repetition; writers are forked after `import quire` and released by the clock).
    Against the same 3,200 files logged by one process in simple mode: the 32 writers'
    summed CPU time (user + system; the finisher's is not in it) may be at most 2× that
    of the simple log (CPU ratio ≥ 0.5); the wall-time ratio is shown beside it."""
    data = ctx.dataset(C1_DATA)
    many = Case(
        "quire",
        "32 writers upsert, 1 finisher",
        lambda rep: _quire_op(ctx, rep, "collab_writers", {"data": str(data), "name": data.name}),
        cpu="children",
    )
    simple = vs(tools.quire_log(ctx, data, "mutable"), many)
    simple.cpu_target = 0.5
    return [many, simple]


@workload("C2", "merge + commit of 100,000 entries from 100 contributions")
def c2(ctx: Context) -> list[Case]:
    """A finisher merges 100 contributions of 1,000 entries each (plus 10 paths every
    contribution holds with the same digest) and commits the result: `finish_artifact`
    and `run.finish()`. The contributions are made before the clock starts. Target:
    under 2 s."""
    return [
        Case(
            "quire",
            "finish_artifact, 100 × 1,000 entries",
            lambda rep: _quire_op(ctx, rep, "collab_merge", {"contributions": 100, "entries": 1000}),
        )
    ]
