"""Entries, file listings and downloads as W&B code uses them, run with ``import quire as
wandb``: ``get_entry(path).download()``, ``files()`` page by page, ``download(path_prefix=)``
as a string prefix, W&B's default roots, ``remove`` of a ``Path``, and the drafting calls
W&B's ``Artifact`` has (``finalize``, ``new_file(mode=)``, ``get_added_local_path_name``...)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

import quire as wandb
from quire.core.gc import collect_garbage
from quire.errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ArtifactNotLoggedError,
    EntryNotFoundError,
    ValidationError,
)
from quire.sdk.artifact import default_root
from quire.store import open_store
from support import digest, files_of, log_files, write_tree
from test_bad_input import store_state

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

FILES = {
    "images/a.png": b"png bytes",
    "images/b.png": b"more png",
    "imx.txt": b"x",
    "im": b"a file named im",
    "index.txt": b"index",
    "other/im.txt": b"not at the start",
}


@pytest.fixture
def logged(tmp_path: Path) -> wandb.Artifact:
    """FILES logged as p/data:v0."""
    log_files("data", FILES, tmp_path / "src")
    return wandb.Api().artifact("p/data:v0")


@pytest.fixture
def unchanged(store_url: str):
    """``with unchanged():`` asserts the block leaves the store (catalog rows, blobs) as it was."""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = store_state(store_url)
        yield
        assert store_state(store_url) == before

    return check


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# -- entries ---------------------------------------------------------------------------


def test_an_entry_has_w_and_bs_fields(logged: wandb.Artifact) -> None:
    entry = logged.get_entry("images/a.png")
    assert (entry.path, entry.name, entry.size, entry.ref, entry.extra) == ("images/a.png", "images/a.png", 9, None, {})
    assert entry.digest == digest(b"png bytes") and entry.digest_algorithm() == "BLAKE3"
    assert logged.digest_algorithm == "BLAKE3"
    assert entry.md5 == md5_b64(b"png bytes")  # W&B's digest format, from the bytes themselves
    assert entry.mimetype == "image/png"
    assert entry.parent_artifact() is logged
    assert entry.birth_artifact_id is None and entry.local_path is None and entry.skip_cache is False
    assert entry.to_json() == {
        "path": "images/a.png",
        "digest": entry.digest,
        "size": 9,
        "extra": {},
        "skip_cache": False,
    }
    assert (
        repr(entry) == f"ArtifactManifestEntry(path='images/a.png', digest='{entry.digest}', size=9, skip_cache=False)"
    )
    assert logged.get_path("images/a.png") == entry  # W&B's older name
    assert logged.get_entry(Path("images") / "a.png") == entry


def test_an_entry_downloads_its_one_file_to_the_default_root(logged: wandb.Artifact) -> None:
    path = logged.get_entry("images/b.png").download()
    root = Path.cwd() / "artifacts" / "data:v0"
    assert path == str(root / "images" / "b.png")  # absolute, as W&B's
    assert files_of(root) == {"images/b.png": b"more png"}


def test_an_entry_downloads_below_the_root_given(logged: wandb.Artifact, tmp_path: Path) -> None:
    path = logged.get_entry("im").download(root=str(tmp_path / "out"), skip_cache=True)
    assert path == os.path.join(str(tmp_path / "out"), "im")
    assert files_of(tmp_path / "out") == {"im": b"a file named im"}


def test_a_wandb_documented_entry_download_in_a_run(logged: wandb.Artifact) -> None:
    with wandb.init(project="p", job_type="eval") as run:
        artifact = run.use_artifact("data:latest")
        local = artifact.get_entry("index.txt").download()
        assert Path(local).read_bytes() == b"index"
    assert [r.id for r in logged.used_by()] == [run.id]


def test_reference_entries_name_their_target(tmp_path: Path) -> None:
    source = write_tree(tmp_path / "refs", {"w.bin": b"weights"}) / "w.bin"
    with wandb.init(project="p") as run:
        art = wandb.Artifact("refs", "model")
        art.add_reference(source.as_uri())
        art.add_file(str(write_tree(tmp_path / "s", {"s.txt": b"s"}) / "s.txt"))
        run.log_artifact(art)
    ref = art.get_entry("w.bin")
    assert ref.ref_target() == source.as_uri() and ref.md5 is None
    assert Path(ref.download(str(tmp_path / "out"))).read_bytes() == b"weights"  # fetched from where it stays
    with pytest.raises(ValueError, match="not a reference"):
        art.get_entry("s.txt").ref_target()
    assert art.get_entry("s.txt").ref_url() == f"wandb-artifact://{art.id}/s.txt"


def test_get_entry_of_a_missing_path_is_a_key_error_naming_what_is_there(logged: wandb.Artifact) -> None:
    with pytest.raises(KeyError) as caught:
        logged.get_entry("images/c.png")
    assert isinstance(caught.value, EntryNotFoundError)
    assert "images/c.png" in str(caught.value) and "images/a.png" in str(caught.value)


@pytest.mark.parametrize("path", ["../secret", "/etc/passwd", "images/../../x", ""])
def test_get_entry_of_a_path_outside_the_artifact_is_refused(logged: wandb.Artifact, path: str, unchanged) -> None:
    with unchanged(), pytest.raises(ValidationError, match="invalid entry path"):
        logged.get_entry(path)


def test_an_entry_of_a_draft_cannot_be_downloaded(tmp_path: Path, unchanged) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"alpha"})
    with unchanged():
        art = wandb.Artifact("draft", "dataset")
        entry = art.add_file(str(src / "a.txt"))
        assert entry.path == "a.txt" and art.get_entry("a.txt") == entry
        with pytest.raises(ArtifactNotLoggedError, match=r"draft.*log it"):
            entry.download(str(tmp_path / "out"))
        with pytest.raises(ArtifactNotLoggedError, match="draft"):
            art.get_entry("a.txt").ref_url()
        assert entry.md5 == md5_b64(b"alpha")  # from the local file it was read from
    assert not (tmp_path / "out").exists()


def test_an_unknown_entry_attribute_names_itself(logged: wandb.Artifact) -> None:
    with pytest.raises(AttributeError, match="no_such_field"):
        logged.get_entry("im").no_such_field


# -- files() ---------------------------------------------------------------------------


@pytest.fixture
def many(tmp_path: Path) -> wandb.Artifact:
    """120 files, logged as p/many:v0."""
    log_files("many", {f"d/f{i:03}.txt": str(i).encode() for i in range(120)}, tmp_path / "src")
    return wandb.Api().artifact("p/many:v0")


def test_files_yields_every_entry_in_path_order_page_by_page(many: wandb.Artifact, tmp_path: Path) -> None:
    files = many.files(per_page=50)
    assert len(files) == 120 and files.more
    first = next(files)
    assert (first.name, first.size, first.mimetype) == ("d/f000.txt", 1, "text/plain")
    assert files.cursor == "d/f049.txt"  # one page of 50 loaded, no more
    names = [f.name for f in files]  # a new iteration starts again from the first, as W&B's
    assert names == [f"d/f{i:03}.txt" for i in range(120)] and not files.more
    assert files[119].name == "d/f119.txt" and [f.name for f in files[1:3]] == ["d/f001.txt", "d/f002.txt"]
    assert many.files()[-1].name == "d/f119.txt"
    fresh = many.files(per_page=10)
    assert fresh[:0] == [] and fresh.cursor is None and [f.name for f in fresh[:10]][-1] == "d/f009.txt"
    assert fresh.cursor == "d/f009.txt"  # a slice loads no page past its end
    path = files[7].download(root=str(tmp_path / "one"))
    assert Path(path).read_bytes() == b"7"
    again = files[7].download(root=str(tmp_path / "one"), replace=True, exist_ok=True)  # a W&B File's arguments
    assert again == path and Path(path).read_bytes() == b"7"


def test_files_resume_at_an_earlier_listings_cursor(many: wandb.Artifact) -> None:
    listing = many.files(per_page=30)
    page = listing[:30]
    resumed = many.files(per_page=30, start=listing.cursor)
    assert [f.name for f in page] + [f.name for f in resumed] == [f"d/f{i:03}.txt" for i in range(120)]
    assert many.files(start="d/f118.txt")[0].name == "d/f119.txt"
    assert list(many.files(start="d/f119.txt")) == []


def test_files_of_given_names_skips_those_not_held(many: wandb.Artifact) -> None:
    assert [f.name for f in many.files(names=["d/f002.txt", "d/f001.txt", "nope.txt"])] == ["d/f001.txt", "d/f002.txt"]
    assert len(many.files(names=["d/f002.txt", "nope.txt"])) == 1


@pytest.mark.parametrize("per_page", [0, -5, True, "50", 2.5])
def test_files_per_page_must_be_a_positive_count(many: wandb.Artifact, per_page: object, unchanged) -> None:
    with unchanged(), pytest.raises(ValidationError, match="per_page"):
        many.files(per_page=per_page)  # type: ignore[arg-type]


def test_files_names_outside_the_artifact_are_refused(many: wandb.Artifact, unchanged) -> None:
    with unchanged(), pytest.raises(ValidationError, match="invalid entry path"):
        many.files(names=["../x"])


# -- download() ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("im", {"images/a.png", "images/b.png", "imx.txt", "im"}),  # a string prefix, as W&B's
        ("images/", {"images/a.png", "images/b.png"}),
        ("images", {"images/a.png", "images/b.png"}),
        ("i", {"images/a.png", "images/b.png", "imx.txt", "im", "index.txt"}),
        ("images/a.png", {"images/a.png"}),
        (Path("other"), {"other/im.txt"}),
        ("", set(FILES)),
    ],
)
def test_path_prefix_matches_the_start_of_paths(
    logged: wandb.Artifact, tmp_path: Path, prefix: str, expected: set[str]
) -> None:
    root = logged.download(str(tmp_path / "out"), path_prefix=prefix)
    assert set(files_of(root)) == expected
    assert files_of(root) == {p: FILES[p] for p in expected}


def test_a_prefix_that_matches_nothing_writes_nothing(logged: wandb.Artifact, tmp_path: Path, unchanged) -> None:
    with unchanged(), pytest.raises(ArtifactNotFoundError, match="no path of data:v0 starts with 'images/c'") as caught:
        logged.download(str(tmp_path / "out"), path_prefix="images/c")
    assert "images/a.png" in str(caught.value)  # what is there, to pick from
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("prefix", ["../", "/images", "images/../.."])
def test_a_prefix_outside_the_artifact_is_refused(
    logged: wandb.Artifact, tmp_path: Path, prefix: str, unchanged
) -> None:
    with unchanged(), pytest.raises(ValidationError, match="invalid entry path"):
        logged.download(str(tmp_path / "out"), path_prefix=prefix)
    assert not (tmp_path / "out").exists()


def test_download_returns_the_root_as_given_and_takes_multipart(logged: wandb.Artifact, tmp_path: Path) -> None:
    assert logged.download(root="rel", multipart=True) == "rel"  # W&B returns a given root as given
    assert logged.download(root=tmp_path / "p", multipart=False) == str(tmp_path / "p")
    assert files_of("rel") == files_of(tmp_path / "p") == FILES


def test_the_default_root_honours_the_artifact_dir(
    logged: wandb.Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", "wandb-dir")  # relative: made absolute, as W&B does
    assert logged.download() == str(Path.cwd() / "wandb-dir" / "data:v0")
    monkeypatch.setenv("QUIRE_ARTIFACT_DIR", str(tmp_path / "quire-dir"))  # Quire's own, first
    assert logged.download() == str(tmp_path / "quire-dir" / "data:v0")
    assert files_of(tmp_path / "quire-dir" / "data:v0") == FILES
    logged.verify()  # its default root is download's


def test_the_default_root_avoids_a_colon_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = str(Path.cwd() / "artifacts" / "data:v0")
    assert default_root("data:v0") == plain
    (Path.cwd() / "artifacts" / "data-v0").mkdir(parents=True)  # a folder of the other spelling, found first
    assert default_root("data:v0") == str(Path.cwd() / "artifacts" / "data-v0")
    (Path.cwd() / "artifacts" / "data-v0").rmdir()
    with monkeypatch.context() as m:
        m.setattr(os, "name", "nt")
        windows = default_root("data:v0")
    assert windows == str(Path.cwd() / "artifacts" / "data-v0")


def test_checkout_defaults_to_the_collections_folder(logged: wandb.Artifact, tmp_path: Path) -> None:
    log_files("data", {"new.txt": b"v1 only"}, tmp_path / "src1")
    root = logged.checkout()
    assert root == str(Path.cwd() / "artifacts" / "data")  # no version: W&B's checkout root
    assert files_of(root) == FILES
    assert wandb.Api().artifact("p/data:v1").checkout() == root
    assert files_of(root) == {"new.txt": b"v1 only"}


def test_file_defaults_to_w_and_bs_relative_root(tmp_path: Path) -> None:
    log_files("one", {"model.pt": b"weights"}, tmp_path / "src")
    path = wandb.Api().artifact("p/one:v0").file()
    assert path == os.path.join(".", "artifacts", "one:v0", "model.pt")
    assert Path(path).read_bytes() == b"weights"


# -- drafting --------------------------------------------------------------------------


def test_remove_takes_a_path_or_an_entry(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"a", "sub/b.txt": b"b", "sub/c.txt": b"c", "d.txt": b"d"})
    art = wandb.Artifact("data", "dataset")
    art.add_dir(str(src))
    art.remove(Path("sub") / "b.txt")
    art.remove(Path("sub"))
    art.remove(art.get_entry("d.txt"))
    assert [e.path for e in art.manifest] == ["a.txt"]


def test_remove_of_a_path_the_draft_lacks_is_a_file_not_found_error(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"a"})
    art = wandb.Artifact("data", "dataset")
    art.add_file(str(src / "a.txt"))
    for missing in ("b.txt", Path("sub"), "a.tx"):
        with pytest.raises(FileNotFoundError, match=r"cannot remove .* no such path") as caught:
            art.remove(missing)
        assert isinstance(caught.value, KeyError) and "a.txt" in str(caught.value)
    assert [e.path for e in art.manifest] == ["a.txt"]


def test_w_and_bs_constructor_arguments_are_accepted(tmp_path: Path) -> None:
    art = wandb.Artifact(
        "data", "dataset", description="d", metadata={"k": 1}, incremental=False, use_as="x",
        storage_region="coreweave-us", digest_algorithm="XXH128",
    )  # fmt: skip
    src = write_tree(tmp_path / "src", {"a.txt": b"alpha"})
    art.add_file(str(src / "a.txt"))
    with wandb.init(project="p") as run:
        run.log_artifact(art)
    assert art.digest_algorithm == "BLAKE3" and art.get_entry("a.txt").digest == digest(b"alpha")
    assert art.json_encode() == {
        "_type": "artifactVersion", "_version": "v0", "id": art.id, "version": "v0", "sequenceName": "data",
        "usedAs": None,
    }  # fmt: skip


def test_new_file_modes(tmp_path: Path) -> None:
    art = wandb.Artifact("data", "dataset")
    with art.new_file("notes.txt") as f:
        f.write("one")
    with pytest.raises(ValidationError, match="mode='w'"):
        with art.new_file("notes.txt") as f:
            f.write("two")
    with art.new_file("notes.txt", mode="w", policy="immutable") as f:  # "w": replace, as W&B's overwrite
        f.write("three")
    assert art.get_entry("notes.txt").digest == digest(b"three")
    with pytest.raises(ValidationError, match="policy"):
        with art.new_file("other.txt", policy="sometimes"):
            pass


def test_a_finalized_draft_refuses_edits_and_still_logs(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"a", "b.txt": b"b"})
    art = wandb.Artifact("data", "dataset")
    art.add_file(str(src / "a.txt"))
    art.finalize()
    with pytest.raises(ArtifactFinalizedError, match="finalized"):
        art.add_file(str(src / "b.txt"))
    with pytest.raises(ArtifactFinalizedError, match="finalized"):
        art.remove("a.txt")
    assert art.is_draft() and art.state == "PENDING"
    with wandb.init(project="p") as run:
        run.log_artifact(art)
    assert not art.is_draft() and art.state == "COMMITTED" and art.wait() is art
    assert [e.path for e in wandb.Api().artifact("p/data:v0").files()] == ["a.txt"]


def test_get_added_local_path_name(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"a", "d/b.txt": b"b"})
    art = wandb.Artifact("data", "dataset")
    art.add_file(str(src / "a.txt"), name="renamed.txt")
    art.add_dir(str(src / "d"), name="folder")
    assert art.get_added_local_path_name(str(src / "a.txt")) == "renamed.txt"
    assert art.get_added_local_path_name(os.path.join(str(src / "d"), "b.txt")) == "folder/b.txt"
    os.chdir(tmp_path)
    assert art.get_added_local_path_name("src/a.txt") == "renamed.txt"  # relative spelling of the same file
    assert art.get_added_local_path_name(str(tmp_path / "elsewhere.txt")) is None


def test_logged_by_and_used_by(logged: wandb.Artifact) -> None:
    producer = logged.logged_by()
    with wandb.init(project="p") as consumer:
        consumer.use_artifact("data:v0").download()
    assert producer is not None and producer.id != consumer.id
    assert [r.id for r in logged.used_by()] == [consumer.id]


def test_a_drafts_distributed_id_is_what_upsert_and_finish_use(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"a", "b.txt": b"b"})
    with wandb.init(project="p") as writer:  # no group: the id comes from the artifact
        part = wandb.Artifact("preds", "dataset")
        part.distributed_id = "job-7"
        part.add_file(str(src / "a.txt"))
        writer.upsert_artifact(part)
    with wandb.init(project="p") as finisher:
        last = wandb.Artifact("preds", "dataset")
        last.add_file(str(src / "b.txt"))
        finisher.finish_artifact(last, distributed_id="job-7")
    assert last.distributed_id == "job-7"
    assert [e.path for e in last.files()] == ["a.txt", "b.txt"]
    with pytest.raises(ValidationError, match="distributed_id must be a string"):
        wandb.Artifact("x", "dataset").distributed_id = 7  # type: ignore[assignment]


def test_a_drafts_md5_is_refused_once_its_local_file_changed(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"alpha"})
    art = wandb.Artifact("data", "dataset")
    entry = art.add_file(str(src / "a.txt"), policy="immutable")
    (src / "a.txt").write_bytes(b"ALPHA, edited")
    with pytest.raises(ValidationError, match="changed since it was added"):
        entry.md5


def test_a_deleted_versions_state_is_deleted(tmp_path: Path) -> None:
    art = log_files("data", {"a.txt": b"a"}, tmp_path / "src", aliases=["best"])
    with pytest.raises(ValueError, match="alias"):  # W&B too refuses a version that has aliases
        art.delete()
    assert art.state == "COMMITTED"
    art.delete(delete_aliases=True)
    assert art.state == "DELETED"
    with pytest.raises(KeyError):
        wandb.Api().artifact("p/data:v0")


def test_a_ref_url_adds_that_file_to_another_artifact(logged: wandb.Artifact, tmp_path: Path, store_url: str) -> None:
    url = logged.get_entry("images/a.png").ref_url()  # W&B's documented use of ref_url
    with wandb.init(project="p") as run:
        derived = wandb.Artifact("derived", "dataset")
        derived.add_reference(url)
        derived.add_reference(url, name="copy/a.png")
        run.log_artifact(derived)
    got = wandb.Api().artifact("p/derived:v0")
    assert {e.path: e.digest for e in got.files()} == {
        "images/a.png": digest(b"png bytes"),
        "copy/a.png": digest(b"png bytes"),
    }
    logged.delete()  # the derived version holds the bytes itself: a gc keeps them
    collect_garbage(open_store(store_url), grace=0)
    out = got.download(str(tmp_path / "out"), skip_cache=True)  # from the store, not this machine's cache
    assert files_of(out) == {"images/a.png": b"png bytes", "copy/a.png": b"png bytes"}


@pytest.mark.parametrize("uri", ["wandb-artifact://", "wandb-artifact://abc", "wandb-artifact:///images/a.png"])
def test_a_malformed_artifact_reference_is_refused(uri: str, unchanged) -> None:
    with unchanged(), pytest.raises(ValidationError, match="wandb-artifact://<version id>/<path>"):
        wandb.Artifact("derived", "dataset").add_reference(uri)


def test_an_artifact_reference_to_nothing_is_refused(logged: wandb.Artifact, unchanged) -> None:
    art = wandb.Artifact("derived", "dataset")
    with unchanged():
        with pytest.raises(KeyError, match=r"no entry 'images/c\.png'"):
            art.add_reference(f"wandb-artifact://{logged.id}/images/c.png")
        with pytest.raises(KeyError):
            art.add_reference("wandb-artifact://0123456789abcdef/images/a.png")
    assert len(art.manifest) == 0


def test_get_entry_finds_a_media_object_by_its_name(tmp_path: Path) -> None:
    with wandb.init(project="p") as run:
        art = wandb.Artifact("tables", "dataset")
        art.add(wandb.Table(columns=["a"], data=[[1], [2]]), "results")
        run.log_artifact(art)
    entry = wandb.Api().artifact("p/tables:v0").get_entry("results")  # as W&B: the name given to add()
    assert entry.path == "results.table.parquet"
    assert Path(entry.download(str(tmp_path / "out"))).is_file()


@pytest.mark.parametrize("bad", [None, 5, b"images/a.png", ["images/a.png"]])
def test_a_path_that_is_no_string_is_refused_by_name(
    logged: wandb.Artifact, tmp_path: Path, bad: object, unchanged
) -> None:
    with unchanged():
        with pytest.raises(ValidationError, match="invalid entry path"):
            logged.get_entry(bad)  # type: ignore[arg-type]
        if bad is not None:  # path_prefix=None is every file
            with pytest.raises(ValidationError, match="invalid entry path"):
                logged.download(str(tmp_path / "out"), path_prefix=bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="invalid entry path"):
            wandb.Artifact("draft", "dataset").remove(bad)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_files_names_must_be_a_list(logged: wandb.Artifact, unchanged) -> None:
    with unchanged(), pytest.raises(ValidationError, match="names must be a list"):
        logged.files(names="images/a.png")  # type: ignore[arg-type]
