"""W3: patch a versioned W1 (modify 20 files, add 20, delete 20) and log the next version."""

from __future__ import annotations

import random
from pathlib import Path

from bench import tools
from bench.tools import BenchError, Case, Context, Op, run_op, sh
from bench.workloads import W1_DATA, vs, workload

N_EDIT = 20


def w3_edit(root: Path) -> tuple[list[str], list[str]]:
    """Apply W3's edit to a copy of W1 at ``root``: rewrite 20 files, add 20, delete 20.

    Files are replaced (unlink, write), never edited in place, so a hardlinked copy
    leaves the original untouched. Returns (changed or added paths, removed paths).
    """
    rng = random.Random(3)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.bin"))
    picked = rng.sample(files, 2 * N_EDIT)
    modified, removed = picked[:N_EDIT], picked[N_EDIT:]
    added = [f"d{i * 5:03d}/new{i:02d}.bin" for i in range(N_EDIT)]
    for rel in modified + added:
        (root / rel).unlink(missing_ok=True)
        (root / rel).write_bytes(rng.randbytes(W1_DATA.file_size))
    for rel in removed:
        (root / rel).unlink()
    return modified + added, removed


def _edited(ctx: Context) -> tuple[Path, list[str], list[str]]:
    """W1 with W3's edit applied, made once per workload as a hardlinked copy (so the
    unchanged files keep their inodes and mtimes: the stat cache knows them)."""

    def build(d: Path) -> tuple[Path, list[str], list[str]]:
        copy = d / W1_DATA.name
        sh(["cp", "-al", str(ctx.dataset(W1_DATA)), str(copy)])
        return (copy, *w3_edit(copy))

    return ctx.shared("w3-edited", build)


def _quire_v0(ctx: Context, rep: Path) -> str:
    """Untimed: log W1 as ``bench/w1:v0`` into a fresh store; returns the store."""
    store = str(rep / "store")
    args = dict(
        module="quire",
        data=str(ctx.dataset(W1_DATA)),
        name=W1_DATA.name,
        policy="mutable",
        init_kwargs={"store": store},
        wait=True,
    )
    run_op(Op("log_artifact", args, ctx.quire_python, rep, env={"QUIRE_STORE": store}))
    return store


def quire_new_draft(ctx: Context) -> Case:
    def prepare(rep: Path) -> Op:
        copy, changed, removed = _edited(ctx)
        store = _quire_v0(ctx, rep)
        args = dict(store=store, ref="bench/w1:latest", root=str(copy), changed=changed, removed=removed)
        return Op(
            "quire_patch", args, ctx.quire_python, rep, env={"QUIRE_STORE": store}, check=_versions_check(ctx, store)
        )

    return Case("quire", "new_draft: re-add 40 files, remove 20, log", prepare)


def quire_relog(ctx: Context) -> Case:
    def prepare(rep: Path) -> Op:
        copy, _, _ = _edited(ctx)
        store = _quire_v0(ctx, rep)
        args = dict(
            module="quire", data=str(copy), name=W1_DATA.name, policy="mutable", init_kwargs={"store": store}, wait=True
        )
        return Op(
            "log_artifact", args, ctx.quire_python, rep, env={"QUIRE_STORE": store}, check=_versions_check(ctx, store)
        )

    return Case("quire", "re-add the whole folder (stat cache on), log", prepare)


def _versions_check(ctx: Context, store: str):
    def check() -> None:
        code = (
            f"import quire; a = quire.Api(store={store!r}).artifact('bench/w1:latest'); "
            f"assert (a.version, a.file_count) == ('v1', {W1_DATA.n_files}), (a.version, a.file_count)"
        )
        try:
            sh([ctx.quire_python, "-c", code])
        except Exception as exc:
            raise BenchError(f"the patched version is wrong: {exc}") from exc

    return check


def dvc_readd(ctx: Context) -> Case:
    """``dvc add`` of W1 (untimed), the edit, then ``dvc add`` again (timed)."""

    def prepare(rep: Path) -> Op:
        data = ctx.dataset(W1_DATA)
        repo = tools._dvc_repo(ctx, data, rep, None)
        run_op(tools._dvc_op(ctx, rep, repo, ["add", "-q", data.name]))
        w3_edit(repo / data.name)
        return tools._dvc_op(ctx, rep, repo, ["add", "-q", data.name])

    return Case("dvc", "add again after the edit", prepare)


def wandb_relog(ctx: Context) -> Case:
    """wandb offline has no server to patch against: log the edited folder again."""

    def prepare(rep: Path) -> Op:
        copy = _edited(ctx)[0]
        args = dict(module="wandb", data=str(copy), name=W1_DATA.name, policy="mutable", init_kwargs={}, wait=False)
        return Op("log_artifact", args, ctx.peers_python, rep)

    return Case("wandb", "offline: log the edited folder", prepare)


@workload("W3", "patch W1: modify 20 files, add 20, delete 20, log the next version")
def w3(ctx: Context) -> list[Case]:
    """From W1 logged as v0 (untimed, fresh store per repetition), edit the folder and log
    v1. Quire twice: as a patch (`new_draft()`, re-add the 40 new files, remove 20) and
    by re-adding the whole folder (the stat cache spares the 19,960 unchanged files their
    reads). dvc: `dvc add` of the edited folder in a repo where W1 was added. wandb
    offline cannot patch (no server): it logs the edited folder."""
    patch = quire_new_draft(ctx)
    relog = quire_relog(ctx)
    dvc = vs(dvc_readd(ctx), patch, target=10)
    relog.ratio = (dvc.label, relog.label)  # the re-add row: how it fares against dvc
    return [patch, relog, dvc, vs(wandb_relog(ctx), patch)]
