"""The one rule for ``latest``, the same in ``log_artifact``, ``artifact.save()``, ``quire
artifact put`` and ``quire artifact alias`` (docs/design.md, "The rule for latest"):

- the version a log lands on is the latest: a new one, or an older one whose files the
  logged artifact equals (W&B's client sends ``latest`` with every log, and its service
  answers a log equal to a version it holds with that version);
- ``latest`` may be moved by hand (an alias like any other) until the next log moves it on;
- it is never removed: deleting its version moves it to the newest version left.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import quire


def log(files: dict[str, str], folder: Path, aliases: list[str] | None = None) -> quire.Artifact:
    """Log ``files`` (written below ``folder``) as the next version of ``ds``."""
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    with quire.init(project="p") as run:
        artifact = quire.Artifact("ds", "dataset")
        for rel in files:
            artifact.add_file(folder / rel, rel)
        run.log_artifact(artifact, aliases=aliases)
    return artifact


def aliases() -> dict[str, list[str]]:
    collection = quire.Api(overrides={"project": "p"}).artifact_collections("p")[0]
    return {v.version: sorted(v.aliases) for v in collection.versions()}


def latest() -> quire.Artifact:
    return quire.Api().artifact("p/ds:latest")


@pytest.mark.parametrize("given", [None, [], ["latest"], ["best"]])
def test_logging_an_older_versions_files_makes_that_version_latest(tmp_path: Path, given: list[str] | None) -> None:
    log({"a.txt": "one"}, tmp_path / "v0")
    log({"a.txt": "two"}, tmp_path / "v1")
    again = log({"a.txt": "one"}, tmp_path / "again", aliases=given)
    assert again.version == "v0"  # no new version: the files equal v0's
    assert latest().version == "v0" and "latest" in again.aliases
    # Whether "latest" was passed or not: one rule, whatever the aliases say.
    assert aliases() == {"v0": sorted({"latest", *(given or [])}), "v1": []}
    latest().download(tmp_path / "got")
    assert (tmp_path / "got" / "a.txt").read_text() == "one"


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_an_incremental_append_equal_to_an_older_version_leaves_latest_holding_it(tmp_path: Path) -> None:
    # v0 {a}; v1 = v0 + b; v2 fixes b. Appending the unfixed b again lands on v1: the
    # latest must then hold the bytes just appended, not v2's fixed ones.
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    (src / "b").write_text("b, as scraped")
    (src / "fixed").write_text("b, fixed")

    def append(path: str, local: str) -> quire.Artifact:
        with quire.init(project="p") as run:
            artifact = quire.Artifact("ds", "dataset", incremental=True)
            artifact.add_file(src / local, path, overwrite=True)
            run.log_artifact(artifact)
        return artifact

    assert append("a", "a").version == "v0"
    assert append("b", "b").version == "v1"
    assert append("b", "fixed").version == "v2"
    again = append("b", "b")
    assert again.version == "v1" and latest().version == "v1"
    latest().download(tmp_path / "got")
    assert (tmp_path / "got" / "b").read_text() == "b, as scraped"
    # The next append builds on that latest (v1), not on the newest version (v2).
    (src / "c").write_text("c")
    nxt = append("c", "c")
    assert nxt.version == "v3" and nxt.parent is not None and nxt.parent.version == "v1"
    assert sorted(e.path for e in nxt.manifest) == ["a", "b", "c"]
    assert aliases() == {"v0": [], "v1": [], "v2": [], "v3": ["latest"]}


def test_save_with_latest_added_moves_it_here_until_the_next_log(tmp_path: Path) -> None:
    log({"a.txt": "one"}, tmp_path / "v0")
    log({"a.txt": "two"}, tmp_path / "v1")
    v0 = quire.Api().artifact("p/ds:v0")
    v0.aliases.append("latest")
    v0.save()
    assert aliases() == {"v0": ["latest"], "v1": []}
    assert log({"a.txt": "three"}, tmp_path / "v2").version == "v2"
    assert aliases() == {"v0": [], "v1": [], "v2": ["latest"]}


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_save_of_a_stale_copy_does_not_take_latest_back(tmp_path: Path) -> None:
    log({"a.txt": "one"}, tmp_path / "v0")
    stale = quire.Api().artifact("p/ds:v0")  # read while it was the latest
    assert "latest" in stale.aliases
    log({"a.txt": "two"}, tmp_path / "v1")
    stale.aliases.append("best")
    stale.save()
    assert aliases() == {"v0": ["best"], "v1": ["latest"]}


def test_removing_latest_in_save_keeps_it(tmp_path: Path) -> None:
    # Quire keeps a collection's latest: it is what name:latest and incremental logs use.
    log({"a.txt": "one"}, tmp_path / "v0")
    v0 = latest()
    v0.aliases.remove("latest")
    v0.save()
    assert aliases() == {"v0": ["latest"]}


def test_deleting_the_latest_moves_it_to_the_newest_version_left(tmp_path: Path) -> None:
    log({"a.txt": "one"}, tmp_path / "v0")
    log({"a.txt": "two"}, tmp_path / "v1")
    log({"a.txt": "three"}, tmp_path / "v2")
    log({"a.txt": "one"}, tmp_path / "again")  # latest is v0 again
    quire.Api().artifact("p/ds:v0").delete()
    assert aliases() == {"v1": [], "v2": ["latest"]}


def test_an_incremental_log_builds_on_latest_as_it_is_when_logged(tmp_path: Path) -> None:
    # Moving latest by hand between making an incremental draft and logging it changes
    # what the draft is committed onto: latest as it is then, not the newest version.
    log({"a.txt": "one", "b.txt": "b"}, tmp_path / "v0")
    log({"a.txt": "two", "b.txt": "b"}, tmp_path / "v1")
    draft = quire.Artifact("ds", "dataset", incremental=True)
    (tmp_path / "c.txt").write_text("c")
    with quire.init(project="p") as run:
        draft.add_file(tmp_path / "c.txt", "c.txt")
        v0 = quire.Api().artifact("p/ds:v0")
        v0.aliases.append("latest")
        v0.save()
        run.log_artifact(draft)
    assert draft.version == "v2" and draft.parent is not None and draft.parent.version == "v0"
    latest().download(tmp_path / "got")
    assert (tmp_path / "got" / "a.txt").read_text() == "one"
    assert aliases() == {"v0": [], "v1": [], "v2": ["latest"]}


@pytest.mark.slow
def test_the_demo_run_twice_tells_where_latest_is() -> None:
    from quire.demo import run_demo

    run_demo(say=lambda _: None)
    said: list[str] = []
    run_demo(say=said.append)
    days = [re.search(r"demo-scraped:(v\d+)", line).group(1) for line in said if line.startswith("day ")]  # type: ignore[union-attr]
    # Day 2's rows, as scraped, undo the fix: the result equals v2, which becomes latest and
    # the base of day 3 (never v3 -> v2 -> v3, which left latest on bytes the day did not log).
    assert days == ["v3", "v2", "v2"]
    assert all("no new version" in line for line in said if line.startswith("day "))
    fixed = next(line for line in said if line.startswith("fixed"))
    assert "demo-scraped:v2 as quire-demo/demo-scraped:v3" in fixed
    assert quire.Api().artifact("quire-demo/demo-scraped:latest").version == "v3"
