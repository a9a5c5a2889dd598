"""``BlobStoreTests``: content-addressed blobs with packs, over every object-store backend.

A subclass supplies the fixture ``open_objects`` (a function that opens a new handle on
one empty object store each time it is called) and, optionally, ``out_of_band`` (see
:mod:`quire.testing.objects`); the suite builds :class:`~quire.store.blobs.BlobStore`
instances over it. Corruption is made through the object-store protocol itself (get,
delete, put), so it works on every backend; the layout is checked out of band.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import blake3
import pytest

from quire.errors import BlobNotFoundError, CorruptBlobError
from quire.store.blobs import SMALL, BlobStore
from quire.store.objects import ObjectStore

from .objects import needed
from .oob import OutOfBand

LARGE = SMALL + 12345


def digest_of(data: bytes) -> str:
    """Computed here, not with the store's helper: the suite checks the addressing."""
    return blake3.blake3(data).hexdigest()


def flip_byte(objects: ObjectStore, key: str, offset: int, oob: OutOfBand | None = None) -> None:
    """Corrupt one stored byte, out of band (through ``oob`` when the backend gives one: a
    store that checks what it is given, as a server does, would refuse the bytes)."""
    data = bytearray(objects.get(key))
    data[offset] ^= 0xFF
    replace(objects, key, bytes(data), oob)


def replace(objects: ObjectStore, key: str, data: bytes, oob: OutOfBand | None = None) -> None:
    """Put ``data`` under ``key`` in place of what is there, behind the store's back."""
    if oob is not None:
        oob.write(key, data)
        return
    objects.delete(key)
    objects.put(key, data)


def keys(objects: ObjectStore, prefix: str = "") -> list[str]:
    return sorted(info.key for info in objects.list(prefix))


def assert_never_delivered(blobs: BlobStore, digest: str, error: type[Exception], dest: Path) -> None:
    """Every way of reading ``digest`` raises ``error`` naming it, and leaves no file behind."""
    with pytest.raises(error, match=digest):
        blobs.read(digest)
    with pytest.raises(error, match=digest):
        dict(blobs.read_many([digest]))
    with pytest.raises(error, match=digest):
        blobs.read_to_file(digest, dest)
    assert not dest.exists()


class BadReads:
    """The object store, except that the first ``times`` reads of keys ``spoil`` accepts
    come back with one byte flipped: a fault in transit, which no stored byte shows."""

    def __init__(self, objects: ObjectStore, spoil: Callable[[str], bool], times: int = 1) -> None:
        self._objects, self._spoil, self.left = objects, spoil, times

    def __getattr__(self, name: str) -> object:
        return getattr(self._objects, name)

    def _spoiled(self, key: str, data: bytes) -> bytes:
        if not (self.left and self._spoil(key) and data):
            return data
        self.left -= 1
        return data[:1] + bytes([data[1] ^ 0xFF]) + data[2:]

    def get(self, key: str) -> bytes:
        return self._spoiled(key, self._objects.get(key))

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        return self._spoiled(key, self._objects.get_range(key, offset, length))

    def get_file(self, key: str, dest: Path) -> None:
        self._objects.get_file(key, dest)
        dest.write_bytes(self._spoiled(key, dest.read_bytes()))


