"""A toy backend: an in-memory object store written here, in one file, with no edit
anywhere else. It passes the shipped suites (``quire.testing``) as they are, joins the
registry under a scheme of its own, and shows what a missing capability does.

The same suites, given deliberately wrong stores, fail: a store that files keys under a
name of its own (symmetric, so it reads back what it wrote) is caught out of band, and
one that files every key under one name is caught in band.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quire.errors import MissingCapabilityError, StoreError
from quire.store import open_objects, open_store, register_object_store
from quire.store.blobs import BlobStore
from quire.store.objects import Capabilities, ObjectInfo, ObjectStore, missing_key
from quire.testing import BlobStoreTests, ObjectStoreTests


class Storage:
    """The bytes behind one toy store: what every handle on it shares (a process's view
    of one bucket), and what the out-of-band helper reads and writes."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, float]] = {}  # name → (bytes, mtime)
        self.lock = threading.Lock()

    # the out-of-band helper: a toy store's keys are its names (see ToyObjects._name)
    def read(self, key: str) -> bytes | None:
        with self.lock:
            found = self.objects.get(key)
        return None if found is None else found[0]

    def write(self, key: str, data: bytes) -> None:
        with self.lock:
            self.objects[key] = (bytes(data), time.time())


DEFAULT = Capabilities()


class ToyObjects:
    """An :class:`~quire.store.objects.ObjectStore` in memory."""

    def __init__(self, storage: Storage, scratch: Path, capabilities: Capabilities = DEFAULT) -> None:
        self.storage = storage
        self.url = f"toy://{id(storage):x}"
        self.capabilities = capabilities
        self._scratch = scratch

    def _name(self, key: str) -> str:
        """Where ``key`` is kept (the mapping a backend could get wrong)."""
        return key

    def temp_path(self) -> Path:
        self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch / f"{uuid.uuid4().hex}.partial"

    def put(self, key: str, data: bytes) -> None:
        with self.storage.lock:
            self.storage.objects.setdefault(self._name(key), (bytes(data), time.time()))

    def put_file(self, key: str, path: Path) -> None:
        try:
            self.put(key, Path(path).read_bytes())
        finally:
            Path(path).unlink(missing_ok=True)

    def _get(self, key: str) -> bytes:
        with self.storage.lock:
            found = self.storage.objects.get(self._name(key))
        if found is None:
            raise missing_key(key, self.url)
        return found[0]

    def get(self, key: str) -> bytes:
        return self._get(key)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        return self._get(key)[offset : offset + length]

    def get_file(self, key: str, dest: Path) -> None:
        dest.write_bytes(self._get(key))

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        with self.storage.lock:
            found = self.storage.objects.get(self._name(key))
        return None if found is None else len(found[0])

    def move(self, key: str, new_key: str) -> None:
        with self.storage.lock:
            found = self.storage.objects.pop(self._name(key), None)
            if found is None:
                raise missing_key(key, self.url)
            self.storage.objects[self._name(new_key)] = found

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        with self.storage.lock:
            listed = [(name, len(data), mtime) for name, (data, mtime) in self.storage.objects.items()]
        for name, size, mtime in sorted(listed):
            if name.startswith(prefix):
                yield ObjectInfo(name, size, mtime)

    def delete(self, key: str) -> None:
        with self.storage.lock:
            self.storage.objects.pop(self._name(key), None)

    def local_path(self, key: str) -> Path | None:
        return None


@pytest.fixture
def storage() -> Storage:
    return Storage()


@pytest.fixture
def open_toy(storage: Storage, tmp_path: Path) -> Callable[[], ToyObjects]:
    return lambda: ToyObjects(storage, tmp_path / "scratch")


class TestToyObjects(ObjectStoreTests):
    @pytest.fixture
    def open_objects(self, open_toy):
        return open_toy

    @pytest.fixture
    def out_of_band(self, storage):
        return storage


class TestToyBlobs(BlobStoreTests):
    @pytest.fixture
    def open_objects(self, open_toy):
        return open_toy

    @pytest.fixture
    def out_of_band(self, storage):
        return storage


# -- the registry -------------------------------------------------------------------


