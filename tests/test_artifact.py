"""Drafts, logging, committed versions and lineage: what users of the W&B API rely on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import quire
from quire.errors import ArtifactNotFoundError, ArtifactNotLoggedError, StoreError, ValidationError
from quire.store.blobs import SMALL
from support import digest, files_of, log_files

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3


def log(name: str, files: dict[str, bytes], tmp_path: Path, **kwargs: object) -> quire.Artifact:
    return log_files(name, files, tmp_path / f"src-{name}-{os.urandom(4).hex()}", **kwargs)


# -- drafts ---------------------------------------------------------------------------


def test_add_file_and_add_dir(make_files) -> None:
    root = make_files({"a.txt": b"alpha", "sub/b.bin": b"\x00\x01", "sub/deeper/c": b"c"})
    art = quire.Artifact("data", "dataset", description="words", metadata={"n": 3})
    entry = art.add_file(root / "a.txt")
    art.add_file(root / "a.txt", name="copies/renamed.txt")
    art.add_dir(root / "sub", name="folder")
    assert (entry.path, entry.digest, entry.size) == ("a.txt", digest(b"alpha"), 5)
    assert sorted(art.manifest.entries) == ["a.txt", "copies/renamed.txt", "folder/b.bin", "folder/deeper/c"]
    assert art.get_entry("folder/b.bin").digest == digest(b"\x00\x01")
    assert art.size == 5 + 5 + 2 + 1
    assert (art.description, art.metadata, art.type, art.name) == ("words", {"n": 3}, "dataset", "data")
    with pytest.raises(ArtifactNotFoundError, match="nope"):
        art.get_entry("nope")


def test_new_file(tmp_path: Path) -> None:
    art = quire.Artifact("notes", "text")
    with art.new_file("dir/hello.txt", mode="w", encoding="utf-8") as f:
        f.write("héllo")
    with art.new_file("raw.bin", mode="xb") as f:
        f.write(b"\xff")
    with pytest.raises(ValidationError, match="already"):
        with art.new_file("raw.bin", mode="xb") as f:
            pass
    art.save()
    got = quire.Api().artifact("notes:v0")
    assert files_of(got.download(tmp_path / "out")) == {"dir/hello.txt": "héllo".encode(), "raw.bin": b"\xff"}


def test_remove_a_path_or_a_folder(make_files) -> None:
    root = make_files({"a": b"1", "d/b": b"2", "d/e/c": b"3", "dd": b"4"})
    art = quire.Artifact("x", "dataset")
    art.add_dir(root)
    art.remove("d/e/c")
    assert sorted(art.manifest.entries) == ["a", "d/b", "dd"]
    art.remove("d")  # a folder: everything below it, not the file "dd" beside it
    assert sorted(art.manifest.entries) == ["a", "dd"]
    art.remove(art.get_entry("a"))
    assert sorted(art.manifest.entries) == ["dd"]
    with pytest.raises(ArtifactNotFoundError, match="zzz"):
        art.remove("zzz")


def test_different_content_at_a_taken_path_needs_overwrite(make_files) -> None:
    one = make_files({"f.txt": b"one"}, root=Path("one"))
    two = make_files({"f.txt": b"two"}, root=Path("two"))
    art = quire.Artifact("x", "dataset")
    art.add_file(one / "f.txt")
    art.add_file(one / "f.txt")  # the same bytes again: a no-op
    with pytest.raises(ValidationError, match="overwrite"):
        art.add_file(two / "f.txt")
    assert art.get_entry("f.txt").digest == digest(b"one")
    art.add_file(two / "f.txt", overwrite=True)
    assert art.get_entry("f.txt").digest == digest(b"two")
    with pytest.raises(ValidationError, match="merge"):
        art.add_dir(one)
    art.add_dir(two)  # identical content: fine
    art.add_dir(one, merge=True)
    assert art.get_entry("f.txt").digest == digest(b"one")


def test_add_dir_conflict_adds_nothing(make_files) -> None:
    art = quire.Artifact("x", "dataset")
    art.add_file(make_files({"b": b"old"}, root=Path("first")) / "b")
    second = make_files({"a": b"new a", "b": b"new b", "c": b"new c"}, root=Path("second"))
    with pytest.raises(ValidationError):
        art.add_dir(second)
    assert sorted(art.manifest.entries) == ["b"]


def test_is_tmp_names_the_file_by_its_content(make_files) -> None:
    path = make_files({"table.json": b"{}"}) / "table.json"
    art = quire.Artifact("x", "dataset")
    entry = art.add_file(path, is_tmp=True)
    assert entry.path == f"{digest(b'{}')[:20]}.json"  # W&B's shape (its digest is MD5, Quire's BLAKE3)
    entry = art.add_file(path, "media/t.table.json", is_tmp=True)
    assert entry.path == f"media/{digest(b'{}')[:20]}.table.json"


def test_draft_has_no_version(make_files) -> None:
    art = quire.Artifact("x", "dataset")
    assert art.is_draft() and art.state == "PENDING" and art.id is None
    with pytest.raises(ArtifactNotLoggedError, match="draft"):
        art.version
    with pytest.raises(ArtifactNotLoggedError):
        art.download()


# -- policies -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [100, SMALL + 100], ids=["small", "large"])
def test_mutable_policy_logs_the_bytes_as_they_were_when_added(tmp_path: Path, size: int) -> None:
    path = tmp_path / "weights.bin"
    original = os.urandom(size)
    path.write_bytes(original)
    with quire.init() as run:
        art = quire.Artifact("model", "model")
        art.add_file(path)  # policy="mutable" is the default
        path.write_bytes(os.urandom(size))  # the user keeps training and overwrites it
        run.log_artifact(art)
    got = quire.Api().artifact("model:latest")
    assert got.get_entry("weights.bin").digest == digest(original)
    assert files_of(got.download(tmp_path / "out")) == {"weights.bin": original}


@pytest.mark.parametrize("size", [100, SMALL + 100], ids=["small", "large"])
def test_immutable_policy_refuses_a_file_edited_before_logging(tmp_path: Path, size: int) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"a" * size)
    with quire.init() as run:
        art = quire.Artifact("model", "model")
        art.add_file(path, policy="immutable")
        path.write_bytes(b"b" * size)
        with pytest.raises(quire.QuireError, match="changed after it was added"):
            run.log_artifact(art)
        assert not quire.Api().artifact_exists("model")


def test_immutable_policy_logs_an_unchanged_file(tmp_path: Path) -> None:
    path = tmp_path / "src" / "big.bin"
    path.parent.mkdir()
    data = os.urandom(SMALL + 1)
    path.write_bytes(data)
    art = quire.Artifact("model", "model")
    art.add_file(path, policy="immutable")
    art.add_dir(path.parent, name="dir", policy="immutable")
    art.save()
    assert files_of(art.download(tmp_path / "out")) == {"big.bin": data, "dir/big.bin": data}


# -- logging --------------------------------------------------------------------------


def test_log_makes_consecutive_versions_and_moves_latest(tmp_path: Path) -> None:
    v0 = log("data", {"a": b"1"}, tmp_path, aliases=["best"], tags=["first"])
    v1 = log("data", {"a": b"2"}, tmp_path)
    assert (v0.version, v1.version) == ("v0", "v1")
    assert v0.qualified_name == "p/data:v0" and v0.name == "data:v0"
    assert v0.aliases == ["best", "latest"] and v0.tags == ["first"]
    assert v1.aliases == ["latest"]
    assert quire.Api().artifact("p/data:best").version == "v0"
    assert quire.Api().artifact("p/data").version == "v1"
    assert v0.state == "COMMITTED" and v0.id and v0.created_at


def test_relogging_the_same_files_returns_the_same_version(tmp_path: Path) -> None:
    v0 = log("data", {"a": b"1", "b": b"2"}, tmp_path)
    log("data", {"a": b"other"}, tmp_path)
    again = log("data", {"b": b"2", "a": b"1"}, tmp_path, aliases=["best"])
    assert again.version == "v0" and again.id == v0.id and again.digest == v0.digest
    assert "best" in again.aliases
    assert [v.version for v in quire.Api().artifact_versions("dataset", "p/data")] == ["v0", "v1"]
    assert quire.Api().artifact("p/data:best").version == "v0"
    relogger = quire.Api().run(f"p/{quire.Api().store.catalog.runs_of(v0.id, 'output')[-1].id}")
    assert relogger.id != v0.logged_by().id  # type: ignore[union-attr]
    assert [a.name for a in relogger.logged_artifacts()] == ["data:v0"]  # recorded as an output anyway


def test_digest_ignores_name_order_and_metadata(make_files) -> None:
    root = make_files({"a": b"1", "b": b"2"})
    one = quire.Artifact("x", "dataset", metadata={"k": 1})
    one.add_file(root / "a")
    one.add_file(root / "b")
    two = quire.Artifact("y", "model")
    two.add_file(root / "b")
    two.add_file(root / "a")
    assert one.digest == two.digest
    two.add_file(root / "a", name="c")
    assert one.digest != two.digest


def test_save_without_a_run_uses_an_implicit_one(make_files) -> None:
    art = quire.Artifact("x", "dataset")
    art.add_file(make_files({"a": b"1"}) / "a")
    art.save(project="elsewhere")
    assert art.qualified_name == "elsewhere/x:v0"
    maker = art.logged_by()
    assert maker is not None and maker.project == "elsewhere" and maker.state == "finished"
    assert art.wait() is art


def test_run_state(make_files) -> None:
    with pytest.raises(RuntimeError):
        with quire.init(project="p", job_type="train", group="g", config={"lr": 0.1}) as run:
            art = quire.Artifact("x", "dataset")
            art.add_file(make_files({"a": b"1"}) / "a")
            run.log_artifact(art)
            raise RuntimeError("training failed")
    maker = quire.Api().artifact("p/x:v0").logged_by()
    assert maker is not None
    assert (maker.id, maker.state, maker.job_type, maker.group, maker.config) == (
        run.id,
        "crashed",
        "train",
        "g",
        {"lr": 0.1},
    )


def test_a_run_is_recorded_by_its_first_write_or_when_it_ends(make_files) -> None:
    with quire.init(project="p", job_type="idle") as idle:
        pass  # wrote nothing: recorded as it ends
    assert quire.Api().run(f"p/{idle.id}").state == "finished"
    with quire.init(project="p", job_type="writer", config={"k": 1}) as run:
        art = quire.Artifact("x", "dataset")
        art.add_file(make_files({"a": b"1"}) / "a")
        run.log_artifact(art)  # the run's row rides with this commit
        recorded = quire.Api().run(run.id)
        assert (recorded.state, recorded.job_type, recorded.config) == ("running", "writer", {"k": 1})
        assert art.logged_by().id == run.id
    assert quire.Api().run(run.id).state == "finished"


# -- committed versions ---------------------------------------------------------------


def test_edit_aliases_tags_description_metadata(tmp_path: Path) -> None:
    log("data", {"a": b"1"}, tmp_path)
    log("data", {"a": b"2"}, tmp_path, aliases=["best"])
    v0 = quire.Api().artifact("p/data:v0")
    v0.aliases.append("best")  # moves from v1
    v0.tags = ["checked"]
    v0.description = "the good one"
    v0.metadata["acc"] = 0.93
    v0.save()
    again = quire.Api().artifact("p/data:best")
    assert again.version == "v0"
    assert (again.tags, again.description, again.metadata) == (["checked"], "the good one", {"acc": 0.93})
    assert quire.Api().artifact("p/data:v1").aliases == ["latest"]
    again.aliases.remove("best")
    again.save()
    assert not quire.Api().artifact_exists("p/data:best")
    assert quire.Api().artifact("p/data:v0").digest == v0.digest  # the files never change


def test_delete(tmp_path: Path) -> None:
    log("data", {"a": b"1"}, tmp_path, aliases=["prod"])
    v1 = log("data", {"a": b"2"}, tmp_path)
    v1.delete()
    assert quire.Api().artifact("p/data:latest").version == "v0"
    v0 = quire.Api().artifact("p/data:v0")
    with pytest.raises(ValidationError, match="delete_aliases"):
        v0.delete()
    assert quire.Api().artifact_exists("p/data:v0")
    v0.delete(delete_aliases=True)
    assert not quire.Api().artifact_exists("p/data:prod")
    assert log("data", {"a": b"3"}, tmp_path).version == "v2"  # numbers are never reused


def test_lineage(tmp_path: Path) -> None:
    made = log("data", {"a": b"1"}, tmp_path)
    maker = made.logged_by()
    with quire.init(project="p", job_type="eval") as reader:
        reader.use_artifact("data:latest")
    with quire.init(project="p") as downloader:
        quire.Api().artifact("p/data:v0").download(tmp_path / "dl")
    got = quire.Api().artifact("p/data:v0")
    assert got.logged_by().id == maker.id  # type: ignore[union-attr]
    assert sorted(r.id for r in got.used_by()) == sorted([reader.id, downloader.id])
    assert [a.name for a in maker.logged_artifacts()] == ["data:v0"]  # type: ignore[union-attr]
    assert quire.Api().run(f"p/{reader.id}").used_artifacts()[0].id == got.id


def test_use_artifact_forms(tmp_path: Path) -> None:
    log("data", {"a": b"1"}, tmp_path, aliases=["best"])
    log("data", {"a": b"2"}, tmp_path)
    with quire.init(project="p") as run:
        assert run.use_artifact("data").version == "v1"
        assert run.use_artifact("data:v0").version == "v0"
        assert run.use_artifact("data:best").version == "v0"
        assert run.use_artifact("p/data:v1").version == "v1"
        assert run.use_artifact("someone/p/data:latest").version == "v1"
        assert run.use_artifact("data", type="dataset").version == "v1"
        committed = quire.Api().artifact("p/data:v0")
        assert run.use_artifact(committed) is committed
    with quire.init(project="other") as run:
        assert run.use_artifact("p/data:best").version == "v0"
        with pytest.raises(ArtifactNotFoundError):
            run.use_artifact("data")  # no project: the run's own


def test_use_artifact_of_a_draft_logs_it(make_files) -> None:
    art = quire.Artifact("x", "dataset")
    art.add_file(make_files({"a": b"1"}) / "a")
    with quire.init(project="p") as run:
        used = run.use_artifact(art)
    assert used.version == "v0"
    assert [r.id for r in quire.Api().artifact("p/x:v0").used_by()] == [run.id]


def test_api_listings(tmp_path: Path) -> None:
    log("data", {"a": b"1"}, tmp_path)
    log("data", {"a": b"2"}, tmp_path, aliases=["best"])
    with quire.init(project="p") as run:
        model = quire.Artifact("net", "model")
        with model.new_file("w") as f:
            f.write("weights")
        run.log_artifact(model)
    api = quire.Api(overrides={"project": "p"})
    assert [a.version for a in api.artifact_versions("dataset", "data")] == ["v0", "v1"]
    with pytest.raises(ArtifactNotFoundError, match="model"):
        api.artifact_versions("model", "data")
    collections = api.artifact_collections("p")
    assert [(c.name, c.type, c.version_count) for c in collections] == [("data", "dataset", 2), ("net", "model", 1)]
    assert collections[0].aliases == ["best", "latest"]
    assert [c.name for c in api.artifact_collections("p", "model")] == ["net"]
    assert api.artifact_exists("data:v1") and api.artifact_exists("p/data:best")
    assert not api.artifact_exists("data:v2") and not api.artifact_exists("nothing")
    assert api.artifact("data:v0", type="dataset").version == "v0"
    assert [p.name for p in api.projects()] == ["p"]


# -- references -----------------------------------------------------------------------


def test_http_reference_with_etag(http_root: tuple[Path, str], tmp_path: Path) -> None:
    root, base = http_root
    (root / "labels.csv").write_bytes(b"id,label\n1,cat\n")
    art = quire.Artifact("refs", "dataset")
    (entry,) = art.add_reference(f"{base}/labels.csv")
    assert (entry.path, entry.size, entry.ref) == ("labels.csv", 15, f"{base}/labels.csv")
    assert "etag" in entry.extra
    art.save()
    got = quire.Api().artifact("refs:v0")
    assert files_of(got.download(tmp_path / "one")) == {"labels.csv": b"id,label\n1,cat\n"}
    (root / "labels.csv").write_bytes(b"id,label\n1,dog\n")  # the server's copy changes
    with pytest.raises(StoreError, match="changed since it was logged"):
        got.download(tmp_path / "two")
    assert not (tmp_path / "two" / "labels.csv").exists()


def test_http_reference_without_etag_is_checked_by_content(http_root: tuple[Path, str], tmp_path: Path) -> None:
    root, base = http_root
    (root / "noetag").mkdir()
    (root / "noetag" / "x.bin").write_bytes(b"payload")
    art = quire.Artifact("refs", "dataset")
    (entry,) = art.add_reference(f"{base}/noetag/x.bin", name="renamed.bin")
    assert (entry.path, entry.digest, entry.size) == ("renamed.bin", digest(b"payload"), 7)
    art.save()
    (root / "noetag" / "x.bin").write_bytes(b"PAYLOAD")
    with pytest.raises(StoreError, match="changed"):
        quire.Api().artifact("refs:v0").download(tmp_path / "out")


def test_http_reference_to_nothing(http_root: tuple[Path, str]) -> None:
    _, base = http_root
    art = quire.Artifact("refs", "dataset")
    with pytest.raises(StoreError, match=r"missing\.csv: File not found"):
        art.add_reference(f"{base}/missing.csv")
    assert len(art.manifest) == 0


def test_file_references(make_files, tmp_path: Path) -> None:
    root = make_files({"one.txt": b"1", "dir/two.txt": b"22", "dir/sub/three": b"333"})
    art = quire.Artifact("refs", "dataset")
    art.add_reference((root / "one.txt").as_uri())
    art.add_reference((root / "dir").as_uri(), name="folder")
    (loose,) = art.add_reference((root / "one.txt").as_uri(), name="unchecked", checksum=False)
    assert loose.size is None
    with pytest.raises(ValidationError, match="max_objects"):
        art.add_reference((root / "dir").as_uri(), name="capped", max_objects=1)
    assert sorted(art.manifest.entries) == ["folder/sub/three", "folder/two.txt", "one.txt", "unchecked"]
    assert art.get_entry("folder/two.txt").digest == digest(b"22")
    art.save()
    blobs = quire.Api().store.blobs
    assert blobs.missing({digest(b"333"): 3}) == {digest(b"333")}  # the bytes stay where they are
    got = quire.Api().artifact("refs:v0")
    assert files_of(got.download(tmp_path / "out")) == {
        "one.txt": b"1",
        "folder/two.txt": b"22",
        "folder/sub/three": b"333",
        "unchecked": b"1",
    }
    (root / "one.txt").write_bytes(b"changed")
    with pytest.raises(StoreError, match="changed"):
        got.download(tmp_path / "again")


def test_log_a_path_directly_and_module_level_helpers(make_files) -> None:
    root = make_files({"a.txt": b"1", "sub/b.txt": b"2"})
    run = quire.init(project="p")
    logged = run.log_artifact(root / "sub", name="folder", type="dataset")
    assert (logged.version, logged.type, sorted(logged.manifest.entries)) == ("v0", "dataset", ["b.txt"])
    single = quire.log_artifact(str(root / "a.txt"), aliases=["one"])  # through quire.run
    # named as W&B names it: run-<id>-<basename>
    assert (single.qualified_name, single.type, single.aliases) == (
        f"p/run-{run.id}-a.txt:v0",
        "unspecified",
        ["latest", "one"],
    )
    assert quire.run is run
    assert quire.use_artifact("folder:v0").id == logged.id
    run.finish()
    assert quire.run is None
    assert [r.id for r in quire.Api().artifact("p/folder:v0").used_by()] == [run.id]


def test_add_of_an_unknown_object(make_files) -> None:
    art = quire.Artifact("x", "dataset")
    with pytest.raises(ValidationError, match="add_file"):
        art.add({"not": "media"}, "thing")
    with pytest.raises(ValidationError, match="add_file"):
        art["thing"] = object()
    assert len(art.manifest) == 0


def test_api_names_accept_entity_and_project(tmp_path: Path) -> None:
    log("data", {"a": b"1"}, tmp_path)
    api = quire.Api()
    assert [a.version for a in api.artifact_versions("dataset", "me/p/data")] == ["v0"]
    assert api.artifact("me/p/data:v0").qualified_name == "p/data:v0"
    assert api.artifact_exists("p/data:latest") and not api.artifact_exists("data")  # default project
    assert api.artifact_collection("dataset", "p/data").version_count == 1
