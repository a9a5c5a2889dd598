"""``quire server``'s API: the auth matrix (every route × no key / read / write / admin /
a key for another project), keys in logs and errors, and bad requests, on the app in
process over an embedded store. Each refused request leaves the store as it was."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3
import pytest

import quire
from quire.store import wire
from quire.store.catalog import (
    FinishCommit,
    HistoryRow,
    NewContribution,
    NewVersion,
    RunRecord,
    VersionCommit,
    new_commit_id,
    now,
)
from quire.store.verbs import VERBS
from servers import InProcessServer

SCOPES = ("read", "write", "admin")
#: the least scope each catalog verb needs: the API's specification, written out here
#: apart from the server's own table (a change to either shows up as a failure)
LEAST = {
    "read": {
        "projects", "project", "collections", "count_collections", "collection_type", "collection", "version",
        "version_by_id", "version_exists", "versions", "count_versions", "links_to", "run", "project_runs",
        "history", "runs_of", "versions_of", "check_pending", "pending", "find_pending", "pending_versions",
        "resolve_pending", "contributions", "gc_epoch", "sweep", "clock",
    },
    "write": {
        "create_project", "update_project", "update_collection", "delete_collection", "commit", "update_version",
        "delete_version", "link", "create_run", "finish_run", "update_run", "log_history", "use_version",
        "add_contribution", "finish", "open_lease", "renew_lease", "drop_lease",
    },
    "admin": {
        "delete_project", "expired_versions", "roots", "abort_pending", "begin_sweep", "renew_sweep", "end_sweep",
        "live_leases",
    },
}  # fmt: skip
#: verbs about the store as a whole, which a key limited to one project may not make
STORE_WIDE = {"expired_versions", "roots", "begin_sweep", "renew_sweep", "end_sweep", "live_leases"}
#: verbs about no project, which any key with the scope may make
ANY_PROJECT = {"projects", "gc_epoch", "sweep", "clock", "open_lease", "renew_lease", "drop_lease", "pending_versions"}


def test_the_specification_names_every_verb_of_the_server() -> None:
    assert set().union(*LEAST.values()) == set(VERBS)


class Store:
    """A server over an embedded store holding p/data:v0 (made by a run) and an open
    pending version p/collab, with a key of each kind; ``call`` makes one catalog call."""

    def __init__(self, tmp_path: Path) -> None:
        self.server = InProcessServer(str(tmp_path / "behind"))
        self.keys = {scope: self.server.key(scope) for scope in SCOPES}
        self.keys["other"] = self.server.key("admin", project="q")
        self.keys["none"] = ""
        behind = self.server.store
        catalog = behind.catalog
        files = tmp_path / "files"
        files.mkdir()
        (files / "a.txt").write_bytes(b"alpha")
        with quire.init(project="p", dir=str(tmp_path), settings={}) as run:
            art = quire.Artifact("data", "dataset")
            art.add_dir(str(files))
            run.log_artifact(art)
        self.version = catalog.version("p", "data", "v0")
        self.run_id = str(self.version.run_id)
        self.epoch = catalog.gc_epoch()
        root = self.version.root
        added = catalog.add_contribution(
            "p", "collab", "dataset", "d1", NewContribution(self.run_id, root, 1, 5), self.epoch
        )
        self.pending_id = added.pending_id
        self.root = root

    def client(self, who: str) -> Any:
        return self.server.client(self.keys[who] or None)

    def call(self, who: str, verb: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> Any:
        body = {"args": wire.encode(args), "kwargs": wire.encode(kwargs or {})}
        return self.client(who).post(f"/api/v1/catalog/{verb}", json=body)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("QUIRE_STORE", str(tmp_path / "behind"))
    made = Store(tmp_path)
    quire.store.close_stores()
    return made


def _calls(s: Store) -> dict[str, tuple[list[Any], dict[str, Any]]]:
    """A call of every verb on project p (destructive ones last, in this order)."""
    vid, run_id, epoch, root = s.version.id, s.run_id, s.epoch, s.root
    run = RunRecord(id="r-matrix", project="p", name=None, group=None, job_type=None, config={}, state="running",
                    created_at=now())  # fmt: skip
    version = NewVersion(digest="e" * 64, root=root, size=5, file_count=1)
    commit = VersionCommit("p", "matrix", "dataset", version, new_commit_id(), epoch)
    finish = FinishCommit("p", "collab", "dataset", "d1", NewContribution(run_id, root, 1, 5), ["nope"], version,
                          new_commit_id(), epoch)  # fmt: skip
    return {
        "projects": ([], {}),
        "project": (["p"], {}),
        "collections": (["p"], {}),
        "count_collections": (["p"], {}),
        "collection_type": (["p", "data"], {}),
        "collection": (["p", "data"], {}),
        "version": (["p", "data", "v0"], {}),
        "version_by_id": ([vid], {}),
        "version_exists": ([vid], {}),
        "versions": (["p", "data"], {}),
        "count_versions": (["p", "data"], {}),
        "links_to": ([vid], {}),
        "run": ([run_id], {}),
        "project_runs": (["p"], {}),
        "history": ([run_id], {}),
        "runs_of": ([vid, "output"], {}),
        "versions_of": ([run_id, "output"], {}),
        "check_pending": (["p", "collab", "dataset", "d1"], {}),
        "pending": ([s.pending_id], {}),
        "find_pending": (["p", "collab", "d1"], {}),
        "pending_versions": ([], {}),
        "resolve_pending": (["d1"], {"project": "p"}),
        "contributions": ([s.pending_id], {}),
        "gc_epoch": ([], {}),
        "sweep": ([], {}),
        "clock": ([], {}),
        "create_project": (["made-here"], {}),
        "update_project": (["p", {"description": "d"}], {}),
        "update_collection": (["p", "data"], {"description": "d"}),
        "commit": ([commit], {}),
        "update_version": ([vid], {"description": "d"}),
        "link": ([vid, "p", "linked", []], {}),
        "create_run": ([run], {}),
        "update_run": ([run_id], {"notes": "n"}),
        "log_history": ([run_id, [HistoryRow(0, {"x": 1}, now())]], {}),
        "use_version": ([run_id, vid], {}),
        "finish_run": ([run_id, "finished"], {}),
        "add_contribution": (["p", "collab", "dataset", "d1", NewContribution(None, root, 1, 5), epoch], {}),
        "finish": ([finish], {}),
        "open_lease": (["matrix", 60.0], {}),
        "renew_lease": (["no-such-lease", 60.0], {}),
        "drop_lease": (["no-such-lease"], {}),
        "live_leases": ([], {}),
        "expired_versions": (["2000-01-01T00:00:00+00:00"], {}),
        "roots": ([], {}),
        "abort_pending": ([s.pending_id], {}),
        "delete_version": ([vid], {}),
        "delete_collection": (["p", "matrix"], {}),
        "delete_project": (["made-here"], {}),
        "begin_sweep": ([epoch, 60.0, "matrix"], {}),
        "renew_sweep": ([epoch.number + 1, 60.0], {}),
        "end_sweep": ([epoch.number + 1], {}),
    }


def _allowed(who: str, verb: str) -> bool:
    if who == "none":
        return False
    scope = "admin" if who == "other" else who
    least = next(s for s, verbs in LEAST.items() if verb in verbs)
    if SCOPES.index(scope) < SCOPES.index(least):
        return False
    if who == "other":  # a key for project q: only calls about no project
        return verb in ANY_PROJECT
    return True


@pytest.mark.parametrize("who", ["none", "read", "write", "admin", "other"])
def test_every_catalog_verb_answers_each_kind_of_key_as_its_scope_and_project_allow(store: Store, who: str) -> None:
    calls = _calls(store)
    assert set(calls) == set(VERBS)
    wrong = {}
    for verb, (args, kwargs) in calls.items():
        answer = store.call(who, verb, args, kwargs)
        expected = _allowed(who, verb)
        refused = answer.status_code in (401, 403)
        if who == "none" and answer.status_code != 401:
            wrong[verb] = answer.status_code
        elif expected == refused:
            wrong[verb] = (answer.status_code, answer.text[:200])
        if refused:
            error = answer.json()["error"]
            assert error["type"] == ("AuthenticationError" if who == "none" else "PermissionDeniedError")
    assert wrong == {}


def test_a_key_for_another_project_sees_none_of_this_one(store: Store) -> None:
    assert store.call("other", "projects", []).json()["result"] == []
    assert store.call("other", "pending_versions", []).json()["result"] == []
    assert store.client("other").get("/api/v1/projects").json() == {"projects": []}
    assert store.call("admin", "pending_versions", []).json()["result"][0]["f"]["project"] == "p"
    assert "p" in store.client("read").get("/api/v1/projects").json()["projects"]


def _digest(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def _object_routes(s: Store) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(least scope, method, path, request arguments) of every object route."""
    blob = b"a large blob, verified on arrival"
    d = _digest(blob)
    key = f"objects/{d[:2]}/{d[2:]}"
    return [
        ("read", "GET", "/api/v1/store", {}),
        ("read", "GET", "/api/v1/projects", {}),
        ("read", "GET", "/api/v1/openapi.json", {}),
        ("read", "GET", "/api/v1/objects", {"params": {"prefix": "packs/"}}),
        ("read", "HEAD", "/api/v1/objects/catalog-id", {}),
        ("read", "GET", "/api/v1/objects/catalog-id", {}),
        ("write", "PUT", f"/api/v1/objects/{key}", {"content": blob}),
        ("write", "PUT", f"/api/v1/objects/packs/{'a' * 32}.pack", {"content": b"pack"}),
        ("write", "POST", "/api/v1/uploads", {"json": {"key": key}}),
        ("admin", "PUT", "/api/v1/objects/misc/thing", {"content": b"x"}),
        ("admin", "POST", "/api/v1/objects:move", {"json": {"key": "misc/thing", "new_key": "misc/moved"}}),
        ("admin", "DELETE", "/api/v1/objects/misc/moved", {}),
    ]