def test_a_registered_scheme_opens_through_the_registry(storage: Storage, tmp_path: Path) -> None:
    register_object_store("toy", lambda url: ToyObjects(storage, tmp_path / "scratch"))
    objects = open_objects("toy://anything")
    assert isinstance(objects, ToyObjects) and isinstance(objects, ObjectStore)
    objects.put("k", b"v")
    assert storage.read("k") == b"v"


def test_an_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(Exception, match=r"unknown object store location 'nope://x'.*file://.*s3://") as caught:
        open_objects("nope://x")
    assert "\n" not in str(caught.value)


def test_an_unknown_store_scheme_names_the_known_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_BLOBS", "s3://bucket/blobs")
    with pytest.raises(StoreError, match=r"unknown catalog location 'mysql://h/db': give one of a directory, postgres"):
        open_store("mysql://h/db")


# -- capabilities -------------------------------------------------------------------


def test_a_store_that_cannot_delete_is_refused_by_gc_by_name(storage: Storage, tmp_path: Path) -> None:
    append_only = ToyObjects(storage, tmp_path / "scratch", Capabilities(deletes=False))
    blobs = BlobStore(append_only)
    digest = blobs.put_bytes(b"kept forever")
    (pack,) = blobs.inventory().packs  # listing is fine
    with pytest.raises(MissingCapabilityError, match=r"capability 'deletes'.*toy://") as caught:
        blobs.delete(pack)
    assert caught.value.capability == "deletes"
    with pytest.raises(MissingCapabilityError, match="deletes"):
        blobs.repack(blobs.inventory().packs.values(), keep=[digest])
    assert blobs.read(digest) == b"kept forever"  # nothing was lost
    assert len(storage.objects) == 2


def test_a_declared_capability_without_its_method_is_a_clear_error(storage: Storage, tmp_path: Path) -> None:
    boasting = ToyObjects(storage, tmp_path / "scratch", Capabilities(upload_from_file=True))
    source = tmp_path / "large.bin"
    source.write_bytes(b"x" * (2 << 20))
    writer = BlobStore(boasting).writer()
    with pytest.raises(MissingCapabilityError, match=r"upload_from_file.*put_source"):
        writer.add_file(source)


# -- the suites catch wrong stores --------------------------------------------------


class Misfiled(ToyObjects):
    """Files each key under a hash of it: symmetric, so it reads back what it wrote."""

    def _name(self, key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return iter([])  # cannot list by key: a hash keeps no prefix


class OneName(ToyObjects):
    """Files every key under one name."""

    def _name(self, key: str) -> str:
        return "the-object"


def test_a_symmetric_key_mapping_bug_fails_the_out_of_band_tests(storage: Storage, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    suite = ObjectStoreTests()
    with pytest.raises(AssertionError):
        suite.test_each_key_is_stored_under_its_own_name(Misfiled(storage, scratch), storage)
    with pytest.raises(Exception):  # noqa: B017 - any failure: it must not pass
        suite.test_an_object_written_behind_the_stores_back_is_read_under_its_key(
            lambda: Misfiled(storage, scratch), storage, scratch
        )


def test_a_store_of_one_name_fails_in_band(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        ObjectStoreTests().test_distinct_keys_hold_distinct_bytes(OneName(storage, tmp_path))


def register_by_entry_point() -> None:
    """What a package outside Quire names in its ``quire.backends`` entry point."""
    register_object_store("toy-plugin", lambda url: ToyObjects(Storage(), Path(tempfile.gettempdir())))


def test_a_backend_of_another_package_is_found_by_its_entry_point(python_env: dict[str, str], tmp_path: Path) -> None:
    dist = tmp_path / "site" / "quire_toy-1.0.dist-info"  # an installed package, as pip leaves it
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: quire-toy\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[quire.backends]\ntoy = test_toy_objects:register_by_entry_point\n")
    code = (
        "from quire.store import open_objects\n"
        "objects = open_objects('toy-plugin://bucket')\n"
        "objects.put('k', b'v'); print(type(objects).__name__, objects.get('k').decode())\n"
    )
    paths = [str(tmp_path / "site"), str(Path(__file__).parent), python_env["PYTHONPATH"]]
    env = {**python_env, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ToyObjects", "v"]
