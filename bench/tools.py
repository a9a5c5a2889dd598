"""How one measurement is run, and one small case builder per tool operation.

A ``Case`` is a row of a result table: ``prepare(rep_dir)`` does the untimed set-up for
one repetition (fresh store, fresh dvc repo, ...) inside an empty per-repetition folder
and returns the ``Op`` to time; ``run_op`` runs it in a fresh subprocess
(``python -m bench.ops``) with HOME, XDG, TMPDIR and the tools' own directories pointed
into that folder, so no repetition sees another's caches or config.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bench.ops import MARK

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV = BENCH_DIR / ".venv"
REQUIREMENTS = BENCH_DIR / "requirements.txt"
OP_TIMEOUT = 3600  # seconds; a hung tool must not hang the harness forever


class BenchError(Exception):
    """A tool failed or produced a wrong result; the row is reported as failed."""


@dataclass
class Op:
    name: str  # a function of bench.ops
    args: dict
    python: str  # interpreter: Quire's (the harness's) or the peers' venv
    home: Path  # isolated HOME, caches and tool dirs live under it
    cwd: Path | None = None
    env: dict = field(default_factory=dict)
    check: Callable[[], None] | None = None  # untimed verification of the result


@dataclass
class Case:
    tool: str  # quire | wandb | dvc | anchor  (what --only selects)
    variant: str
    prepare: Callable[[Path], Op]
    ratio: tuple[str, str] | None = None  # (numerator label, denominator label)
    target: float | None = None  # minimum wanted for that ratio

    @property
    def label(self) -> str:
        return f"{self.tool} {self.variant}"


@dataclass
class Result:
    times: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    error: str | None = None


class Context:
    """Scratch space, interpreters, inputs to keep warm, and once-per-workload state."""

    def __init__(self, scratch: Path, peers_python: str | None):
        self.scratch = scratch.resolve()
        self.quire_python = sys.executable
        self.peers_python = peers_python
        self.inputs: list[Path] = []
        self._shared: dict[str, object] = {}

    def dataset(self, ds) -> Path:
        path = ds.materialize(self.scratch / "data")
        if path not in self.inputs:
            self.inputs.append(path)
        return path

    def warm(self) -> None:
        """Read every input once so all tools start from a warm page cache."""
        for path in self.inputs:
            subprocess.run(f"find '{path}' -type f -exec cat {{}} + > /dev/null", shell=True, check=True)

    def shared(self, key: str, build: Callable[[Path], object]):
        """State built once per workload (e.g. a committed version to download)."""
        if key not in self._shared:
            d = self.scratch / "shared" / key
            rmtree(d)
            d.mkdir(parents=True)
            self._shared[key] = build(d)
        return self._shared[key]

    def reset(self) -> None:
        rmtree(self.scratch / "shared")
        self._shared.clear()
        self.inputs.clear()


def rmtree(path: Path) -> None:
    """Remove a tree even where tools left read-only files or folders (dvc, hardlinks)."""

    def retry(func, p, _exc):
        os.chmod(os.path.dirname(p), 0o700)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, 0o700)
        func(p)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=retry)


def tool_env(home: Path) -> dict:
    """The environment of a measured subprocess: isolated, offline, quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "QUIRE_", "DVC_"))}
    dirs = {
        "HOME": home, "TMPDIR": home / "tmp",
        "XDG_CACHE_HOME": home / ".cache", "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "WANDB_DIR": home / "wandb", "WANDB_CACHE_DIR": home / "wandb-cache",
        "WANDB_DATA_DIR": home / "wandb-data", "WANDB_ARTIFACT_DIR": home / "wandb-artifacts",
        "WANDB_CONFIG_DIR": home / "wandb-config", "DVC_SITE_CACHE_DIR": home / "dvc-site",
    }
    for key, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    env.update(
        WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DISABLE_GIT="true",
        WANDB_DISABLE_CODE="true", DVC_NO_ANALYTICS="1",
        # HOME moved: keep user-site installs (pip --user) importable all the same.
        PYTHONUSERBASE=os.environ.get("PYTHONUSERBASE", site.getuserbase()),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def run_op(op: Op) -> dict:
    """Run ``op`` in a fresh interpreter; return its {"seconds", "import_seconds"}."""
    spec = json.dumps({"op": op.name, "args": op.args})
    env = tool_env(op.home) | op.env
    try:
        proc = subprocess.run(
            [op.python, "-m", "bench.ops", spec], cwd=op.cwd or op.home, env=env,
            capture_output=True, text=True, timeout=OP_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{op.name} timed out after {OP_TIMEOUT} s") from e
    results = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode or not results:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        raise BenchError(f"{op.name} exited {proc.returncode}: " + " | ".join(tail))
    if op.check:
        op.check()
    return json.loads(results[-1][len(MARK):])


def sh(argv: list[str], cwd: Path | None = None) -> None:
    """An untimed set-up command."""
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def expect_files(path: Path, n: int) -> Callable[[], None]:
    def check():
        found = sum(len(files) for _, _, files in os.walk(path))
        if found != n:
            raise BenchError(f"{path} holds {found} files, expected {n}")
    return check


def ensure_peers_venv() -> str:
    """Create bench/.venv with the pinned peers when missing or out of date."""
    py = VENV / "bin" / "python"
    stamp = VENV / ".requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return str(py)
    print(f"installing peers into {VENV} (once) ...", flush=True)
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(VENV)])
    sh([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)])
    stamp.write_text(want)
    return str(py)


def versions(python: str, packages: list[str]) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys\n"
            "def v(p):\n try: return m.version(p)\n except m.PackageNotFoundError: return 'not installed'\n"
            "print(json.dumps({p: v(p) for p in sys.argv[1:]}))")
    out = subprocess.run([python, "-c", code, *packages], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# ---- Quire: one small function per operation ------------------------------------

def _quire_log_op(ctx: Context, data: Path, home: Path, policy: str) -> Op:
    store = str(home / "store")
    args = dict(module="quire", data=str(data), name=data.name, policy=policy,
                init_kwargs={"store": store}, wait=True)
    return Op("log_artifact", args, ctx.quire_python, home, env={"QUIRE_STORE": store})


def _quire_download_op(ctx: Context, home: Path, name: str, dest: Path, n: int) -> Op:
    store = str(home / "store")
    args = dict(store=store, ref=f"bench/{name}:latest", root=str(dest))
    return Op("quire_download", args, ctx.quire_python, home, env={"QUIRE_STORE": store},
              check=expect_files(dest, n))


def quire_log(ctx: Context, data: Path, policy: str) -> Case:
    """First log into a fresh store."""
    return Case("quire", _log_variant(policy), lambda rep: _quire_log_op(ctx, data, rep, policy))


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
        args = dict(module="wandb", data=str(data), name=data.name, policy=policy,
                    init_kwargs={}, wait=False)
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
    config = [["config", "core.analytics", "false"], ["config", "core.autostage", "false"],
              ["config", "core.check_update", "false"]]
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
    cmd = f"find '{data}' -type f -exec cat {{}} + > /dev/null"
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