class BlobStoreTests:
    """``BlobStore`` over one object-store backend."""

    @pytest.fixture
    def objects(self, open_objects: Callable[[], ObjectStore]) -> ObjectStore:
        return open_objects()

    @pytest.fixture
    def blobs(self, objects: ObjectStore) -> BlobStore:
        return BlobStore(objects)

    @pytest.fixture
    def out_of_band(self) -> OutOfBand | None:
        """Overridden by a backend that can look behind its store's back."""
        return None

    # -- layout -----------------------------------------------------------------------

    def test_small_blobs_go_into_one_pack_with_an_index(self, blobs: BlobStore, objects: ObjectStore) -> None:
        datas = [f"small blob {i}".encode() for i in range(50)]
        with blobs.writer() as writer:
            got = [writer.add_bytes(d) for d in datas]
        assert got == [digest_of(d) for d in datas]
        packs = keys(objects, "packs/")
        assert len(packs) == 2 and packs[0].endswith(".idx") and packs[1].endswith(".pack")
        assert keys(objects, "objects/") == []
        for data in datas:
            assert blobs.read(digest_of(data)) == data

    def test_large_blobs_are_stored_whole(self, blobs: BlobStore, objects: ObjectStore) -> None:
        data = os.urandom(LARGE)
        digest = blobs.put_bytes(data)
        assert digest == digest_of(data)
        assert keys(objects, "packs/") == []
        (key,) = keys(objects, "objects/")
        assert digest[2:] in key
        assert objects.get(key) == data
        assert blobs.read(digest) == data

    def test_a_large_blob_is_the_object_at_its_digests_key(
        self, blobs: BlobStore, out_of_band: OutOfBand | None, tmp_path: Path
    ) -> None:
        oob = needed(out_of_band)
        data, source = os.urandom(LARGE), tmp_path / "large"
        source.write_bytes(os.urandom(LARGE + 1))
        digest = blobs.put_bytes(data)
        with blobs.writer() as writer:
            from_file, _ = writer.add_file(source)
        assert oob.read(f"objects/{digest[:2]}/{digest[2:]}") == data
        assert oob.read(f"objects/{from_file[:2]}/{from_file[2:]}") == source.read_bytes()

    def test_packs_and_indexes_are_the_objects_listed(
        self, blobs: BlobStore, objects: ObjectStore, out_of_band: OutOfBand | None
    ) -> None:
        oob = needed(out_of_band)
        datas = [f"small blob {i}".encode() for i in range(5)]
        with blobs.writer() as writer:
            for data in datas:
                writer.add_bytes(data)
        index, pack = keys(objects, "packs/")
        raw = oob.read(pack)
        assert raw is not None and all(data in raw for data in datas)
        assert len(raw) == sum(len(d) for d in datas)
        listed = oob.read(index)
        assert listed is not None and all(bytes.fromhex(digest_of(d)) in listed for d in datas)

    def test_a_blob_written_behind_the_stores_back_is_read(
        self, open_objects: Callable[[], ObjectStore], out_of_band: OutOfBand | None
    ) -> None:
        oob = needed(out_of_band)
        data = os.urandom(LARGE)
        digest = digest_of(data)
        oob.write(f"objects/{digest[:2]}/{digest[2:]}", data)
        blobs = BlobStore(open_objects())
        assert blobs.missing({digest: LARGE}) == set()
        assert blobs.read(digest) == data

    def test_add_file_hashes_and_stores_in_one_call(self, blobs: BlobStore, tmp_path: Path) -> None:
        small, large = tmp_path / "small", tmp_path / "large"
        small.write_bytes(b"a small file")
        large.write_bytes(os.urandom(LARGE))
        with blobs.writer() as writer:
            assert writer.add_file(small) == (digest_of(small.read_bytes()), 12)
            assert writer.add_file(large) == (digest_of(large.read_bytes()), LARGE)
        assert blobs.read(digest_of(small.read_bytes())) == small.read_bytes()
        assert blobs.read(digest_of(large.read_bytes())) == large.read_bytes()

    def test_add_file_refuses_bytes_that_are_not_the_expected_ones(
        self, blobs: BlobStore, objects: ObjectStore, tmp_path: Path
    ) -> None:
        for size in (100, LARGE):
            path = tmp_path / f"f{size}"
            path.write_bytes(b"x" * size)
            with blobs.writer() as writer, pytest.raises(ValueError, match="changed"):
                writer.add_file(path, expected=digest_of(b"y" * size))
        assert keys(objects) == []

    # -- dedup ------------------------------------------------------------------------

    def test_dedup_within_a_writer_and_across_writers(self, blobs: BlobStore, objects: ObjectStore) -> None:
        small, large = b"same small", os.urandom(LARGE)
        with blobs.writer() as writer:
            writer.add_bytes(small)
            writer.add_bytes(small)
            writer.add_bytes(large)
            writer.add_bytes(large)
        before = {info.key: info.size for info in objects.list()}
        assert len(keys(objects, "packs/")) == 2 and len(keys(objects, "objects/")) == 1
        with blobs.writer() as writer:
            writer.add_bytes(small)
            writer.add_bytes(large)
            assert writer.bytes_written == 0
        assert {info.key: info.size for info in objects.list()} == before

    def test_missing(self, blobs: BlobStore) -> None:
        small, large = b"stored small", os.urandom(LARGE)
        blobs.put_bytes(small)
        blobs.put_bytes(large)
        absent_small, absent_large = digest_of(b"absent"), digest_of(b"z" * LARGE)
        sizes = {
            digest_of(small): len(small),
            digest_of(large): LARGE,
            absent_small: 6,
            absent_large: LARGE,
        }
        assert blobs.missing(sizes) == {absent_small, absent_large}
        assert blobs.missing({}) == set()
        assert blobs.has(digest_of(small), len(small))
        assert not blobs.has(absent_large, LARGE)

    def test_unflushed_blobs_are_not_stored(self, blobs: BlobStore, open_objects: Callable[[], ObjectStore]) -> None:
        data = b"never flushed"
        with pytest.raises(RuntimeError), blobs.writer() as writer:
            writer.add_bytes(data)
            raise RuntimeError("the caller failed before committing")
        assert BlobStore(open_objects()).missing({digest_of(data): len(data)}) == {digest_of(data)}

    # -- reading ----------------------------------------------------------------------

    def test_read_many_returns_each_blob_once(self, blobs: BlobStore) -> None:
        datas = [os.urandom(n) for n in (0, 1, 100, 5000)] + [os.urandom(LARGE)]
        with blobs.writer() as writer:
            for data in datas:
                writer.add_bytes(data)
        wanted = [digest_of(d) for d in datas]
        got = dict(blobs.read_many(wanted + wanted[:2]))
        assert got == {digest_of(d): d for d in datas}

    def test_read_many_across_packs(self, blobs: BlobStore) -> None:
        datas = [f"blob {i}".encode() for i in range(6)]
        for data in datas:  # one pack each
            blobs.put_bytes(data)
        assert dict(blobs.read_many(digest_of(d) for d in reversed(datas))) == {digest_of(d): d for d in datas}

    def test_read_to_file(self, blobs: BlobStore, tmp_path: Path) -> None:
        for data in (b"small to file", os.urandom(LARGE)):
            digest = blobs.put_bytes(data)
            dest = tmp_path / digest
            blobs.read_to_file(digest, dest)
            assert dest.read_bytes() == data

    def test_missing_blob(self, blobs: BlobStore, tmp_path: Path) -> None:
        blobs.put_bytes(b"something else")
        assert_never_delivered(blobs, digest_of(b"absent"), BlobNotFoundError, tmp_path / "dest")

    # -- corruption -------------------------------------------------------------------

    def test_corrupt_small_blob_is_never_delivered(
        self, objects: ObjectStore, open_objects: Callable[[], ObjectStore], tmp_path: Path
    ) -> None:
        data, neighbour = b"a small blob to corrupt", b"an intact neighbour"
        with BlobStore(objects).writer() as writer:
            writer.add_bytes(data)
            writer.add_bytes(neighbour)
        (pack,) = keys(objects, "packs/")[1:]
        raw = objects.get(pack)
        flip_byte(objects, pack, raw.index(data) + 3)
        blobs = BlobStore(open_objects())  # nothing cached in memory
        digest = digest_of(data)
        assert_never_delivered(blobs, digest, CorruptBlobError, tmp_path / "dest")
        with pytest.raises(CorruptBlobError) as caught:
            dict(blobs.read_many([digest_of(neighbour), digest]))
        assert caught.value.digest == digest
        assert blobs.read(digest_of(neighbour)) == neighbour

    def test_corrupt_large_blob_is_never_delivered(
        self,
        objects: ObjectStore,
        open_objects: Callable[[], ObjectStore],
        tmp_path: Path,
        out_of_band: OutOfBand | None,
    ) -> None:
        data = os.urandom(LARGE)
        digest = BlobStore(objects).put_bytes(data)
        (key,) = keys(objects, "objects/")
        flip_byte(objects, key, LARGE // 2, out_of_band)
        assert_never_delivered(BlobStore(open_objects()), digest, CorruptBlobError, tmp_path / "dest")

    # -- healing ----------------------------------------------------------------------

    def test_a_corrupt_large_blob_is_set_aside_and_heals(
        self,
        objects: ObjectStore,
        open_objects: Callable[[], ObjectStore],
        tmp_path: Path,
        out_of_band: OutOfBand | None,
    ) -> None:
        data = os.urandom(LARGE)
        digest = BlobStore(objects).put_bytes(data)
        (key,) = keys(objects, "objects/")
        flip_byte(objects, key, 7, out_of_band)
        reader = BlobStore(open_objects())
        with pytest.raises(CorruptBlobError) as caught:
            reader.read(digest)
        (aside,) = keys(objects, "quarantine/")  # moved, not deleted
        assert aside.startswith(f"quarantine/{key}.")
        assert caught.value.set_aside is not None and caught.value.set_aside.endswith(aside)
        assert keys(objects, "objects/") == []
        assert_never_delivered(reader, digest, CorruptBlobError, tmp_path / "dest")  # still said corrupt
        writer_side = BlobStore(open_objects())  # another process logs the same bytes
        assert writer_side.missing({digest: LARGE}) == {digest}
        assert writer_side.put_bytes(data) == digest
        assert BlobStore(open_objects()).read(digest) == data
        reader.read_to_file(digest, tmp_path / "healed")
        assert (tmp_path / "healed").read_bytes() == data

    def test_a_corrupt_packed_blob_is_marked_and_a_new_slot_wins(
        self, objects: ObjectStore, open_objects: Callable[[], ObjectStore]
    ) -> None:
        data, neighbour = b"a small blob to corrupt", b"an intact neighbour"
        with BlobStore(objects).writer() as writer:
            writer.add_bytes(data)
            writer.add_bytes(neighbour)
        pack = next(k for k in keys(objects, "packs/") if k.endswith(".pack"))
        flip_byte(objects, pack, objects.get(pack).index(data) + 3)
        digest = digest_of(data)
        reader = BlobStore(open_objects())
        with pytest.raises(CorruptBlobError):
            dict(reader.read_many([digest_of(neighbour), digest]))
        assert reader.read(digest_of(neighbour)) == neighbour  # the pack's other blobs are fine
        assert pack in keys(objects, "packs/")
        other = BlobStore(open_objects())  # another process: skips the marked slot
        assert other.missing({digest: len(data), digest_of(neighbour): len(neighbour)}) == {digest}
        with pytest.raises(CorruptBlobError):
            other.read(digest)
        assert other.put_bytes(data) == digest  # a new slot, in a new pack
        assert reader.read(digest) == data and other.read(digest) == data
        assert BlobStore(open_objects()).read(digest) == data
        assert BlobStore(open_objects()).inventory().packs[pack].slots.keys() == {digest_of(neighbour)}

    def test_a_bad_read_of_a_large_blob_sets_nothing_aside(
        self, objects: ObjectStore, open_objects: Callable[[], ObjectStore], tmp_path: Path
    ) -> None:
        data = os.urandom(LARGE)
        digest = BlobStore(objects).put_bytes(data)
        (key,) = keys(objects, "objects/")
        spoil = lambda k: k.startswith("objects/")  # noqa: E731
        assert BlobStore(BadReads(open_objects(), spoil)).read(digest) == data  # type: ignore[arg-type]
        BlobStore(BadReads(open_objects(), spoil)).read_to_file(digest, tmp_path / "dest")  # type: ignore[arg-type]
        assert (tmp_path / "dest").read_bytes() == data
        assert keys(objects) == sorted([key])  # checked again, found intact, put back

    def test_a_bad_read_of_a_packed_blob_marks_nothing(
        self, objects: ObjectStore, open_objects: Callable[[], ObjectStore]
    ) -> None:
        data = b"a small blob read badly once"
        with BlobStore(objects).writer() as writer:
            digest = writer.add_bytes(data)
        before = keys(objects)
        reader = BlobStore(BadReads(open_objects(), lambda k: k.endswith(".pack")))  # type: ignore[arg-type]
        assert reader.read(digest) == data
        again = BlobStore(BadReads(open_objects(), lambda k: k.endswith(".pack")))  # type: ignore[arg-type]
        assert dict(again.read_many([digest])) == {digest: data}
        assert keys(objects) == before

    def test_stored_means_stored_with_the_right_size(
        self,
        objects: ObjectStore,
        open_objects: Callable[[], ObjectStore],
        tmp_path: Path,
        out_of_band: OutOfBand | None,
    ) -> None:
        data = os.urandom(LARGE)
        digest = BlobStore(objects).put_bytes(data)
        (key,) = keys(objects, "objects/")
        replace(objects, key, data[: LARGE // 2], out_of_band)  # cut short behind the store's back
        blobs = BlobStore(open_objects())
        assert blobs.missing({digest: LARGE}) == {digest}
        assert not blobs.has(digest, LARGE)
        source = tmp_path / "source.bin"
        source.write_bytes(data)
        with blobs.writer() as writer:
            assert not writer.holds(digest, LARGE)
            assert writer.add_file(source, expected=digest) == (digest, LARGE)
        assert BlobStore(open_objects()).read(digest) == data
        assert len(keys(objects, "quarantine/")) == 1  # the short one, set aside
        small = b"small and stored"
        blobs.put_bytes(small)
        assert not blobs.has(digest_of(small), len(small) + 1)  # a slot of another length

    # -- many writers -----------------------------------------------------------------

    def test_a_pack_written_by_another_instance_becomes_visible(
        self, blobs: BlobStore, open_objects: Callable[[], ObjectStore]
    ) -> None:
        blobs.put_bytes(b"loads the index once")
        assert blobs.missing({digest_of(b"x"): 1}) == {digest_of(b"x")}
        other = BlobStore(open_objects())  # another process, in effect
        with other.writer() as writer:
            writer.add_bytes(b"written elsewhere")
            writer.add_bytes(b"x")
        digest = digest_of(b"written elsewhere")
        assert blobs.read(digest) == b"written elsewhere"
        assert blobs.missing({digest_of(b"x"): 1}) == set()
        blobs.refresh()
        assert dict(blobs.read_many([digest, digest_of(b"x")])) == {digest: b"written elsewhere", digest_of(b"x"): b"x"}

    # -- what gc uses -----------------------------------------------------------------

    def test_inventory_lists_blobs_packs_and_strays(self, blobs: BlobStore, objects: ObjectStore) -> None:
        large = os.urandom(LARGE)
        with blobs.writer() as writer:
            writer.add_bytes(b"small one")
            writer.add_bytes(b"small two")
            writer.add_bytes(large)
        objects.put("packs/orphan.pack", b"a pack whose writer died before its index")
        found = blobs.inventory()
        assert list(found.large) == [digest_of(large)]
        assert found.large[digest_of(large)].size == LARGE
        (pack,) = found.packs.values()
        assert set(pack.slots) == {digest_of(b"small one"), digest_of(b"small two")}
        assert pack.info.size == len(b"small onesmall two") and pack.index.key.endswith(".idx")
        assert [info.key for info in found.strays] == ["packs/orphan.pack"]

    def test_repack_moves_what_it_keeps_and_a_stale_reader_follows(
        self, blobs: BlobStore, objects: ObjectStore, open_objects: Callable[[], ObjectStore]
    ) -> None:
        with blobs.writer() as writer:
            for i in range(5):
                writer.add_bytes(b"blob %d" % i)
        stale = BlobStore(open_objects())  # another process: reads the old index now
        assert stale.read(digest_of(b"blob 4")) == b"blob 4"
        (old,) = blobs.inventory().packs.values()
        kept = [digest_of(b"blob 1"), digest_of(b"blob 4")]
        assert blobs.repack([old], kept) > 0
        (new,) = blobs.inventory().packs.values()
        assert set(new.slots) == set(kept) and new.info.key != old.info.key
        assert not any(info.key.startswith(old.info.key[:-5]) for info in objects.list("packs/"))
        assert stale.read(digest_of(b"blob 4")) == b"blob 4"  # finds the new pack itself
        assert dict(stale.read_many(kept)) == {kept[0]: b"blob 1", kept[1]: b"blob 4"}
        with pytest.raises(BlobNotFoundError):
            stale.read(digest_of(b"blob 2"))  # not kept: gone
        assert stale.missing({digest_of(b"blob 2"): 6, kept[0]: 6}) == {digest_of(b"blob 2")}  # index read again

    def test_delete_removes_a_large_blob_or_a_pack_with_its_index(self, blobs: BlobStore, objects: ObjectStore) -> None:
        large = os.urandom(LARGE)
        with blobs.writer() as writer:
            writer.add_bytes(b"in a pack")
            writer.add_bytes(large)
        found = blobs.inventory()
        for key in [*found.packs, *(info.key for info in found.large.values())]:
            blobs.delete(key)
        assert keys(objects) == []
        assert blobs.missing({digest_of(b"in a pack"): 9, digest_of(large): LARGE}) == {
            digest_of(b"in a pack"),
            digest_of(large),
        }
