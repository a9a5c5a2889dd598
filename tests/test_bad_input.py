"""Bad input: a clear error before anything is written, and the store unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

import quire
from quire.errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    CollectionTypeError,
    StoreError,
    ValidationError,
)
from quire.store import open_store
from servers import behind
from support import log_files

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3


def store_state(store_url: str) -> dict[str, list[str]]:
    """Every catalog row and every stored object (staging excluded), on any kind of store.

    Writers' leases are left out: they say which processes live (an open draft that
    staged a file holds one until it is logged or dropped), not what the store holds."""
    store = open_store(behind(store_url))
    with store.catalog.engine.connect() as conn:
        tables = sa.MetaData()
        tables.reflect(conn)
        state = {
            t.name: sorted(map(repr, conn.execute(sa.select(t)))) for t in tables.sorted_tables if t.name != "leases"
        }
    state["blobs"] = sorted(info.key for info in store.blobs.objects.list())
    return state


@pytest.fixture
def unchanged(store_url: str, tmp_path: Path):
    """``with unchanged():`` asserts the block leaves the store as it was (seeded with p/data:v0)."""
    log_files("data", {"a.txt": b"alpha"}, tmp_path / "seed", aliases=["best"])

    @contextmanager
    def check() -> Iterator[None]:
        before = store_state(store_url)
        yield
        assert store_state(store_url) == before

    return check


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.txt"
    path.write_bytes(b"a small file")
    return path


BAD_NAMES = ["", "a/b", "a b", "x" * 129, ".", "..", "naïve", "a:b", None, 5]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_artifact_name(name: object) -> None:
    with pytest.raises(ValidationError, match="invalid artifact name") as caught:
        quire.Artifact(name, "dataset")  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert "letters, digits" in str(caught.value)  # the rule, so the user can fix it


@pytest.mark.parametrize("type_", BAD_NAMES)
def test_invalid_artifact_type(type_: object) -> None:
    with pytest.raises(ValidationError, match="invalid artifact type"):
        quire.Artifact("ok", type_)  # type: ignore[arg-type]


# W&B's rule: an alias is any text but '/' and ':' (spaces are fine: tests/test_names_wandb.py)
@pytest.mark.parametrize("alias", ["a:b", "v3", "", "a/b", "x" * 129, 7, "a\x00b"])
def test_invalid_alias_at_log(unchanged, small_file: Path, alias: object) -> None:
    with quire.init(project="p") as run, unchanged():
        art = quire.Artifact("data", "dataset")
        art.add_file(small_file)
        with pytest.raises(ValidationError, match="alias"):
            run.log_artifact(art, aliases=["fine", alias])  # type: ignore[list-item]
        assert art.is_draft()


@pytest.mark.parametrize("tag", ["a/b", "", "x" * 129, " lead", "trail ", "a:b", 3])
def test_invalid_tag_at_log(unchanged, small_file: Path, tag: object) -> None:
    with quire.init(project="p") as run, unchanged():
        art = quire.Artifact("data", "dataset")
        art.add_file(small_file)
        with pytest.raises(ValidationError, match="tag"):
            run.log_artifact(art, tags=[tag])  # type: ignore[list-item]


def test_invalid_alias_or_tag_on_a_committed_version(unchanged) -> None:
    art = quire.Api().artifact("p/data:v0")
    with unchanged():
        art.aliases.append("no:colons")
        with pytest.raises(ValidationError, match="alias"):
            art.save()
        art.aliases.pop()
        art.tags.append("no/slash")
        with pytest.raises(ValidationError, match="tag"):
            art.save()


BAD_PATHS = ["../x", "a/../../x", "a/..", "/abs/x", "", ".", "./", "a/\x00b"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_invalid_entry_path(unchanged, small_file: Path, path: str) -> None:
    with quire.init(project="p"), unchanged():
        art = quire.Artifact("data", "dataset")
        with pytest.raises(ValidationError, match="invalid entry path"):
            art.add_file(small_file, name=path)
        with pytest.raises(ValidationError, match="invalid entry path"):
            with art.new_file(path) as f:
                f.write("never added")
        with pytest.raises(ValidationError, match="invalid entry path"):
            art.remove(path)
        if path:  # name="" means the default here: the artifact's root, the file's own name
            with pytest.raises(ValidationError, match="invalid entry path"):
                art.add_dir(small_file.parent, name=path)
            with pytest.raises(ValidationError, match="invalid entry path"):
                art.add_reference(small_file.as_uri(), name=path)
        assert len(art.manifest) == 0


@pytest.mark.parametrize("prefix", ["../x", "/abs"])
def test_invalid_download_prefix(unchanged, tmp_path: Path, prefix: str) -> None:
    with unchanged(), pytest.raises(ValidationError, match="invalid entry path"):
        quire.Api().artifact("p/data:v0").download(tmp_path / "out", path_prefix=prefix)
    assert not (tmp_path / "out").exists()


def test_add_file_of_a_missing_path_or_a_folder(unchanged, tmp_path: Path) -> None:
    with quire.init(project="p"), unchanged():
        art = quire.Artifact("data", "dataset")
        with pytest.raises(ValidationError, match="does not exist"):
            art.add_file(tmp_path / "nope.txt")
        with pytest.raises(ValidationError, match=r"not a file.*add_dir"):
            art.add_file(tmp_path)


def test_add_dir_of_a_file_or_a_missing_path(unchanged, small_file: Path, tmp_path: Path) -> None:
    with quire.init(project="p"), unchanged():
        art = quire.Artifact("data", "dataset")
        with pytest.raises(ValidationError, match=r"not a folder.*add_file"):
            art.add_dir(small_file)
        with pytest.raises(ValidationError, match="does not exist"):
            art.add_dir(tmp_path / "nope")


def test_invalid_policy(small_file: Path) -> None:
    art = quire.Artifact("data", "dataset")
    with pytest.raises(ValidationError, match="policy"):
        art.add_file(small_file, policy="sometimes")


# W&B's rules: NaN becomes None and a set a list (tests/test_names_wandb.py); infinity is refused
BAD_METADATA = [
    "not a dict",
    [1, 2],
    {"x": float("inf")},
    {"deep": [1, {"x": -float("inf")}]},
    {"x": object()},
    {1: "a", "1": "b"},
]


@pytest.mark.parametrize("metadata", BAD_METADATA)
def test_invalid_metadata(metadata: object) -> None:
    with pytest.raises(ValidationError, match="metadata"):
        quire.Artifact("data", "dataset", metadata=metadata)  # type: ignore[arg-type]
    art = quire.Artifact("data", "dataset")
    with pytest.raises(ValidationError, match="metadata"):
        art.metadata = metadata  # type: ignore[assignment]


def test_metadata_edited_in_place_is_checked_at_log(unchanged, small_file: Path) -> None:
    with quire.init(project="p") as run, unchanged():
        art = quire.Artifact("data", "dataset")
        art.add_file(small_file)
        art.metadata["loss"] = float("inf")
        with pytest.raises(ValidationError, match="metadata"):
            run.log_artifact(art)


def test_metadata_edited_in_place_is_checked_at_save(unchanged) -> None:
    art = quire.Api().artifact("p/data:v0")
    with unchanged():
        art.metadata["loss"] = float("inf")
        with pytest.raises(ValidationError, match="metadata"):
            art.save()


def test_use_of_a_missing_name_alias_or_version_lists_what_exists(unchanged) -> None:
    with quire.init(project="p") as run, unchanged():
        with pytest.raises(ArtifactNotFoundError, match="nothing") as caught:
            run.use_artifact("nothing")
        assert caught.value.available == ["data"]
        with pytest.raises(ArtifactNotFoundError, match="prod") as caught:
            run.use_artifact("data:prod")
        assert caught.value.available == ["v0", "best", "latest"]
        assert "available: v0, best, latest" in str(caught.value)
        with pytest.raises(ArtifactNotFoundError, match="v9"):
            run.use_artifact("data:v9")
        with pytest.raises(KeyError):  # what W&B users catch
            run.use_artifact("p/data:v9")


@pytest.mark.parametrize("address", ["data:", "a/b/c/d", ":v0", "data:v0:x", "data:bad/alias", ""])
def test_invalid_address(unchanged, address: str) -> None:
    with quire.init(project="p") as run, unchanged():
        with pytest.raises(ValidationError):
            run.use_artifact(address)


def test_use_with_another_type(unchanged) -> None:
    with quire.init(project="p") as run, unchanged():
        with pytest.raises(ValidationError, match="model"):
            run.use_artifact("data:v0", type="model")


def test_logging_to_a_collection_of_another_type(unchanged, small_file: Path) -> None:
    with quire.init(project="p") as run, unchanged():
        art = quire.Artifact("data", "model")
        art.add_file(small_file)
        with pytest.raises(CollectionTypeError, match="'dataset'"):
            run.log_artifact(art)
        assert art.is_draft()


def test_log_with_a_type_that_differs_from_the_artifact(unchanged, small_file: Path) -> None:
    with quire.init(project="p") as run, unchanged():
        art = quire.Artifact("data", "dataset")
        art.add_file(small_file)
        with pytest.raises(ValidationError, match="model"):
            run.log_artifact(art, type="model")


def test_logging_in_a_finished_run(unchanged, small_file: Path) -> None:
    run = quire.init(project="p")
    run.finish()
    with unchanged():
        art = quire.Artifact("data", "dataset")
        art.add_file(small_file)
        with pytest.raises(ValidationError, match="finished"):
            run.log_artifact(art)


def test_editing_a_logged_artifact(unchanged, small_file: Path) -> None:
    art = quire.Api().artifact("p/data:v0")
    with unchanged():
        for edit in (
            lambda: art.add_file(small_file),
            lambda: art.add_dir(small_file.parent),
            lambda: art.add_reference(small_file.as_uri()),
            lambda: art.remove("a.txt"),
            lambda: art.new_file("x").__enter__(),
        ):
            with pytest.raises(ArtifactFinalizedError, match="new_draft"):
                edit()
        assert sorted(art.manifest.entries) == ["a.txt"]


@pytest.mark.parametrize("where", ["under_a_file", "is_a_file"])
def test_a_store_that_cannot_be_written(tmp_path: Path, where: str) -> None:
    # Tests run as root, so permissions stop nothing: a regular file in the way does.
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a regular file")
    location = blocker / "store" if where == "under_a_file" else blocker
    with pytest.raises(StoreError, match=str(location)) as caught:
        quire.init(store=location)
    assert isinstance(caught.value, OSError)
    with pytest.raises(StoreError, match=str(location)):
        quire.Api(store=location)
    assert blocker.read_bytes() == b"a regular file"


def test_a_store_that_cannot_be_written_from_the_environment(
    tmp_path: Path, small_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    monkeypatch.setenv("QUIRE_STORE", str(blocker / "store"))
    art = quire.Artifact("data", "dataset")
    with pytest.raises(StoreError, match=r"QUIRE_STORE|cannot create"):
        art.add_file(small_file)
    with pytest.raises(StoreError):
        art.save()


def test_a_path_that_is_both_a_file_and_a_folder(unchanged, small_file: Path) -> None:
    with quire.init(project="p") as run, unchanged():
        art = quire.Artifact("data", "dataset")
        art.add_file(small_file, name="model")
        art.add_file(small_file, name="model/weights.bin")  # "model" cannot be both in a folder
        art.add_file(small_file, name="deep/x")
        art.add_file(small_file, name="deep/x/y/z")
        with pytest.raises(ValidationError, match="both a file and a folder") as caught:
            run.log_artifact(art)
        assert "'deep/x'" in str(caught.value) and "'model'" in str(caught.value)
        assert art.is_draft()


def test_a_run_id_that_is_taken(unchanged) -> None:
    quire.init(project="p", id="fixed-id").finish()
    with unchanged(), pytest.raises(ValidationError, match="fixed-id"):
        quire.init(project="p", id="fixed-id")
    assert quire.run is None


def test_use_of_a_version_deleted_meanwhile_or_from_another_store(unchanged, tmp_path: Path) -> None:
    log_files("elsewhere", {"x": b"x"}, tmp_path / "other-src", store=tmp_path / "other")
    foreign = quire.Api(store=tmp_path / "other").artifact("p/elsewhere:v0")
    with quire.init(project="p") as run:
        with unchanged(), pytest.raises(ArtifactNotFoundError, match="another store"):
            run.use_artifact(foreign)
        held = quire.Api().artifact("p/data:v0")
        held.delete(delete_aliases=True)
        with pytest.raises(ArtifactNotFoundError, match="deleted"):
            run.use_artifact(held)
