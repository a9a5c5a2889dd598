"""One small case builder per tool operation: Quire, the peers, and the anchors.

Each builder returns a ``Case`` whose ``prepare`` makes the per-repetition state and
returns the ``Op`` (a function of ``bench.ops``) to time. Quire runs under the harness's
interpreter, wandb and dvc under the peers' venv, anchors under the harness's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.runner import BenchError, Case, Context, Op, cat_command, expect_files, rmtree, run_op, sh

# ---- Quire: one small function per operation ------------------------------------


def _quire_log_op(ctx: Context, data: Path, home: Path, policy: str, durable: bool = True) -> Op:
    store = str(home / "store")
    args = dict(module="quire", data=str(data), name=data.name, policy=policy, init_kwargs={"store": store}, wait=True)
    env = {"QUIRE_STORE": store} | ({} if durable else {"QUIRE_FSYNC": "0"})
    return Op("log_artifact", args, ctx.quire_python, home, env=env)


def _quire_download_op(ctx: Context, home: Path, name: str, dest: Path, n: int) -> Op:
    store = str(home / "store")
    args = dict(store=store, ref=f"bench/{name}:latest", root=str(dest))
    return Op("quire_download", args, ctx.quire_python, home, env={"QUIRE_STORE": store}, check=expect_files(dest, n))


def quire_log(ctx: Context, data: Path, policy: str, durable: bool = True) -> Case:
    """First log into a fresh store; ``durable=False`` skips fsync, as the peers do."""
    variant = _log_variant(policy) + ("" if durable else ", QUIRE_FSYNC=0")
    return Case("quire", variant, lambda rep: _quire_log_op(ctx, data, rep, policy, durable))


def quire_relog(ctx: Context, data: Path, policy: str = "mutable") -> Case:
    """Second log of the unchanged folder into the same store, from a new process."""

    def prepare(rep: Path) -> Op:
        run_op(_quire_log_op(ctx, data, rep, policy))  # the first log, untimed
        return _quire_log_op(ctx, data, rep, policy)

    return Case("quire", f"re-log {policy}, unchanged", prepare)


def quire_download(ctx: Context, data: Path, n: int) -> Case:
    """Download into a new folder while the local cache is warm (2nd download)."""

    def build(d: Path) -> Path:
        run_op(_quire_log_op(ctx, data, d, "mutable"))
        run_op(_quire_download_op(ctx, d, data.name, d / "first-download", n))
        return d

    def prepare(rep: Path) -> Op:
        home = ctx.shared("quire-download", build)
        return _quire_download_op(ctx, home, data.name, rep / "dest", n)

    return Case("quire", "download, warm cache", prepare)


# ---- peers ------------------------------------------------------------------------


def wandb_log(ctx: Context, data: Path, policy: str) -> Case:
    """wandb offline: init, Artifact, add_dir, log_artifact, finish (fresh dirs)."""

    def prepare(rep: Path) -> Op:
        args = dict(module="wandb", data=str(data), name=data.name, policy=policy, init_kwargs={}, wait=False)
        return Op("log_artifact", args, ctx.peers_python, rep)

    return Case("wandb", "offline " + _log_variant(policy), prepare)


def _dvc_op(ctx: Context, home: Path, repo: Path, *commands: list[str], check=None) -> Op:
    return Op("dvc_cli", {"commands": list(commands)}, ctx.peers_python, home, cwd=repo, check=check)


def _dvc_repo(ctx: Context, data: Path, home: Path, cache_type: str | None) -> Path:
    """Untimed: ``git init && dvc init`` plus config, with a private copy of the data
    (dvc only adds paths inside its repo, and may relink or chmod them)."""
    repo = home / "repo"
    repo.mkdir()
    sh(["git", "init", "-q"], cwd=repo)
    config = [
        ["config", "core.analytics", "false"],
        ["config", "core.autostage", "false"],
        ["config", "core.check_update", "false"],
    ]
    if cache_type:
        config.append(["config", "cache.type", cache_type])
    run_op(_dvc_op(ctx, home, repo, ["init", "-q"], *config))
    sh(["cp", "-r", str(data), str(repo / data.name)])
    return repo


def dvc_add(ctx: Context, data: Path, cache_type: str | None) -> Case:
    def prepare(rep: Path) -> Op:
        repo = _dvc_repo(ctx, data, rep, cache_type)
        dvc_file = repo / f"{data.name}.dvc"

        def check():
            if not dvc_file.exists():
                raise BenchError(f"dvc add left no {dvc_file}")

        return _dvc_op(ctx, rep, repo, ["add", "-q", data.name], check=check)

    return Case("dvc", f"add, cache.type {cache_type or 'default'}", prepare)


def dvc_checkout(ctx: Context, data: Path, n: int, cache_type: str | None) -> Case:
    """``dvc checkout`` of an added folder after deleting the workspace copy."""

    def build(home: Path) -> Path:
        repo = _dvc_repo(ctx, data, home, cache_type)
        run_op(_dvc_op(ctx, home, repo, ["add", "-q", data.name]))
        return repo

    def prepare(rep: Path) -> Op:
        repo = ctx.shared(f"dvc-{cache_type or 'default'}", build)
        rmtree(repo / data.name)
        return _dvc_op(ctx, repo.parent, repo, ["checkout", "-q"], check=expect_files(repo / data.name, n))

    return Case("dvc", f"checkout, cache.type {cache_type or 'default'}", prepare)


# ---- anchors: what the hardware allows ------------------------------------------------


def _anchor(ctx: Context, variant: str, make: Callable[[Path], tuple[str, dict, Callable | None]]) -> Case:
    def prepare(rep: Path) -> Op:
        name, args, check = make(rep)
        return Op(name, args, ctx.quire_python, rep, check=check)

    return Case("anchor", variant, prepare)


def anchor_cat(ctx: Context, data: Path) -> Case:
    cmd = cat_command(data)
    return _anchor(ctx, "cat (find -exec cat {} +)", lambda rep: ("shell", {"cmd": cmd}, None))


def anchor_read(ctx: Context, data: Path, hasher: str | None = None) -> Case:
    variant = "BLAKE3 in Python (1 thread, 1 MiB reads)" if hasher else "read in Python (1 MiB reads)"
    return _anchor(ctx, variant, lambda rep: ("read_tree", {"root": str(data), "hasher": hasher}, None))


def anchor_copy(ctx: Context, data: Path, n: int, flags: str) -> Case:
    def make(rep: Path):
        dest = rep / "copy"
        return "shell", {"cmd": f"cp {flags} '{data}' '{dest}'"}, expect_files(dest, n)

    return _anchor(ctx, f"cp {flags}", make)


def _log_variant(policy: str) -> str:
    return f"log {policy}" + (" (default)" if policy == "mutable" else "")