@pytest.mark.parametrize("who", ["none", "read", "write", "admin", "other"])
def test_every_object_route_answers_each_kind_of_key_as_its_scope_allows(store: Store, who: str) -> None:
    # Objects belong to the store, not to a project: a key for another project reads and
    # adds them (see docs/server.md: bytes are shared, content-addressed), but deleting
    # or moving them, or writing other keys, takes an admin key for every project
    wrong = {}
    for least, method, path, kwargs in _object_routes(store):
        answer = store.client(who).request(method, path, **kwargs)
        scope = {"other": "admin", "none": None}.get(who, who)
        expected = scope is not None and SCOPES.index(scope) >= SCOPES.index(least)
        expected = expected and not (who == "other" and least == "admin")
        refused = answer.status_code in (401, 403)
        if expected == refused or (who == "none" and answer.status_code != 401):
            wrong[f"{method} {path}"] = answer.status_code
    assert wrong == {}


def test_health_needs_no_key_and_says_nothing_of_the_store(store: Store) -> None:
    answer = store.client("none").get("/healthz")
    assert answer.status_code == 200 and set(answer.json()) == {"ok", "version"}


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic abc", "Bearer qk_", "Bearer qk_000000000000_wrong", "Bearer " + "x" * 5000],
)
def test_a_missing_malformed_or_wrong_key_is_401_and_never_echoed(store: Store, header: str) -> None:
    client = store.client("none")
    answer = client.get("/api/v1/projects", headers={"authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "AuthenticationError"
    secret = header.partition(" ")[2]
    assert not secret or secret not in answer.text


def test_a_revoked_key_stops_working_at_once(store: Store) -> None:
    key = store.server.key("write")
    client = store.server.client(key)
    assert client.get("/api/v1/projects").status_code == 200
    store.server.keys.revoke_key(key.split("_")[1])
    assert client.get("/api/v1/projects").status_code == 401


def test_keys_never_appear_in_the_request_log(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="quire.server"):
        for who in ("admin", "read", "other"):
            store.client(who).get("/api/v1/projects")
            store.call(who, "version", ["p", "data", "v0"])
            store.call(who, "delete_project", ["p"])  # refused for two of them
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "quire.server"]
    assert len(lines) == 9 and {line["status"] for line in lines} >= {200, 403}
    text = caplog.text
    for who in ("admin", "read", "other"):
        secret = store.keys[who]
        _, key_id, hidden = secret.split("_", 2)
        assert secret not in text and hidden not in text
        assert key_id in text  # the key's public id names the caller
    assert "data" not in "".join(str(line.get("route")) for line in lines)  # no names, no payloads


# -- bad requests ------------------------------------------------------------------------


def _state(s: Store) -> Any:
    catalog = s.server.store.catalog
    versions = {c.name: [v.id for v in catalog.versions("p", c.name)] for c in catalog.collections("p")}
    objects = sorted(i.key for i in s.server.store.blobs.objects.list())
    return catalog.projects(), versions, objects


BAD_BODIES: list[tuple[str, Callable[[Store], dict[str, Any]], int, str]] = [
    ("not JSON", lambda s: {"content": b"{not json"}, 400, "not JSON"),
    ("a list", lambda s: {"json": [1, 2]}, 400, "JSON object"),
    ("args not a list", lambda s: {"json": {"args": {"a": 1}}}, 400, "args is a list"),
    ("an unknown record", lambda s: {"json": {"args": [{"$r": "os.system", "f": {}}]}}, 400, "not a record"),
    ("too many arguments", lambda s: {"json": {"args": ["p", "x", "y", "z", "w"]}}, 400, "too many"),
    ("a wrong type", lambda s: {"json": {"args": [123]}}, 400, "is not text"),
    ("an unknown keyword", lambda s: {"json": {"args": ["p"], "kwargs": {"drop": True}}}, 400, "unexpected"),
    ("runs with a read", lambda s: {"json": {"args": ["p"], "runs": [1]}}, 400, "runs"),
]


@pytest.mark.parametrize("case", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_a_malformed_catalog_request_is_400_and_changes_nothing(store: Store, case: Any) -> None:
    _, body, status, says = case
    before = _state(store)
    answer = store.client("admin").post("/api/v1/catalog/project", **body(store))
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]["message"]
    assert _state(store) == before


def test_an_unknown_verb_or_route_is_refused_clearly(store: Store) -> None:
    for verb in ("close", "defer_run", "__init__", "engine", "../objects"):
        answer = store.client("admin").post(f"/api/v1/catalog/{verb}", json={})
        assert answer.status_code in (400, 404, 405), verb
        assert "error" in answer.json()
    assert store.client("admin").get("/api/v2/projects").status_code == 404


def test_an_oversized_catalog_request_is_413_and_changes_nothing(store: Store) -> None:
    before = _state(store)
    huge = {"args": ["p", {"blob": "x" * (33 << 20)}]}
    answer = store.client("admin").post("/api/v1/catalog/update_project", json=huge)
    assert answer.status_code == 413 and answer.json()["error"]["type"] == "TooLargeError"
    assert _state(store) == before


def test_errors_cross_as_their_class_through_the_client(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from quire.store import registry

    registry.register_store("http", store.server.connect)
    monkeypatch.setenv("QUIRE_STORE", store.server.url)
    try:
        monkeypatch.setenv("QUIRE_API_KEY", store.keys["read"])
        with pytest.raises(quire.errors.PermissionDeniedError, match="scope 'read'"):
            quire.Api().artifact("p/data:v0").delete()
        with pytest.raises(KeyError):  # ArtifactNotFoundError, a KeyError
            quire.Api().artifact("p/data:v9")
        quire.store.close_stores()
        monkeypatch.setenv("QUIRE_API_KEY", "qk_000000000000_forged")
        with pytest.raises(quire.errors.AuthenticationError, match="not valid"):
            quire.Api().artifact("p/data:v0")
    finally:
        quire.store.close_stores()
        registry.register_store("http", registry._server)
    assert store.server.store.catalog.version("p", "data", "v0").id == store.version.id
