"""How one measurement is run: cases, isolated environments, the peers' venv.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
    #: untimed verification of the result; it may return figures measured beside the
    #: time (e.g. ``{"requests": 1}``), reported with the row (``Case.limits``)
    check: Callable[[], dict | None] | None = None


@dataclass
class Case:
    tool: str  # quire | wandb | dvc | anchor  (what --only selects)
    variant: str
    prepare: Callable[[Path], Op]
    ratio: tuple[str, str] | None = None  # (numerator label, denominator label)
    target: float | None = None  # minimum wanted for that ratio (of wall times)
    #: minimum wanted for the ratio of CPU times (shown beside the wall ratio when set)
    cpu_target: float | None = None
    #: whose CPU time counts: "all" (the process and the children it waited for) or
    #: "children" (C1: the writer processes, not the finisher that forked them)
    cpu: str = "all"
    #: upper bounds for the medians of figures the check returned: {"requests": 1}
    limits: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.tool} {self.variant}"


@dataclass
class Result:
    times: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU seconds while timed, see Case.cpu
    extra: list[dict] = field(default_factory=list)  # figures the check returned, one per repetition
    error: str | None = None


class Context:
    """Scratch space, interpreters, inputs to keep warm, and once-per-workload state."""

    def __init__(self, scratch: Path, peers_python: str | None):
        self.scratch = scratch.resolve()
        self.quire_python = sys.executable
        self.peers_python = peers_python
        self.inputs: list[Path] = []
        self._shared: dict[str, object] = {}
        self._cleanups: list[Callable[[], None]] = []

    def dataset(self, ds) -> Path:
        path = ds.materialize(self.scratch / "data")
        if path not in self.inputs:
            self.inputs.append(path)
        return path

    def warm(self) -> None:
        """Read every input once so all tools start from a warm page cache."""
        for path in self.inputs:
            subprocess.run(cat_command(path), shell=True, check=True)

    def shared(self, key: str, build: Callable[[Path], object]):
        """State built once per workload (e.g. a committed version to download)."""
        if key not in self._shared:
            d = self.scratch / "shared" / key
            rmtree(d)
            d.mkdir(parents=True)
            self._shared[key] = build(d)
        return self._shared[key]

    def on_reset(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when the workload ends (e.g. stop a server it started)."""
        self._cleanups.append(cleanup)

    def reset(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()
        rmtree(self.scratch / "shared")
        self._shared.clear()
        self.inputs.clear()


def cat_command(path: Path) -> str:
    """Read a whole tree with cat: the page-cache warm-up and the `cat` anchor."""
    return f"find '{path}' -type f -exec cat {{}} + > /dev/null"


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
        "HOME": home,
        "TMPDIR": home / "tmp",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "WANDB_DIR": home / "wandb",
        "WANDB_CACHE_DIR": home / "wandb-cache",
        "WANDB_DATA_DIR": home / "wandb-data",
        "WANDB_ARTIFACT_DIR": home / "wandb-artifacts",
        "WANDB_CONFIG_DIR": home / "wandb-config",
        "DVC_SITE_CACHE_DIR": home / "dvc-site",
    }
    for key, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DISABLE_GIT="true",
        WANDB_DISABLE_CODE="true",
        DVC_NO_ANALYTICS="1",
        # HOME moved: keep user-site installs (pip --user) importable all the same.
        PYTHONUSERBASE=os.environ.get("PYTHONUSERBASE", site.getuserbase()),
        # absolute: a measured process runs in its own folder, where `PYTHONPATH=src` (the
        # tree under test) would silently fall back to whatever quire is installed
        PYTHONPATH=os.pathsep.join(
            [str(REPO_ROOT), *(os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
        ),
    )
    return env


def run_op(op: Op) -> dict:
    """Run ``op`` in a fresh interpreter; return its {"seconds", "import_seconds",
    "cpu_seconds", "children_cpu_seconds", "peak_rss_mib"}, and "extra": what the check
    returned, if anything."""
    spec = json.dumps({"op": op.name, "args": op.args})
    env = tool_env(op.home) | op.env
    try:
        proc = subprocess.run(
            [op.python, "-m", "bench.ops", spec],
            cwd=op.cwd or op.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=OP_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{op.name} timed out after {OP_TIMEOUT} s") from e
    results = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode or not results:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        raise BenchError(f"{op.name} exited {proc.returncode}: " + " | ".join(tail))
    out = json.loads(results[-1][len(MARK) :])
    extra = op.check() if op.check else None
    if extra:
        out["extra"] = extra
    return out


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
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
    )
    if pip.returncode:  # pip's chatter is shown only when it matters
        sys.exit(f"pip install -r {REQUIREMENTS} failed:\n{pip.stdout}{pip.stderr}")
    stamp.write_text(want)
    return str(py)


def versions(python: str, packages: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(p):\n try: return m.version(p)\n except m.PackageNotFoundError: return 'not installed'\n"
        "print(json.dumps({p: v(p) for p in sys.argv[1:]}))"
    )
    out = subprocess.run([python, "-c", code, *packages], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)
