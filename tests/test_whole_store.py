"""A scheme that names a whole store (catalog and blobs at one URL, as a server's does)."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire
from quire.store import close_stores, open_store, register_store
from quire.store.registry import WHOLE_STORES
from test_toy_catalog import MemoryCatalog, MemoryState
from test_toy_objects import Storage, ToyObjects


@pytest.fixture
def toy_scheme(tmp_path: Path):
    state, storage = MemoryState(), Storage()
    opened: list[str] = []

    def factory(url: str):
        opened.append(url)
        return MemoryCatalog(state), ToyObjects(storage, tmp_path / "scratch")

    register_store("toy", factory)
    yield opened
    close_stores()
    WHOLE_STORES._factories.pop("toy")


def test_a_whole_store_scheme_needs_no_quire_blobs(toy_scheme: list[str], make_files, monkeypatch) -> None:
    monkeypatch.setenv("QUIRE_STORE", "toy://team")
    monkeypatch.delenv("QUIRE_BLOBS", raising=False)
    with quire.init(project="p") as run:
        art = quire.Artifact("data", "dataset")
        art.add_dir(str(make_files({"a.txt": "hello"})))
        run.log_artifact(art)
    got = quire.Api().artifact("p/data:latest")
    assert (Path(got.download()) / "a.txt").read_text() == "hello"
    assert toy_scheme == ["toy://team"]  # opened once per process


def test_each_api_key_opens_its_own_store(toy_scheme: list[str], monkeypatch) -> None:
    monkeypatch.setenv("QUIRE_API_KEY", "first")
    a = open_store("toy://team")
    assert open_store("toy://team") is a
    monkeypatch.setenv("QUIRE_API_KEY", "second")
    assert open_store("toy://team") is not a
    assert len(toy_scheme) == 2
