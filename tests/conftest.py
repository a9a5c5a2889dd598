"""Shared fixtures: every test gets its own store and working folder, and no QUIRE_* or
cloud variables leak in from the environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
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

import quire.sdk.run
import quire.store

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
