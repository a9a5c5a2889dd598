"""The ``quire`` command line, driven as users drive it (``CliRunner`` and the real script)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import quire
from quire.cli import app
from quire.cli.common import parse_size
from support import patience

runner = CliRunner()
BIG = (1 << 20) + 17  # above the pack threshold: stored as an object of its own


def quire_cli(*args: str, code: int = 0):
    """Run ``quire ARGS`` in-process and check its exit code."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def as_json(*args: str):
    return json.loads(quire_cli(*args, "--json").stdout)


def assert_one_line_error(result, *words: str) -> None:
    """Exit code 1, one line on stderr naming ``words``, no traceback."""
    assert result.exit_code == 1, (result.stdout, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]


@pytest.fixture
def dataset(make_files) -> Path:
    return make_files(
        {
            "train/a.csv": "id,x\n1,2\n",
            "train/b.csv": "id,x\n3,4\n",
            "notes/readme.txt": "precious bytes, kept in a pack",
            "weights.bin": os.urandom(BIG),
        }
    )


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- put and get ----------------------------------------------------------------------


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_put_then_get_gives_identical_bytes(dataset: Path, tmp_path: Path) -> None:
    out = quire_cli("artifact", "put", str(dataset), "--name", "vision/ds", "--type", "dataset", "--alias", "best")
    assert "vision/ds:v0" in out.stdout

    quire_cli("artifact", "get", "vision/ds:best", "--root", str(tmp_path / "got"))
    assert tree(tmp_path / "got") == tree(dataset)

    got = as_json("artifact", "get", "vision/ds", "--root", str(tmp_path / "part"), "--path-prefix", "train")
    assert got["downloaded_files"] == 2
    assert tree(tmp_path / "part") == {k: v for k, v in tree(dataset).items() if k.startswith("train/")}


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_put_of_one_file_and_default_download_folder(make_files) -> None:
    folder = make_files({"model.pt": b"weights v0"})
    made = as_json("artifact", "put", str(folder / "model.pt"), "--name", "net", "--type", "model")
    assert (made["name"], made["type"], made["files"], made["created"]) == ("uncategorized/net:v0", "model", 1, True)

    got = as_json("artifact", "get", "net:v0")
    assert Path(got["root"]) == Path.cwd() / "artifacts" / "net:v0"
    assert (Path(got["root"]) / "model.pt").read_bytes() == b"weights v0"


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_put_of_unchanged_files_makes_no_new_version(dataset: Path) -> None:
    first = as_json("artifact", "put", str(dataset), "--name", "ds")
    again = as_json("artifact", "put", str(dataset), "--name", "ds", "--alias", "same")
    assert (again["version"], again["created"], again["digest"]) == ("v0", False, first["digest"])
    assert "same" in again["aliases"]
    out = quire_cli("artifact", "put", str(dataset), "--name", "ds")
    assert "No new version" in out.stdout


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_downloaded_files_are_read_only_links_that_cannot_change_the_store(dataset: Path, tmp_path: Path) -> None:
    quire_cli("artifact", "put", str(dataset), "--name", "ds")
    quire_cli("artifact", "get", "ds", "--root", str(tmp_path / "got"))
    for path in (tmp_path / "got").rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, path


# -- listing --------------------------------------------------------------------------


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_ls_and_versions_list_what_exists(make_files) -> None:
    data = make_files({"a.txt": "one"})
    quire_cli("artifact", "put", str(data), "--name", "p1/ds", "--type", "dataset")
    (data / "a.txt").write_text("two")
    quire_cli("artifact", "put", str(data), "--name", "p1/ds", "--type", "dataset", "--alias", "best")
    quire_cli("artifact", "put", str(data / "a.txt"), "--name", "p2/net", "--type", "model")

    listed = as_json("artifact", "ls")
    assert {(c["project"], c["name"], c["type"], c["versions"]) for c in listed} == {
        ("p1", "ds", "dataset", 2),
        ("p2", "net", "model", 1),
    }
    assert [c["name"] for c in as_json("artifact", "ls", "p2")] == ["net"]
    assert [c["name"] for c in as_json("artifact", "ls", "--type", "model")] == ["net"]
    assert as_json("artifact", "ls", "nothing-here") == []

    versions = as_json("artifact", "versions", "p1/ds")
    assert [v["version"] for v in versions] == ["v0", "v1"]
    assert versions[1]["aliases"] == ["best", "latest"]
    assert versions[0]["digest"] != versions[1]["digest"]

    text = quire_cli("artifact", "versions", "p1/ds").stdout
    assert "ds:v0" in text and "ds:v1" in text and "best" in text
    assert "p1/ds" in quire_cli("artifact", "ls").stdout


