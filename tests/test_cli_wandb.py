"""``quire artifact`` as ``wandb artifact`` users type it: ``put`` (``-n project/name``,
``-d``, ``-t``, ``-a``, ``--skip_cache``, ``--id``, ``--resume``, ``--policy``, URI
references), ``get`` (``--root``, ``--type``), ``ls PROJECT`` (W&B's columns) and
``artifact cache cleanup SIZE``; and bad input of each, refused with the store unchanged."""

from __future__ import annotations

import inspect
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import quire
from quire.cli import app
from support import patience

runner = CliRunner()


def cli(*args: str, code: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def as_json(*args: str):
    return json.loads(cli(*args, "--json").stdout)


def one_line_error(result, *words: str) -> str:
    assert result.exit_code == 1, (result.stdout, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def nothing_written() -> None:
    """Not a version, not a collection, not even a run's project."""
    assert quire.Api().projects() == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- put ------------------------------------------------------------------------------


def test_put_takes_wandbs_options(make_files) -> None:
    data = make_files({"model.pt": "weights"})
    made = as_json(
        "artifact",
        "put",
        str(data / "model.pt"),
        "-n",
        "vision/net",
        "-d",
        "first try",
        "-t",
        "model",
        "-a",
        "best",
        "-a",
        "prod",
        "--skip_cache",
        "--policy",
        "immutable",
    )
    assert (made["name"], made["type"], made["description"]) == ("vision/net:v0", "model", "first try")
    assert made["aliases"] == ["best", "latest", "prod"]
    (data / "model.pt").write_text("better weights")
    again = as_json("artifact", "put", str(data / "model.pt"), "--name", "vision/net", "-t", "model", "--skip-cache")
    assert again["version"] == "v1" and again["aliases"] == ["latest"]
    got = as_json("artifact", "get", "vision/net:best", "--root", str(make_files({}, data.parent / "got")))
    assert (Path(got["root"]) / "model.pt").read_text() == "weights"


def test_put_name_may_carry_an_entity(make_files) -> None:
    # W&B's entity/project/name: the entity is accepted and ignored, as in every address.
    made = as_json("artifact", "put", str(make_files({"a.txt": "x"})), "-n", "my-team/vision/ds")
    assert made["name"] == "vision/ds:v0"
    assert quire.Api().artifact("someone/vision/ds:v0").digest == made["digest"]


def test_put_of_a_file_uri_logs_a_reference(make_files, tmp_path: Path) -> None:
    data = make_files({"train/a.csv": "id\n1\n", "train/b.csv": "id\n2\n"})
    uri = (data / "train").as_uri()
    made = as_json("artifact", "put", uri)
    assert made["name"] == "uncategorized/train:v0"  # named after the URI's last part, as W&B does
    artifact = quire.Api().artifact("train")
    assert sorted(e.path for e in artifact.manifest) == ["a.csv", "b.csv"]
    assert all(e.ref is not None and e.ref.startswith("file://") for e in artifact.manifest)
    got = as_json("artifact", "get", "train", "--root", str(tmp_path / "got"))
    assert (Path(got["root"]) / "b.csv").read_text() == "id\n2\n"


def test_put_of_an_http_uri_logs_a_reference(http_root: tuple[Path, str], tmp_path: Path) -> None:
    root, base = http_root
    (root / "weights.bin").write_bytes(b"w" * 1000)
    made = as_json("artifact", "put", f"{base}/weights.bin", "-n", "net", "-t", "model")
    assert (made["name"], made["files"], made["size"]) == ("uncategorized/net:v0", 1, 1000)
    [entry] = list(quire.Api().artifact("net").manifest)
    assert entry.ref == f"{base}/weights.bin"
    cli("artifact", "get", "net", "--root", str(tmp_path / "got"))
    assert (tmp_path / "got" / "weights.bin").read_bytes() == b"w" * 1000


def test_put_of_unreachable_or_malformed_uris_writes_nothing(make_files) -> None:
    missing = (make_files({"a": "x"}) / "gone").as_uri()
    one_line_error(runner.invoke(app, ["artifact", "put", missing, "-n", "ds"]), missing, "does not exist")
    dead = f"http://127.0.0.1:{closed_port()}/x.bin"
    one_line_error(runner.invoke(app, ["artifact", "put", dead, "-n", "ds"]), "cannot reach", dead)
    one_line_error(runner.invoke(app, ["artifact", "put", "gs://bucket/x", "-n", "ds"]), "gs://", "not supported")
    one_line_error(runner.invoke(app, ["artifact", "put", "ftp://host/x", "-n", "ds"]), "ftp://", "not supported")
    one_line_error(runner.invoke(app, ["artifact", "put", "://x", "-n", "ds"]), "invalid URI")
    one_line_error(runner.invoke(app, ["artifact", "put", "s3:/bucket/x"]), "does not exist", "s3://bucket/key")
    one_line_error(runner.invoke(app, ["artifact", "put", "no/such/path"]), "no/such/path", "does not exist")
    nothing_written()


def test_put_with_a_bad_name_writes_nothing(make_files) -> None:
    data = str(make_files({"a.txt": "x"}))
    for name, words in [
        ("bad name!", ("invalid artifact name",)),
        ("ds:v1", ("without ':vN'",)),
        ("a/b/c/d", ("[entity/][project/]name",)),
        ("team/bad project/ds", ("invalid project name",)),
        ("proj/", ("invalid artifact name",)),
    ]:
        one_line_error(runner.invoke(app, ["artifact", "put", data, "-n", name]), *words)
    nothing_written()


_REOPENS = "resume" in inspect.signature(quire.init).parameters


@pytest.mark.skipif(not _REOPENS, reason="quire.init(resume=) is another part of issue 12")
def test_put_with_id_logs_from_that_run(make_files) -> None:
    data = make_files({"a.txt": "one"})
    cli("artifact", "put", str(data), "-n", "p/ds", "--id", "cli-run-1")
    (data / "a.txt").write_text("two")
    cli("artifact", "put", str(data), "-n", "p/ds", "--id", "cli-run-1", "--resume")
    for version in ("v0", "v1"):
        logged = quire.Api().artifact(f"p/ds:{version}").logged_by()
        assert logged is not None and logged.id == "cli-run-1"


def test_put_resume_without_id_starts_a_new_run(make_files) -> None:
    result = cli("artifact", "put", str(make_files({"a.txt": "x"})), "-n", "ds", "--resume")
    assert "--resume without --id starts a new run" in result.stderr
    assert quire.Api().artifact("ds").logged_by() is not None


# -- get ------------------------------------------------------------------------------


def test_get_with_root_and_type(make_files, tmp_path: Path) -> None:
    cli("artifact", "put", str(make_files({"a.txt": "x"})), "-n", "ds", "-t", "dataset")
    got = as_json("artifact", "get", "ds:v0", "--type", "dataset", "--root", str(tmp_path / "here"))
    assert Path(got["root"]) == tmp_path / "here" and (tmp_path / "here" / "a.txt").read_text() == "x"

    refused = runner.invoke(app, ["artifact", "get", "ds", "--type", "model", "--root", str(tmp_path / "no")])
    one_line_error(refused, "uncategorized/ds:latest", "'dataset'", "not 'model'")
    assert not (tmp_path / "no").exists()


# -- ls -------------------------------------------------------------------------------


def ls_table(*args: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of ``quire artifact ls ARGS``, as cells."""
    header, _, *rows = cli("artifact", "ls", *args).stdout.splitlines()
    return [c.strip() for c in header.split("┃")], [[c.strip() for c in r.split("│")] for r in rows if r.strip()]


def test_ls_lists_each_collections_latest_version_as_wandb(make_files) -> None:
    data = make_files({"a.txt": "one"})
    cli("artifact", "put", str(data), "-n", "p/ds")
    (data / "a.txt").write_text("two, longer")
    cli("artifact", "put", str(data), "-n", "p/ds")
    cli("artifact", "put", str(data / "a.txt"), "-n", "p/net", "-t", "model")
    cli("artifact", "put", str(data / "a.txt"), "-n", "p/aaa", "-t", "model")
    cli("artifact", "put", str(data / "a.txt"), "-n", "other/elsewhere")

    header, cells = ls_table("p")
    assert header == ["type", "updated (UTC)", "size", "name"]
    # By type, then name; the latest version of each, with its size.
    assert [(c[0], c[2], c[3]) for c in cells] == [
        ("dataset", "11 B", "ds:v1"),
        ("model", "11 B", "aaa:v0"),
        ("model", "11 B", "net:v0"),
    ]
    assert [c[3] for c in ls_table("p", "-t", "model")[1]] == ["aaa:v0", "net:v0"]
    assert "other/elsewhere:v0" in cli("artifact", "ls").stdout  # every project: named with it

    listed = as_json("artifact", "ls", "p")
    assert [(c["name"], c["latest"], c["size"], c["versions"]) for c in listed] == [
        ("ds", "v1", 11, 2),
        ("aaa", "v0", 11, 1),
        ("net", "v0", 11, 1),
    ]
    assert all(c["updated_at"] for c in listed)
    assert [c["name"] for c in as_json("artifact", "ls", "p", "--type", "model")] == ["aaa", "net"]


def test_ls_of_a_collection_without_versions(make_files) -> None:
    cli("artifact", "put", str(make_files({"a.txt": "x"})), "-n", "p/ds")
    quire.Api().artifact("p/ds:v0").delete()
    assert "ds (no versions)" in cli("artifact", "ls", "p").stdout
    [listed] = as_json("artifact", "ls", "p")
    assert (listed["latest"], listed["size"], listed["versions"]) == (None, None, 0)


def test_ls_of_a_bad_project_name() -> None:
    one_line_error(runner.invoke(app, ["artifact", "ls", "bad project"]), "invalid project name")


# -- cache ----------------------------------------------------------------------------


def test_artifact_cache_cleanup_as_wandb(make_files, store_url: str, tmp_path: Path) -> None:
    cli("artifact", "put", str(make_files({"a.txt": "x" * 5000, "b.txt": "y" * 3000})), "-n", "ds")
    cli("artifact", "get", "ds", "--root", str(tmp_path / "got"))
    cached = [p for p in Path(store_url, "cache", "files").rglob("*") if p.is_file() and p.name != ".probe"]
    assert len(cached) == 2

    assert runner.invoke(app, ["artifact", "cache", "cleanup", "ten"]).exit_code == 2  # a bad size
    assert runner.invoke(app, ["artifact", "cache", "cleanup", "-5MB"]).exit_code == 2
    assert all(p.exists() for p in cached)  # nothing removed
    kept = as_json("artifact", "cache", "cleanup", "1GB", "--remove-temp")
    assert (kept["removed_files"], kept["freed_bytes"]) == (0, 0)
    freed = as_json("artifact", "cache", "cleanup", "4KB")  # W&B's units: powers of 1000
    assert (freed["removed_files"], freed["freed_bytes"]) in {(1, 5000), (1, 3000)}
    out = cli("artifact", "cache", "cleanup", "0", "--no-remove-temp").stdout
    assert out.startswith("Removed 1 files")
    assert not any(p.exists() for p in cached)
    assert (tmp_path / "got" / "a.txt").read_text() == "x" * 5000  # downloads keep their files


# -- help -----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["artifact", "--help"], ["artifact", "put", "--help"]])
def test_help_stays_cheap(args: list[str], python_env: dict[str, str]) -> None:
    # Help loads the commands, not what running them needs (Arrow, S3 clients, numpy...).
    heavy = ["pyarrow", "boto3", "botocore", "numpy", "pandas", "PIL", "rich.progress", "psycopg"]
    code = (
        "import sys\n"
        f"sys.argv = ['quire', *{args!r}]\n"
        "from quire.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules], file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=python_env, capture_output=True, text=True, check=True, timeout=patience(1)
    )
    assert "Usage" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.s3
def test_put_of_an_s3_prefix_logs_references(s3_client, s3_bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for key, body in {"training/a.txt": b"alpha", "training/sub/b.txt": b"beta"}.items():
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=body)
    made = as_json("artifact", "put", f"s3://{s3_bucket}/training", "-t", "dataset")
    assert (made["name"], made["files"]) == ("uncategorized/training:v0", 2)  # named as W&B: the last part
    artifact = quire.Api().artifact("training")
    assert sorted((e.path, e.ref) for e in artifact.manifest) == [
        ("a.txt", f"s3://{s3_bucket}/training/a.txt"),
        ("sub/b.txt", f"s3://{s3_bucket}/training/sub/b.txt"),
    ]
    cli("artifact", "get", "training", "--root", str(tmp_path / "got"))
    assert (tmp_path / "got" / "sub" / "b.txt").read_bytes() == b"beta"
    missing = f"s3://{s3_bucket}/nothing-here"
    one_line_error(runner.invoke(app, ["artifact", "put", missing, "-n", "other"]), missing)
    assert [c["name"] for c in as_json("artifact", "ls")] == ["training"]  # nothing else written
