"""The wire format of the server's API: records and errors cross it unchanged.

Records are taken from a real catalog (the embedded SQLite one) after a simple log, a
collaborative upsert and a run, so the test holds every field a catalog really fills.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

import quire
from quire import errors
from quire.store import open_store, wire
from quire.store.catalog import Epoch, NewVersion, VersionCommit


def _across(value: object) -> object:
    """``value`` after a trip through JSON text, as it goes between server and client."""
    return wire.decode(json.loads(json.dumps(wire.encode(value))))


def test_records_of_a_real_catalog_cross_unchanged(store_url: str, make_files) -> None:
    run = quire.init(project="p", job_type="train", config={"lr": 0.1, "$r": "not a tag"})
    art = quire.Artifact("data", "dataset", metadata={"$t": [1, 2], "nested": {"$b": "x"}})
    art.add_dir(str(make_files({"a.txt": "a", "b/c.txt": "c"})))
    run.log_artifact(art, aliases=["best"])
    part = quire.Artifact("shared", "dataset")
    part.add_dir(str(make_files({"x.txt": "x"})))
    run.upsert_artifact(part, distributed_id="d1")
    run.log({"loss": 1.5})
    run.finish()

    catalog = open_store(store_url).catalog
    version = catalog.version("p", "data")
    pending = catalog.find_pending("p", "shared", "d1")
    assert pending is not None
    records: list[object] = [
        version,
        catalog.collection("p", "data"),
        catalog.project("p"),
        catalog.run(version.run_id or ""),
        pending,
        *catalog.contributions(pending.id),
        catalog.gc_epoch(),
        *catalog.history(version.run_id or ""),
        catalog.live_leases(),
        catalog.roots(),
    ]
    for record in records:
        assert _across(record) == record
    assert version.metadata == {"$t": [1, 2], "nested": {"$b": "x"}}  # keys that look like tags stay keys
    assert {type(r).__name__ for r in records if dataclasses.is_dataclass(r)} >= {
        "VersionRecord",
        "CollectionRecord",
        "ProjectRecord",
        "RunRecord",
        "PendingRecord",
        "ContributionRecord",
        "Epoch",
        "HistoryRow",
    }


def test_requests_nest_records_tuples_sets_and_bytes() -> None:
    request = VersionCommit(
        project="p",
        collection="c",
        type="model",
        version=NewVersion(digest="d" * 64, root="r" * 64, size=3, file_count=1, metadata={"k": (1, "two")}),
        commit_id="c1",
        gc_epoch=Epoch(4, sweeping=False),
        aliases=["latest"],
    )
    assert _across(request) == request
    assert _across({"s": {1, 2}, "b": b"\x00\xff", "t": (None, 1.5)}) == {
        "s": {1, 2},
        "b": b"\x00\xff",
        "t": (None, 1.5),
    }


@pytest.mark.parametrize(
    "data",
    [
        {"$r": "Popen", "f": {}},  # a class outside the records is never looked up
        {"$r": "__builtins__", "f": {}},
        {"$r": "Epoch", "f": {"number": 1, "no_such_field": 2}},
        {"$r": "Epoch"},
        {"$b": "not base64!"},
        {"$t": 5},
        {"$s": None},
    ],
)
def test_bad_wire_data_is_refused_by_name(data: object) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_values_the_wire_cannot_carry_are_refused_on_encode() -> None:
    @dataclasses.dataclass
    class NotARecord:
        x: int

    for value in (NotARecord(1), {1: "int key"}):
        with pytest.raises(TypeError):
            wire.encode(value)


def test_a_value_json_cannot_hold_crosses_as_what_it_is_so_the_catalog_refuses_it() -> None:
    # the catalog behind the server gives the error a local one would, naming the value
    for value, kind in ((object(), "object"), (2j, "complex")):
        got = wire.decode(json.loads(json.dumps(wire.encode({"summary": {"x": value}}))))
        assert isinstance(got["summary"]["x"], wire.Opaque) and kind in repr(got["summary"]["x"])
    assert wire.decode(wire.encode([float("nan")]))[0] != wire.decode(wire.encode([float("nan")]))[0]
    assert wire.decode(json.loads(json.dumps(wire.encode([float("inf"), float("-inf")])))) == [
        float("inf"),
        float("-inf"),
    ]


def test_every_quire_error_is_rebuilt_as_its_class_with_its_attributes() -> None:
    samples: list[errors.QuireError] = [
        errors.MovedOnError("the collection moved on"),
        errors.ObjectNotFoundError("object 'k' is missing", "packs/k.pack"),
        errors.BlobNotFoundError("blob gone", "ab" * 32),
        errors.CommitOutcomeUnknownError("did it land?", "commit-7"),
        errors.ConflictError("two digests", {"a.txt": [("w1", "d1"), ("w2", "d2")]}),
        errors.MissingCapabilityError("cannot delete", "deletes"),
        errors.PermissionDeniedError("read key writing"),
    ]
    for exc in samples:
        body = json.loads(json.dumps(wire.error_body(exc)))
        back = wire.error_from(body, wire.status_of(exc))
        assert type(back) is type(exc)
        assert str(back) == str(exc)
        for name in ("key", "digest", "commit_id", "conflicts", "capability"):
            if hasattr(exc, name):
                assert getattr(back, name) == _across(getattr(exc, name))
    assert isinstance(wire.error_from({"error": {"type": "MovedOnError", "message": "m"}}, 409), errors.StoreError)


def test_an_answer_without_a_quire_error_is_a_comm_error() -> None:
    for body in (None, "text", {"detail": "x"}, {"error": {"type": "SystemExit", "message": "no"}}):
        exc = wire.error_from(body, 502)
        assert isinstance(exc, errors.CommError)
        assert not isinstance(exc, SystemExit)


def test_status_codes_follow_the_error_class() -> None:
    assert wire.status_of(errors.AuthenticationError("no key")) == 401
    assert wire.status_of(errors.PermissionDeniedError("scope")) == 403
    assert wire.status_of(errors.ObjectNotFoundError("gone")) == 404
    assert wire.status_of(errors.ArtifactNotFoundError("no such version")) == 404
    assert wire.status_of(errors.MovedOnError("raced")) == 409
    assert wire.status_of(errors.TooLargeError("too big")) == 413
    assert wire.status_of(errors.ValidationError("bad name")) == 400
    assert wire.status_of(errors.UnreachableError("db down")) == 503
    assert wire.status_of(errors.StoreError("disk")) == 500
    assert wire.status_of(RuntimeError("bug")) == 500
