"""``ObjectStoreTests``: what every :class:`~quire.store.objects.ObjectStore` backend does.

Subclass it in a test module and supply the fixtures:

- ``open_objects``: a function that opens a new handle on one empty store each time it
  is called (a second handle stands for another process);
- ``out_of_band`` (optional): an :class:`~quire.testing.oob.OutOfBand` on the same
  storage, reading and writing keys behind the store's back. Without it the tests that
  need it are skipped; with it, a key-mapping bug cannot pass by being symmetric.

::

    class TestMyObjects(ObjectStoreTests):
        @pytest.fixture
        def open_objects(self, tmp_path):
            return lambda: MyObjects(tmp_path / "store")

        @pytest.fixture
        def out_of_band(self, tmp_path):
            return FolderOutOfBand(tmp_path / "store")
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from quire.errors import ObjectNotFoundError
from quire.store.objects import Capabilities, ObjectStore

from .oob import OutOfBand


def needed(out_of_band: OutOfBand | None) -> OutOfBand:
    """``out_of_band``, or skip the test: the backend supplies no out-of-band helper."""
    if out_of_band is None:
        pytest.skip("the backend supplies no out-of-band helper (fixture out_of_band)")
    return out_of_band


class ObjectStoreTests:
    """The ``ObjectStore`` protocol: immutable keys, put-if-absent, ranges, listing."""

    @pytest.fixture
    def objects(self, open_objects: Callable[[], ObjectStore]) -> ObjectStore:
        return open_objects()

    @pytest.fixture
    def out_of_band(self) -> OutOfBand | None:
        """Overridden by a backend that can look behind its store's back."""
        return None

    def _staged(self, objects: ObjectStore, data: bytes) -> Path:
        path = objects.temp_path()
        path.write_bytes(data)
        return path

    def test_is_an_object_store(self, objects: ObjectStore) -> None:
        assert isinstance(objects, ObjectStore)
        assert isinstance(objects.url, str) and objects.url
        assert isinstance(objects.capabilities, Capabilities)
        assert objects.capabilities.concurrency >= 1

    def test_distinct_keys_hold_distinct_bytes(self, objects: ObjectStore) -> None:
        names = ["k", "k2", "a/k", "a/b/k", "a/b/k.idx", "packs/x.pack", "packs/x.pack.y.bad"]
        for i, key in enumerate(names):
            objects.put(key, f"bytes of {key} ({i})".encode())
        for i, key in enumerate(names):
            assert objects.get(key) == f"bytes of {key} ({i})".encode()
            assert objects.size(key) == len(f"bytes of {key} ({i})")
        assert sorted(info.key for info in objects.list()) == sorted(names)

    # -- behind the store's back --------------------------------------------------------

    def test_each_key_is_stored_under_its_own_name(self, objects: ObjectStore, out_of_band: OutOfBand | None) -> None:
        oob = needed(out_of_band)
        objects.put("a/b/one", b"first object")
        objects.put_file("a/b/two", self._staged(objects, b"second object"))
        objects.put("three", b"")
        assert oob.read("a/b/one") == b"first object"
        assert oob.read("a/b/two") == b"second object"
        assert oob.read("three") == b""
        assert oob.read("a/b/three") is None and oob.read("one") is None

    def test_an_object_written_behind_the_stores_back_is_read_under_its_key(
        self, open_objects: Callable[[], ObjectStore], out_of_band: OutOfBand | None, tmp_path: Path
    ) -> None:
        oob = needed(out_of_band)
        data = bytes(range(256)) * 8
        oob.write("x/y/z", data)
        oob.write("x/other", b"not this one")
        objects = open_objects()
        assert objects.get("x/y/z") == data
        assert objects.get_range("x/y/z", 100, 50) == data[100:150]
        assert objects.size("x/y/z") == len(data) and objects.exists("x/y/z")
        objects.get_file("x/y/z", tmp_path / "dest")
        assert (tmp_path / "dest").read_bytes() == data
        assert {info.key: info.size for info in objects.list("x/")} == {"x/y/z": len(data), "x/other": 12}
        with pytest.raises(ObjectNotFoundError):
            objects.get("x/y")

    def test_move_and_delete_reach_the_storage(self, objects: ObjectStore, out_of_band: OutOfBand | None) -> None:
        oob = needed(out_of_band)
        objects.put("objects/ab/cd", b"moved")
        objects.put("gone", b"deleted")
        objects.move("objects/ab/cd", "quarantine/objects/ab/cd.1")
        objects.delete("gone")
        assert oob.read("objects/ab/cd") is None and oob.read("gone") is None
        assert oob.read("quarantine/objects/ab/cd.1") == b"moved"

    def test_put_then_get(self, objects: ObjectStore) -> None:
        objects.put("a/b/key", b"hello")
        assert objects.get("a/b/key") == b"hello"
        assert objects.exists("a/b/key")

    def test_put_is_put_if_absent(self, objects: ObjectStore) -> None:
        objects.put("key", b"first")
        objects.put("key", b"second")  # "already exists" is success, and changes nothing
        assert objects.get("key") == b"first"

    def test_put_is_visible_to_another_handle(
        self, objects: ObjectStore, open_objects: Callable[[], ObjectStore]
    ) -> None:
        objects.put("shared", b"bytes")
        other = open_objects()
        assert other.exists("shared")
        assert other.get("shared") == b"bytes"

    def test_empty_object(self, objects: ObjectStore) -> None:
        objects.put("empty", b"")
        assert objects.exists("empty")
        assert objects.get("empty") == b""

    def test_put_file_consumes_the_file(self, objects: ObjectStore) -> None:
        staged = self._staged(objects, b"from a file")
        objects.put_file("f", staged)
        assert not staged.exists()
        assert objects.get("f") == b"from a file"

    def test_put_file_of_an_existing_key_keeps_the_first_and_consumes_the_file(self, objects: ObjectStore) -> None:
        objects.put("f", b"first")
        staged = self._staged(objects, b"second")
        objects.put_file("f", staged)
        assert not staged.exists()
        assert objects.get("f") == b"first"

    def test_temp_paths_are_fresh_and_unlisted(self, objects: ObjectStore) -> None:
        a, b = objects.temp_path(), objects.temp_path()
        assert a != b
        a.write_bytes(b"staging")  # a staged file is not an object
        assert [info.key for info in objects.list()] == []
        a.unlink()

    def test_get_range(self, objects: ObjectStore) -> None:
        data = bytes(range(256)) * 64
        objects.put("r", data)
        assert objects.get_range("r", 0, 10) == data[:10]
        assert objects.get_range("r", 1000, 3000) == data[1000:4000]
        assert objects.get_range("r", len(data) - 5, 5) == data[-5:]

    def test_get_file(self, objects: ObjectStore, tmp_path: Path) -> None:
        data = b"x" * 100_000
        objects.put("g", data)
        dest = tmp_path / "dest.bin"
        objects.get_file("g", dest)
        assert dest.read_bytes() == data

    def test_missing_key(self, objects: ObjectStore, tmp_path: Path) -> None:
        assert not objects.exists("nope")
        with pytest.raises(ObjectNotFoundError, match="nope"):
            objects.get("nope")
        with pytest.raises(ObjectNotFoundError, match="nope"):
            objects.get_range("nope", 0, 1)
        with pytest.raises(ObjectNotFoundError, match="nope"):
            objects.get_file("nope", tmp_path / "dest")
        assert not (tmp_path / "dest").exists()

    def test_a_key_prefix_is_not_an_object(self, objects: ObjectStore) -> None:
        objects.put("folder/key", b"inside")
        assert not objects.exists("folder")  # as on an object store: there are no folders
        with pytest.raises(ObjectNotFoundError):
            objects.get("folder")
        assert objects.local_path("folder") is None

    def test_missing_key_is_an_object_not_found_error(self, objects: ObjectStore) -> None:
        with pytest.raises(ObjectNotFoundError) as caught:
            objects.get("nope")
        assert caught.value.key == "nope"
        with pytest.raises(KeyError):  # code written against dict-like stores keeps working
            objects.get("nope")

    def test_list_with_prefix(self, objects: ObjectStore) -> None:
        objects.put("packs/1.pack", b"12345")
        objects.put("packs/1.idx", b"1")
        objects.put("objects/ab/cdef", b"xy")
        objects.put("packsish", b"z")
        everything = {info.key: info.size for info in objects.list()}
        assert everything == {"packs/1.pack": 5, "packs/1.idx": 1, "objects/ab/cdef": 2, "packsish": 1}
        assert sorted(info.key for info in objects.list("packs/")) == ["packs/1.idx", "packs/1.pack"]
        assert [info.key for info in objects.list("objects/ab/")] == ["objects/ab/cdef"]
        assert list(objects.list("none/")) == []
        assert all(info.mtime > 0 for info in objects.list())

    def test_size(self, objects: ObjectStore) -> None:
        objects.put("s/five", b"12345")
        objects.put("s/empty", b"")
        assert objects.size("s/five") == 5
        assert objects.size("s/empty") == 0
        assert objects.size("s/none") is None
        assert objects.size("s") is None  # a key prefix is not an object

    def test_move(self, objects: ObjectStore, open_objects: Callable[[], ObjectStore]) -> None:
        objects.put("objects/ab/cd", b"set aside")
        objects.move("objects/ab/cd", "quarantine/objects/ab/cd.1")
        other = open_objects()
        assert not other.exists("objects/ab/cd")
        assert other.get("quarantine/objects/ab/cd.1") == b"set aside"
        assert [info.key for info in other.list()] == ["quarantine/objects/ab/cd.1"]
        objects.put("objects/ab/cd", b"stored anew")  # the old name is free again
        assert other.get("objects/ab/cd") == b"stored anew"

    def test_move_of_a_missing_key(self, objects: ObjectStore) -> None:
        with pytest.raises(ObjectNotFoundError, match="nope"):
            objects.move("nope", "quarantine/nope")
        assert list(objects.list()) == []

    def test_delete(self, objects: ObjectStore) -> None:
        objects.put("d", b"gone soon")
        objects.delete("d")
        assert not objects.exists("d")
        assert [info.key for info in objects.list()] == []
        objects.delete("d")  # absent keys are fine
        objects.put("d", b"again")  # a deleted key can be written anew
        assert objects.get("d") == b"again"

    def test_local_path_holds_the_bytes_when_there_is_one(self, objects: ObjectStore) -> None:
        objects.put("l", b"local")
        path = objects.local_path("l")
        if path is not None:
            assert path.read_bytes() == b"local"
        assert objects.local_path("absent") is None

    def test_concurrent_puts_of_one_key(self, objects: ObjectStore) -> None:
        data = b"same content" * 10_000
        errors: list[BaseException] = []

        def put() -> None:
            try:
                for _ in range(5):
                    objects.put("race", data)
                    objects.put_file("race-file", self._staged(objects, data))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert objects.get("race") == data
        assert objects.get("race-file") == data
