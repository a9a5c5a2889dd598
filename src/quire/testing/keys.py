"""``KeyRingTests``: what every :class:`~quire.store.keys.KeyRing` must do.

A backend runs the suite by subclassing it and supplying one fixture, ``open_key_ring``:
a function that opens a *new handle* on one initially empty key ring each time it is
called (a second handle stands for another replica of the server)::

    class TestMyKeyRing(KeyRingTests):
        @pytest.fixture
        def open_key_ring(self, tmp_path):
            return lambda: MyKeyRing(tmp_path / "keys")

The suite's ``key_ring`` fixture is the first handle. Whether a secret reaches storage
can only be seen from behind the key ring's back: a backend that can show it also
overrides ``key_ring_backdoor`` with a function returning everything it stored, as text;
the test that needs it is skipped without one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest

from quire.errors import ArtifactNotFoundError, ValidationError
from quire.store.keys import SCOPES, KeyRecord, KeyRing

OpenKeyRing = Callable[[], KeyRing]
#: everything a key ring stored, as text (its tables' rows, its files)
KeyRingBackdoor = Callable[[], str]

#: the least randomness of a key's secret part, in bits
SECRET_BITS = 128


def secret_of(key: str, record: KeyRecord) -> str:
    """What of ``key`` is secret: all of it but its public id and the separators
    around it (``qk_<id>_<secret>`` gives the secret)."""
    _, found, after = key.partition(record.id)
    return after.lstrip("_-.:") if found else key


def estimated_bits(samples: list[str]) -> float:
    """A lower estimate of the random bits in strings made alike: at each position, the
    log2 of how many characters the samples show there (a counter or a clock shows few;
    64 samples of a uniform character of 64 show about 40, 5.3 of its 6 bits)."""
    width = min(len(s) for s in samples)
    return sum(math.log2(len({s[i] for s in samples})) for i in range(width))


class KeyRingTests:
    """The :class:`~quire.store.keys.KeyRing` protocol, on the backend ``open_key_ring`` opens."""

    @pytest.fixture
    def open_key_ring(self) -> OpenKeyRing:
        raise NotImplementedError("a backend's subclass supplies open_key_ring")

    @pytest.fixture
    def key_ring(self, open_key_ring: OpenKeyRing) -> KeyRing:
        return open_key_ring()

    @pytest.fixture
    def key_ring_backdoor(self) -> KeyRingBackdoor:
        pytest.skip("this backend gives the suite no view of what it stores")

    # -- making keys -------------------------------------------------------------------

    def test_a_made_key_maps_to_its_record(self, key_ring: KeyRing) -> None:
        key, record = key_ring.create_key("write", label="ci")
        assert (record.scope, record.project, record.label, record.revoked_at) == ("write", None, "ci", None)
        assert record.id and record.created_at
        assert key_ring.key_for(key) == record
        assert key_ring.keys() == [record]

    def test_the_label_is_empty_unless_given(self, key_ring: KeyRing) -> None:
        _, record = key_ring.create_key("read")
        assert record.label == ""

    def test_a_key_works_through_another_handle(self, key_ring: KeyRing, open_key_ring: OpenKeyRing) -> None:
        key, record = key_ring.create_key("admin")
        assert open_key_ring().key_for(key) == record

    def test_keys_differ_and_their_secrets_hold_128_random_bits(self, key_ring: KeyRing) -> None:
        made = [key_ring.create_key("read") for _ in range(64)]
        keys = [key for key, _ in made]
        assert len(set(keys)) == len(keys)
        assert len({record.id for _, record in made}) == len(made)
        secrets = [secret_of(key, record) for key, record in made]
        assert estimated_bits(secrets) >= SECRET_BITS, secrets[:3]

    def test_a_project_limited_key_records_its_project(self, key_ring: KeyRing) -> None:
        key, record = key_ring.create_key("write", project="vision", label="trainer")
        assert record.project == "vision"
        found = key_ring.key_for(key)
        assert found is not None and (found.project, found.scope) == ("vision", "write")

    @pytest.mark.parametrize("scope", ["root", "", "ADMIN", "read ", None, 2])
    def test_a_bad_scope_is_refused_and_stores_nothing(self, key_ring: KeyRing, scope: object) -> None:
        with pytest.raises(ValidationError, match="scope"):
            key_ring.create_key(scope)  # type: ignore[arg-type]
        assert key_ring.keys() == []

    @pytest.mark.parametrize("project", ["", "   ", 7, "p" * 1000])
    def test_a_bad_project_is_refused_and_stores_nothing(self, key_ring: KeyRing, project: object) -> None:
        with pytest.raises(ValidationError, match="project"):
            key_ring.create_key("read", project=project)  # type: ignore[arg-type]
        assert key_ring.keys() == []

    # -- secrets -----------------------------------------------------------------------

    def test_the_record_holds_no_secret(self, key_ring: KeyRing) -> None:
        key, record = key_ring.create_key("admin", project="p", label="ops")
        names = {field.name for field in dataclasses.fields(KeyRecord)}
        assert names == {"id", "scope", "project", "label", "created_at", "revoked_at"}
        secret = secret_of(key, record)
        for shown in (repr(record), repr(key_ring.keys()), repr(key_ring.key_for(key))):
            assert key not in shown and secret not in shown

    def test_storage_holds_no_key_and_no_secret(self, key_ring: KeyRing, key_ring_backdoor: KeyRingBackdoor) -> None:
        made = [key_ring.create_key(scope) for scope in SCOPES]
        stored = key_ring_backdoor()
        for key, record in made:
            assert record.id in stored  # the backdoor sees the keys' rows...
            assert key not in stored and secret_of(key, record) not in stored  # ...and no secret in them

    # -- refusing keys -----------------------------------------------------------------

    def test_a_right_id_with_a_wrong_secret_is_refused(self, key_ring: KeyRing) -> None:
        key, record = key_ring.create_key("admin")
        other, other_record = key_ring.create_key("read")
        secret = secret_of(key, record)
        last = "A" if key[-1] != "A" else "B"
        forged = [
            key[:-1] + last,  # one character off
            key.replace(secret, secret_of(other, other_record)),  # another key's secret
            key.replace(secret, secret[::-1]),
            key.upper() if key.upper() != key else key.lower(),
        ]
        for wrong in forged:
            assert wrong != key
            assert key_ring.key_for(wrong) is None, wrong
        assert key_ring.key_for(key) == record

    def test_garbage_is_refused_without_raising(self, key_ring: KeyRing) -> None:
        key, record = key_ring.create_key("admin")
        garbage = [
            "",
            "qk_",
            "qk_x_y",
            f"qk_{record.id}_",
            f"qk_{record.id}",
            key + "x",
            " " + key,
            key + "\n",
            key + "\x00",
            "x" * 1_000_000,
            key + "x" * 100_000,
            f"qk_{record.id}_" + "é" * 32,
            "qk_ÿÿÿÿÿÿÿÿÿÿÿÿ_" + "ünïcødé" * 5,
            "🔑" * 40,
            "\ud800",  # a lone surrogate: no UTF-8 for it
            "Bearer " + key,
        ]
        for text in garbage:
            assert key_ring.key_for(text) is None, text[:40]
        assert key_ring.key_for(key) == record

    # -- revoking ----------------------------------------------------------------------

    def test_a_revoked_key_is_refused_at_once_by_every_handle(
        self, key_ring: KeyRing, open_key_ring: OpenKeyRing
    ) -> None:
        replica = open_key_ring()  # opened before the revocation, and used: no stale answer
        key, record = key_ring.create_key("write")
        kept, kept_record = key_ring.create_key("write")
        assert replica.key_for(key) == record
        revoked = key_ring.revoke_key(record.id)
        assert revoked.id == record.id and revoked.revoked_at is not None
        assert key_ring.key_for(key) is None
        assert replica.key_for(key) is None
        assert open_key_ring().key_for(key) is None
        assert replica.key_for(kept) == kept_record  # the others still work

    def test_revoking_twice_keeps_the_first_time(self, key_ring: KeyRing, open_key_ring: OpenKeyRing) -> None:
        _, record = key_ring.create_key("read")
        first = key_ring.revoke_key(record.id)
        again = open_key_ring().revoke_key(record.id)
        assert again.revoked_at == first.revoked_at
        assert key_ring.keys() == [first]

    def test_revoking_an_unknown_id_names_it(self, key_ring: KeyRing) -> None:
        key_ring.create_key("read")
        with pytest.raises(ArtifactNotFoundError, match="0123456789ab"):
            key_ring.revoke_key("0123456789ab")
        listed = key_ring.keys()
        assert [record.revoked_at for record in listed] == [None]

    def test_keys_lists_oldest_first_with_the_revoked_ones(self, key_ring: KeyRing, open_key_ring: OpenKeyRing) -> None:
        made = [key_ring.create_key(scope, label=str(i))[1] for i, scope in enumerate(SCOPES)]
        key_ring.revoke_key(made[1].id)
        listed = open_key_ring().keys()
        assert [r.id for r in listed] == [r.id for r in made]
        assert [r.revoked_at is not None for r in listed] == [False, True, False]
        assert [r.label for r in listed] == ["0", "1", "2"]
        assert [r.created_at for r in listed] == sorted(r.created_at for r in listed)
