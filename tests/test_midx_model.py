"""The combined pack index against a plain dict model: packs added (with blobs that two
packs may share), slots marked corrupt, packs deleted as gc deletes them, consolidations
(full and partial) at random points; every lookup, by a long-lived process and by a
fresh one, equals the model's."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from quire.errors import QuireError
from quire.hashing import hash_bytes
from quire.store.blobs import BlobStore, Spool
from quire.store.objects import LocalObjects
from quire.store.packs import mark_key

#: the blobs packs are made of: few, so that packs share some
POOL = [bytes([i]) * (i * 7 + 1) for i in range(12)]
DIGESTS = [hash_bytes(data) for data in POOL]


class CombinedIndexMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="midx-model-"))
        self.root = self.dir / "blobs"
        self.live = BlobStore(LocalObjects(self.root))  # one process that stays open throughout
        self.packs: dict[str, set[int]] = {}  # the model: pack key → the pool's blobs it holds
        self.marks: set[tuple[str, int]] = set()  # (pack key, blob) slots marked corrupt

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def fresh(self) -> BlobStore:
        return BlobStore(LocalObjects(self.root))

    @rule(blobs=st.sets(st.integers(0, len(POOL) - 1), min_size=1, max_size=6))
    def add_pack(self, blobs: set[int]) -> None:
        # Written as a writer that did not look first (two writers may store one blob).
        before = {p.name for p in (self.root / "packs").glob("*.pack")} if (self.root / "packs").exists() else set()
        store = self.fresh()
        spool = Spool(store.objects)
        for i in sorted(blobs):
            spool.add(DIGESTS[i], POOL[i])
        store._write_pack(spool)
        [new] = {p.name for p in (self.root / "packs").glob("*.pack")} - before
        self.packs[f"packs/{new}"] = set(blobs)

    @precondition(lambda self: self.packs)
    @rule(data=st.data())
    def mark(self, data: st.DataObject) -> None:
        pack = data.draw(st.sampled_from(list(self.packs)))  # in the order made: keys are random
        blob = data.draw(st.sampled_from(sorted(self.packs[pack])))
        self.fresh().objects.put(mark_key(pack, DIGESTS[blob]), b"")  # another process found it corrupt
        self.marks.add((pack, blob))

    @precondition(lambda self: self.packs)
    @rule(data=st.data())
    def delete_pack(self, data: st.DataObject) -> None:
        pack = data.draw(st.sampled_from(list(self.packs)))  # in the order made: keys are random
        self.fresh().delete(pack)  # as gc deletes one: its index, then the pack
        del self.packs[pack]

    @rule(full=st.booleans(), by_live=st.booleans())
    def consolidate(self, full: bool, by_live: bool) -> None:
        (self.live if by_live else self.fresh()).consolidate(full=full)

    def expected(self) -> dict[int, bool]:
        return {
            i: any(i in held and (pack, i) not in self.marks for pack, held in self.packs.items())
            for i in range(len(POOL))
        }

    def check(self, store: BlobStore) -> None:
        expected = self.expected()
        sizes = {DIGESTS[i]: len(POOL[i]) for i in range(len(POOL))}
        assert store.missing(sizes) == {DIGESTS[i] for i, held in expected.items() if not held}
        for i, held in expected.items():
            if held:
                assert store.read(DIGESTS[i]) == POOL[i]
            else:
                try:
                    store.read(DIGESTS[i])
                except QuireError:
                    pass
                else:
                    raise AssertionError(f"blob {i} was read, but no present pack holds it unmarked")

    @invariant()
    def a_fresh_process_agrees(self) -> None:
        self.check(self.fresh())

    @invariant()
    def the_long_lived_process_agrees_after_a_reload(self) -> None:
        self.live.reload()  # gc's deletions are seen at the next reload (as after a gc epoch)
        self.check(self.live)


def test_the_combined_index_agrees_with_a_dict_model() -> None:
    run_state_machine_as_test(
        CombinedIndexMachine,
        settings=settings(max_examples=40, stateful_step_count=12, deadline=None),
    )