def test_project_from_quire_project(make_files, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_PROJECT", "team")
    quire_cli("artifact", "put", str(make_files({"a.txt": "x"})), "--name", "ds")
    assert as_json("artifact", "versions", "ds")[0]["name"] == "team/ds:v0"


def test_store_option_overrides_quire_store(make_files, tmp_path: Path) -> None:
    other = tmp_path / "other-store"
    quire_cli("--store", str(other), "artifact", "put", str(make_files({"a.txt": "x"})), "--name", "ds")
    assert as_json("artifact", "ls") == []
    assert [c["name"] for c in as_json("--store", str(other), "artifact", "ls")] == ["ds"]


# -- aliases --------------------------------------------------------------------------


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_alias_add_move_and_remove(make_files) -> None:
    data = make_files({"a.txt": "one"})
    quire_cli("artifact", "put", str(data), "--name", "ds")
    (data / "a.txt").write_text("two")
    quire_cli("artifact", "put", str(data), "--name", "ds")

    quire_cli("artifact", "alias", "ds:v0", "prod")
    assert quire.Api().artifact("ds:prod").version == "v0"
    moved = quire_cli("artifact", "alias", "ds:v1", "prod")
    assert "moved from v0" in moved.stdout
    assert quire.Api().artifact("ds:prod").version == "v1"
    assert "prod" not in quire.Api().artifact("ds:v0").aliases

    quire_cli("artifact", "alias", "ds:v1", "prod", "--remove")
    assert not quire.Api().artifact_exists("ds:prod")
    assert_one_line_error(runner.invoke(app, ["artifact", "alias", "ds:v1", "prod", "--remove"]), "no alias 'prod'")
    assert_one_line_error(runner.invoke(app, ["artifact", "alias", "ds:v0", "v3"]), "version index")
    assert_one_line_error(runner.invoke(app, ["artifact", "alias", "ds:v0", "a/b"]), "invalid alias 'a/b'")
    assert quire.Api().artifact("ds:latest").version == "v1"
    assert [v["aliases"] for v in as_json("artifact", "versions", "ds")] == [[], ["latest"]]  # unchanged


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_alias_latest_moves_it_and_the_next_put_moves_it_on(make_files) -> None:
    data = make_files({"a.txt": "one"})
    quire_cli("artifact", "put", str(data), "--name", "ds")
    (data / "a.txt").write_text("two")
    quire_cli("artifact", "put", str(data), "--name", "ds")

    moved = quire_cli("artifact", "alias", "ds:v0", "latest")
    assert "'latest' now names uncategorized/ds:v0 (moved from v1)" in moved.stdout
    assert quire.Api().artifact("ds").version == "v0"
    quire_cli("artifact", "alias", "ds:v0", "latest")  # already there: nothing moves
    assert [v["aliases"] for v in as_json("artifact", "versions", "ds")] == [["latest"], []]

    # Removing it is refused (it would leave the collection without one), and changes nothing.
    refused = runner.invoke(app, ["artifact", "alias", "ds:v0", "latest", "--remove"])
    assert_one_line_error(refused, "'latest' cannot be removed", "quire artifact alias uncategorized/ds:vN latest")
    assert [v["aliases"] for v in as_json("artifact", "versions", "ds")] == [["latest"], []]

    (data / "a.txt").write_text("three")
    assert as_json("artifact", "put", str(data), "--name", "ds")["aliases"] == ["latest"]
    assert [v["aliases"] for v in as_json("artifact", "versions", "ds")] == [[], [], ["latest"]]


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_put_of_an_older_versions_files_makes_it_latest(make_files) -> None:
    data = make_files({"a.txt": "one"})
    quire_cli("artifact", "put", str(data), "--name", "ds", "--alias", "first")
    (data / "a.txt").write_text("two")
    quire_cli("artifact", "put", str(data), "--name", "ds")
    (data / "a.txt").write_text("one")
    again = as_json("artifact", "put", str(data), "--name", "ds")
    assert (again["version"], again["created"], again["aliases"]) == ("v0", False, ["first", "latest"])
    assert quire.Api().artifact("ds:latest").version == "v0"
    assert (
        "No new version: the files equal uncategorized/ds:v0"
        in quire_cli("artifact", "put", str(data), "--name", "ds").stdout
    )


# -- verify ---------------------------------------------------------------------------


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_verify_a_downloaded_folder(dataset: Path, tmp_path: Path) -> None:
    quire_cli("artifact", "put", str(dataset), "--name", "ds")
    root = tmp_path / "got"
    quire_cli("artifact", "get", "ds", "--root", str(root))
    assert "OK" in quire_cli("artifact", "verify", "ds", "--root", str(root)).stdout

    (root / "notes" / "readme.txt").unlink()
    (root / "notes" / "readme.txt").write_text("edited")
    assert_one_line_error(
        runner.invoke(app, ["artifact", "verify", "ds", "--root", str(root)]), "changed: notes/readme.txt"
    )


def _flip(path: Path, offset: int) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_verify_detects_a_corrupt_blob_in_a_pack(dataset: Path, store_url: str, tmp_path: Path) -> None:
    quire_cli("artifact", "put", str(dataset), "--name", "ds")
    quire_cli("artifact", "get", "ds", "--root", str(tmp_path / "got"))  # the cache now holds the files
    assert "OK" in quire_cli("artifact", "verify", "ds").stdout

    packs = list(Path(store_url, "blobs").rglob("*.pack"))
    hit = [(p, p.read_bytes().find(b"precious bytes")) for p in packs]
    pack, offset = next((p, o) for p, o in hit if o >= 0)
    _flip(pack, offset)

    assert_one_line_error(runner.invoke(app, ["artifact", "verify", "ds"]), "corrupt")


def test_verify_detects_a_corrupt_large_blob(dataset: Path, store_url: str) -> None:
    quire_cli("artifact", "put", str(dataset), "--name", "ds")
    [large] = [p for p in Path(store_url, "blobs", "objects").rglob("*") if p.is_file()]
    _flip(large, 100)

    assert_one_line_error(runner.invoke(app, ["artifact", "verify", "ds"]), "damaged", "weights.bin")


# -- cache ----------------------------------------------------------------------------


def test_cache_cleanup_frees_space(dataset: Path, store_url: str, tmp_path: Path) -> None:
    quire_cli("artifact", "put", str(dataset), "--name", "ds")
    quire_cli("artifact", "get", "ds", "--root", str(tmp_path / "got"))
    cached = [p for p in Path(store_url, "cache", "files").rglob("*") if p.is_file() and p.name != ".probe"]
    assert len(cached) == 4

    kept = as_json("cache", "cleanup", "10GB")
    assert (kept["removed_files"], kept["freed_bytes"]) == (0, 0)
    freed = as_json("cache", "cleanup", "0")
    assert freed["removed_files"] == 4 and freed["freed_bytes"] >= BIG
    assert not any(p.exists() for p in cached)
    assert tree(tmp_path / "got") == tree(dataset)  # downloaded folders keep their files

    quire_cli("artifact", "get", "ds", "--root", str(tmp_path / "again"))  # refilled from the store
    assert tree(tmp_path / "again") == tree(dataset)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("500MB", 500_000_000),
        ("10GB", 10_000_000_000),
        ("2GiB", 2 << 30),
        ("1.5k", 1500),
        ("64 kib", 65536),
        ("123", 123),
        ("7b", 7),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "ten", "10XB", "-1GB", "1.2.3MB"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_size(text)
    assert runner.invoke(app, ["cache", "cleanup", text]).exit_code == 2


# -- bad input ------------------------------------------------------------------------


def test_bad_input_is_one_line_and_writes_nothing(make_files, store_url: str) -> None:
    data = make_files({"a.txt": "x"})

    def put(*args: str):
        return runner.invoke(app, ["artifact", "put", str(data), *args])

    assert_one_line_error(runner.invoke(app, ["artifact", "put", "no/such/path", "--name", "ds"]), "does not exist")
    assert_one_line_error(put("--name", "bad name!"), "invalid artifact name")
    assert_one_line_error(put("--name", "ds:v1"), "without ':vN'")
    assert_one_line_error(put("--name", "a/b/c/d"), "[entity/][project/]name")
    assert_one_line_error(put("--name", "team/bad project/ds"), "invalid project name")
    assert_one_line_error(put("--name", "ds", "--alias", "a/b"), "invalid alias 'a/b'")
    assert_one_line_error(runner.invoke(app, ["artifact", "put", "s3:/x"]), "does not exist", "s3://")
    assert_one_line_error(runner.invoke(app, ["artifact", "put", "gs://bucket/x"]), "gs://", "not supported")
    missing = (data / "nothing-here").as_uri()
    assert_one_line_error(runner.invoke(app, ["artifact", "put", missing]), missing, "does not exist")
    assert_one_line_error(runner.invoke(app, ["artifact", "put", "://x"]), "invalid URI")
    assert_one_line_error(put("--name", "ds", "--type", "x y"), "artifact type")
    assert_one_line_error(put("--name", "ds", "--alias", "v2"), "alias")
    assert quire.Api().projects() == []  # not even a run was recorded

    quire_cli("artifact", "put", str(data), "--name", "ds")
    assert_one_line_error(runner.invoke(app, ["artifact", "get", "nope"]), "nope")
    assert_one_line_error(runner.invoke(app, ["artifact", "get", "ds:v7"]), "v7")
    assert_one_line_error(runner.invoke(app, ["artifact", "versions", "nope"]), "no collection", "available: ds")
    assert_one_line_error(runner.invoke(app, ["artifact", "get", "ds", "--path-prefix", "zzz"]), "zzz")
    assert_one_line_error(put("--name", "ds", "--type", "model"), "type 'dataset'")
    assert_one_line_error(runner.invoke(app, ["artifact", "get", "ds", "--type", "model"]), "'dataset'", "'model'")
    assert not (Path.cwd() / "artifacts").exists()  # nothing downloaded
    assert [v["version"] for v in as_json("artifact", "versions", "ds")] == ["v0"]


def test_bad_store_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert_one_line_error(runner.invoke(app, ["--store", str(blocker), "artifact", "ls"]), str(blocker))


def test_usage_errors_exit_2(make_files) -> None:
    assert runner.invoke(app, ["artifact", "put"]).exit_code == 2
    assert runner.invoke(app, ["artifact", "get"]).exit_code == 2
    assert runner.invoke(app, ["artifact", "nosuch"]).exit_code == 2
    assert runner.invoke(app, ["artifact", "put", str(make_files({"a": "x"})), "--policy", "sometimes"]).exit_code == 2


# -- help and docs --------------------------------------------------------------------


def _commands(group, path=()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    root = typer.main.get_command(app)
    found = list(_commands(root))
    assert {" ".join(p) for p, _ in found} >= {
        "artifact put",
        "artifact get",
        "artifact ls",
        "artifact versions",
        "artifact alias",
        "artifact verify",
        "cache cleanup",
        "demo",
    }
    for path, command in found:
        assert (command.help or "").strip(), f"quire {' '.join(path)} has no help text"
        result = quire_cli(*path, "--help")
        assert "Usage" in result.stdout
        if not hasattr(command, "commands"):
            assert f"quire {' '.join(path)}" in readme, f"README.md does not document quire {' '.join(path)}"
    assert quire.__version__ in quire_cli("--version").stdout


# -- demo -----------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_makes_versions_and_names_them(store_url: str) -> None:
    out = quire_cli("demo").stdout
    assert store_url in out
    assert "demo-dataset:v0" in out and "demo-dataset:v1" in out
    assert "no new one" in out and "baseline" in out
    assert "4 writer processes upserted a table part each" in out and "demo-predictions:v0 (6 files)" in out
    assert "read 200 rows from the 4 parts" in out and "SELECT label, count(*), avg(x)" in out

    versions = as_json("artifact", "versions", "quire-demo/demo-dataset")
    assert [(v["version"], v["aliases"]) for v in versions] == [("v0", ["baseline"]), ("v1", ["latest"])]

    again = quire_cli("demo").stdout  # deterministic data: again, no new versions
    assert len(as_json("artifact", "versions", "quire-demo/demo-dataset")) == 2
    assert "demo-predictions:v0 (6 files) (the same files as before: no new version)" in again


@pytest.mark.slow
def test_the_console_script_runs_the_demo(tmp_path: Path, python_env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "quire"
    found = str(script) if script.exists() else shutil.which("quire")
    assert found, "the `quire` console script is not installed: pip install -e ."
    store = tmp_path / "demo-store"
    result = subprocess.run(
        [found, "demo", "--store", str(store)], env=python_env, capture_output=True, text=True, timeout=patience(5)
    )
    assert result.returncode == 0, result.stderr
    assert "demo-dataset:v1" in result.stdout
    assert (store / "catalog.db").is_file()


def test_store_option_may_follow_the_command(make_files, tmp_path: Path) -> None:
    other = tmp_path / "other-store"
    quire_cli("artifact", "put", str(make_files({"a.txt": "x"})), "--name", "ds", "--store", str(other))
    assert [c["name"] for c in as_json("artifact", "ls", f"--store={other}")] == ["ds"]
    assert as_json("artifact", "ls") == []
