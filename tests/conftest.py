"""Shared fixtures: every test gets its own store and working folder, and no QUIRE_* or
cloud variables leak in from the environment.

Also the selections (docs/testing.md): a plain ``pytest`` runs the fast default (no test
marked ``slow`` or ``services``); ``pytest --all`` (CI, the README's command) runs every
test; an explicit ``-m EXPRESSION`` chooses by itself, and so does naming test files. Hypothesis runs derandomized under
``CI`` (profile ``ci``), and every test gets a hang guard measured on this machine.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import hypothesis
import pytest

import quire.sdk.run
import quire.store
from backends import (  # noqa: F401 - fixtures for the team backends (PostgreSQL, S3)
    moto_server,
    open_postgres_catalog,
    open_s3_objects,
    postgres_server,
    postgres_url,
    s3_bucket,
    s3_client,
    s3_env,
    store_kind,
)
from servers import served_store, server_process, server_store  # noqa: F401 - fixtures for the server backend
from support import patience

#: markers whose tests need a service (a server, a cluster): each also gets ``services``
SERVICE_MARKERS = ("postgres", "s3", "ray", "browser")
#: fixtures that start or reach a service: a test using one is a service test, marked or not
SERVICE_FIXTURES = {"postgres_server": "postgres", "moto_server": "s3", "chromium": "browser"}
#: what the default selection leaves out
LEFT_OUT = ("slow", "services")
#: a test's hang guard, in fresh processes' worth of work (support.patience)
HANG_GUARD = 100

# CI runs the same examples every time (a failure there is reproducible from its log);
# a developer's run explores new ones, and prints how to reproduce a failure.
hypothesis.settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis.settings.register_profile("dev", print_blob=True)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all",
        action="store_true",
        dest="quire_all",
        help="run every test: also those marked slow or services (CI does)",
    )


def _default_selection(config: pytest.Config) -> bool:
    """Whether the default selection applies: not under ``--all`` or ``-m``, and not when
    the command names test files or tests (``pytest tests/test_store_s3.py`` runs them all)."""
    if config.getoption("quire_all") or config.getoption("markexpr"):
        return False
    named = [config.invocation_params.dir / arg.split("::")[0] for arg in config.args]
    return not any(path.is_file() for path in named)


def pytest_report_header(config: pytest.Config) -> str:
    if _default_selection(config):
        return "quire: the fast default selection (not slow, not services); --all runs every test"
    return "quire: " + ("every test (--all)" if config.getoption("quire_all") else "the tests -m selects")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark service tests ``services`` (and by their service), and leave the slow and
    service tests out of the default selection."""
    for item in items:
        for fixture, marker in SERVICE_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        if any(item.get_closest_marker(m) for m in SERVICE_MARKERS):
            item.add_marker("services")
    if _default_selection(config):
        left_out = [item for item in items if any(item.get_closest_marker(m) for m in LEFT_OUT)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if not any(item.get_closest_marker(m) for m in LEFT_OUT)]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Give the test its hang guard just before pytest-timeout reads it: ``patience`` as
    the machine's load is now, so the guard outlasts every wait the test asks for."""
    if item.config.getoption("timeout", None) is None and item.get_closest_marker("timeout") is None:
        item.add_marker(pytest.mark.timeout(patience(HANG_GUARD)))
    yield


_LEAKY = ("QUIRE_", "AWS_", "WANDB_", "GOOGLE_", "AZURE_")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A clean environment, a fresh store in ``QUIRE_STORE`` and ``tmp_path/work`` as cwd."""
    for key in list(os.environ):
        if key.startswith(_LEAKY):
            monkeypatch.delenv(key)
    monkeypatch.setenv("QUIRE_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    quire.sdk.run.finish()
    quire.store.close_stores()


@pytest.fixture
def store_url(_isolated: None) -> str:
    """The location of this test's store (what ``QUIRE_STORE`` holds; a PostgreSQL URL
    under ``store_kind``'s team-store run)."""
    return os.environ["QUIRE_STORE"]


@pytest.fixture
def make_files(tmp_path: Path):
    """``make_files({"a.txt": b"..", "d/b.bin": b".."}, root=None)`` → the folder."""

    def make(files: dict[str, bytes | str], root: Path | None = None) -> Path:
        root = root or tmp_path / "files"
        for rel, data in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.encode() if isinstance(data, str) else data)
        return root

    return make


@pytest.fixture
def python_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a subprocess that imports quire from this checkout."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


PYTHON = sys.executable


class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder; files outside ``noetag/`` get an ETag of their content."""

    def end_headers(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_file() and "/noetag/" not in self.path:
            self.send_header("ETag", '"' + hashlib.sha256(path.read_bytes()).hexdigest()[:16] + '"')
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its base URL."""
    root = tmp_path / "served"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()
