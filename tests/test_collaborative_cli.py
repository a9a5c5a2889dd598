"""``quire artifact pending ls|show|abort``, driven through ``CliRunner``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import quire
from quire.cli import app
from quire.errors import PendingVersionError

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

runner = CliRunner()


def cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result.stdout if code == 0 else result.stderr


def upsert(did: str, path: str, name: str = "preds") -> quire.Run:
    with quire.init(project="p") as run:
        art = quire.Artifact(name, "dataset")
        with art.new_file(path) as f:
            f.write(path)
        run.upsert_artifact(art, distributed_id=did)
    return run


def test_pending_ls_show_and_abort() -> None:
    assert "No open pending versions" in cli("artifact", "pending", "ls")
    writers = [upsert("job-7", "a.txt"), upsert("job-7", "b.txt")]

    [listed] = json.loads(cli("artifact", "pending", "ls", "--json"))
    assert (listed["project"], listed["name"], listed["distributed_id"]) == ("p", "preds", "job-7")
    assert (listed["state"], listed["contribution_count"], listed["file_count"]) == ("open", 2, 2)
    assert "job-7" in cli("artifact", "pending", "ls", "p")
    assert "No open pending versions in project q" in cli("artifact", "pending", "ls", "q")

    text = cli("artifact", "pending", "show", "job-7")
    assert all(w.id in text for w in writers) and "2 contributions" in text
    shown = json.loads(cli("artifact", "pending", "show", listed["id"], "--json"))
    assert {c["run_id"] for c in shown["contributions"]} == {w.id for w in writers}
    assert all(c["details"]["pid"] and c["role"] == "writer" for c in shown["contributions"])

    assert "aborted (2 contributions discarded)" in cli("artifact", "pending", "abort", "job-7")
    assert "No open pending versions" in cli("artifact", "pending", "ls")
    [aborted] = json.loads(cli("artifact", "pending", "ls", "--state", "aborted", "--json"))
    assert aborted["id"] == listed["id"]
    with pytest.raises(PendingVersionError, match="was aborted"):
        upsert("job-7", "c.txt")


def test_pending_errors_are_one_line() -> None:
    assert "no pending version" in cli("artifact", "pending", "show", "nope", code=1)
    upsert("shared-id", "a.txt", name="one")
    upsert("shared-id", "a.txt", name="two")
    error = cli("artifact", "pending", "abort", "shared-id", code=1)
    assert "names several pending versions" in error and "p/one" in error and "p/two" in error
    with quire.init(project="p") as run:
        run.finish_artifact(quire.Artifact("one", "dataset"), distributed_id="shared-id")
    committed = next(p for p in quire.Api().pending_versions(state=None) if p.name == "one")
    assert "committed as v0" in cli("artifact", "pending", "show", committed.id)
    assert "cannot be aborted" in cli("artifact", "pending", "abort", committed.id, code=1)
    assert "sometimes" in cli("artifact", "pending", "ls", "--state", "sometimes", code=2)
