"""Collaborative mode: many writers (real processes), one version.

The seed's three snippets run as three processes; 64 writer processes give exactly the
union; conflicts, retries, spent ids, killed writers, a finisher racing in-flight
upserts, abandoned pending versions and waiting for writers behave as DESIGN §4 says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

import quire
from collab_procs import files_of
from conftest import PYTHON
from quire.core.manifest import load_manifest
from quire.errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    CollectionTypeError,
    ConflictError,
    PendingTimeoutError,
    PendingVersionError,
    ValidationError,
)
from quire.hashing import hash_bytes
from quire.store import open_store
from servers import behind
from support import patience

pytestmark = pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3

PROCS = str(Path(__file__).with_name("collab_procs.py"))


def run_script(code: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter; fail the test with its stderr if it fails."""
    proc = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code)], env=env, cwd=cwd, capture_output=True, text=True, timeout=patience(2)
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def upsert(files: dict[str, bytes], did: str | None = "d", name: str = "preds", **init: object) -> quire.Run:
    """One writer run (in this process) that upserts ``files``; returns the finished run."""
    with quire.init(**init) as run:  # type: ignore[arg-type]
        art = quire.Artifact(name, "dataset")
        for path, data in files.items():
            with art.new_file(path, "xb") as f:
                f.write(data)
        run.upsert_artifact(art, distributed_id=did)
    return run


def finish(
    files: dict[str, bytes] | None = None, did: str | None = "d", name: str = "preds", **kwargs: object
) -> quire.Artifact:
    """One finisher run (in this process) that adds ``files`` and finishes."""
    with quire.init() as run:
        art = quire.Artifact(name, "dataset")
        for path, data in (files or {}).items():
            with art.new_file(path, "xb") as f:
                f.write(data)
        return run.finish_artifact(art, distributed_id=did, **kwargs)  # type: ignore[arg-type]


def contents(art: quire.Artifact) -> dict[str, str]:
    """path -> digest of a committed version."""
    return {e.path: e.digest for e in art.manifest}


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {p: hash_bytes(d) for p, d in files.items()}


# -- the seed ---------------------------------------------------------------------------


@pytest.mark.slow
def test_seed_snippets_as_three_processes(python_env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "work"
    for i in (1, 2, 3):
        (work / f"image{i}.png").write_bytes(f"\x89PNG fake image {i}".encode())
    writer = """
        import quire as wandb
        with wandb.init() as run:
            artifact = wandb.Artifact("artifact_name", "artifact_type")
            artifact.add_file("image{i}.png")
            run.upsert_artifact(artifact, distributed_id="my_dist_artifact")
    """
    finisher = """
        import quire as wandb
        with wandb.init() as run:
            artifact = wandb.Artifact("artifact_name", "artifact_type")
            artifact.add_file("image3.png")
            run.finish_artifact(artifact, distributed_id="my_dist_artifact")
    """
    for i in (1, 2):  # runs 1 and 2, then run 3 after they finished
        run_script(writer.format(i=i), python_env, work)
    assert quire.Api().pending_version("my_dist_artifact").contribution_count == 2
    run_script(finisher, python_env, work)

    got = quire.Api().artifact("artifact_name:latest")
    assert got.version == "v0" and got.type == "artifact_type"
    assert sorted(got.manifest.entries) == ["image1.png", "image2.png", "image3.png"]
    root = Path(got.download(tmp_path / "out"))
    for i in (1, 2, 3):
        assert (root / f"image{i}.png").read_bytes() == f"\x89PNG fake image {i}".encode()
    # every run that contributed made the version
    assert len({r.id for r in open_store().catalog.runs_of(got.id, "output")}) == 3
    assert quire.Api().pending_versions() == []
    [done] = quire.Api().pending_versions(state="committed")
    assert done.version == "v0" and done.contribution_count == 3


# -- many writers -------------------------------------------------------------------------


@pytest.mark.slow
def test_64_writer_processes_give_exactly_the_union(python_env: dict[str, str], tmp_path: Path) -> None:
    writers, n_files, shared, rounds = 64, 50, 10, 3
    spec = {
        "work": str(tmp_path / "writers"),
        "writers": writers,
        "files": n_files,
        "shared": shared,
        "round": 0,
        "rounds": rounds,
        "did": "round",
        "name": "preds",
    }
    proc = subprocess.run(
        [PYTHON, PROCS, "writers", json.dumps(spec)],
        env=python_env,
        capture_output=True,
        text=True,
        timeout=patience(writers),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for round_ in range(rounds):
        expected: dict[str, bytes] = {"finisher.txt": f"round {round_}".encode()}
        for w in range(writers):
            expected.update(files_of(w, round_, n_files, shared))
        got = finish({"finisher.txt": f"round {round_}".encode()}, did=f"round-{round_}")
        assert got.version == f"v{round_}"
        assert contents(got) == digests(expected)  # no entry lost, none doubled
        assert got.file_count == writers * (n_files - shared) + shared + 1
        parts = quire.Api().pending_version(f"round-{round_}").contributions()
        assert sorted(int(c.details["rank"]) for c in parts if c.role == "writer") == list(range(writers))
    root = Path(got.download(tmp_path / "out"))
    assert (root / "w063" / "f039.txt").read_bytes() == files_of(63, 2, n_files, shared)["w063/f039.txt"]


# -- retries, conflicts and spent ids -----------------------------------------------------


def test_retrying_the_same_upsert_adds_nothing() -> None:
    with quire.init(group="g") as run:
        for _ in range(3):  # e.g. a retry after a lost connection
            art = quire.Artifact("preds", "dataset")
            with art.new_file("a.txt") as f:
                f.write("same bytes")
            run.upsert_artifact(art)
    [only] = quire.Api().pending_version("g").contributions()
    assert only.run_id == run.id and only.file_count == 1
    upsert({"a.txt": b"same bytes"}, did="g")  # another writer with the same file: fine
    assert contents(finish(did="g")) == digests({"a.txt": b"same bytes"})


def test_conflict_names_paths_and_writers_and_commits_nothing() -> None:
    first = upsert({"a.txt": b"one", "b.txt": b"b", "same.txt": b"s"})
    second = upsert({"a.txt": b"two", "c.txt": b"c", "same.txt": b"s"})

    with pytest.raises(ConflictError) as err:
        finish()
    message = str(err.value)
    assert "'a.txt'" in message and "same.txt" not in message
    assert first.id in message and second.id in message
    assert "quire artifact pending abort d" in message
    assert {w.split()[1] for w, _ in err.value.conflicts["a.txt"]} == {first.id, second.id}
    assert {d for _, d in err.value.conflicts["a.txt"]} == {hash_bytes(b"one"), hash_bytes(b"two")}

    with pytest.raises(ArtifactNotFoundError):
        quire.Api().artifact("preds")
    left = quire.Api().pending_version("d")
    assert left.state == "open" and left.contribution_count == 2  # nothing lost
    left.abort()
    assert quire.Api().pending_versions() == []


def test_a_stored_file_and_a_reference_to_the_same_bytes_conflict(tmp_path: Path) -> None:
    # The same digest at one path, once stored and once referenced, is other content (a
    # reference holds no bytes in the store): merging must not keep whichever came first.
    source = tmp_path / "a.txt"
    source.write_bytes(b"the bytes")
    stored = upsert({"a.txt": b"the bytes"})
    with quire.init() as run:
        art = quire.Artifact("preds", "dataset")
        art.add_reference(source.as_uri(), name="a.txt")
        run.upsert_artifact(art, distributed_id="d")
    with pytest.raises(ConflictError, match=r"a\.txt") as err:
        finish()
    assert stored.id in str(err.value) and run.id in str(err.value)
    assert f"a reference to {source.as_uri()}" in str(err.value)
    assert quire.Api().pending_version("d").contribution_count == 2  # nothing lost


def test_a_file_of_one_writer_and_a_folder_of_another_conflict() -> None:
    as_file = upsert({"data": b"a file"})
    as_folder = upsert({"data/x.csv": b"a file in a folder"})
    with pytest.raises(ConflictError, match="1 path is both a file and a folder") as err:
        finish()
    assert as_file.id in str(err.value) and "'data/x.csv'" in str(err.value)
    assert {w.split()[1] for w, _ in err.value.conflicts["data"]} == {as_file.id, as_folder.id}
    assert quire.Api().pending_version("d").contribution_count == 2
    with quire.init() as run, pytest.raises(ValidationError, match="both a file and a folder"):
        art = quire.Artifact("preds", "dataset")
        for path in ("b", "b/c"):
            with art.new_file(path) as f:
                f.write(path)
        run.upsert_artifact(art, distributed_id="d")  # refused before anything is written
    assert quire.Api().pending_version("d").contribution_count == 2


def test_a_finisher_whose_own_file_conflicts_can_fix_it_and_finish_again() -> None:
    upsert({"a.txt": b"from the writer"})
    with pytest.raises(ConflictError, match=r"a\.txt"):
        finish({"a.txt": b"wrong"})
    assert quire.Api().pending_version("d").contribution_count == 1  # its own was not kept
    got = finish({"a.txt": b"from the writer", "b.txt": b"b"})
    assert contents(got) == digests({"a.txt": b"from the writer", "b.txt": b"b"})


def test_finish_twice_and_upsert_after_finish_are_refused() -> None:
    upsert({"a.txt": b"a"})
    done = finish({"b.txt": b"b"})
    with pytest.raises(PendingVersionError, match=r"committed as preds:v0.*new distributed_id"):
        finish({"c.txt": b"c"})
    with pytest.raises(PendingVersionError, match="committed as preds:v0"):
        upsert({"c.txt": b"c"})
    versions = quire.Api().artifact_versions("dataset", "preds")
    assert [v.version for v in versions] == ["v0"]  # no silent new version
    assert contents(versions[0]) == contents(done)


def test_distributed_id_defaults_to_the_group_and_is_required() -> None:
    with pytest.raises(ValidationError, match=r"distributed_id=.*group="):
        upsert({"a.txt": b"a"}, did=None)
    with pytest.raises(ValidationError, match="distributed id"):
        finish(did=None)
    with pytest.raises(ValidationError, match="invalid distributed id"):
        upsert({"a.txt": b"a"}, did="")
    assert quire.Api().artifact_collections() == [] and quire.Api().pending_versions(state=None) == []

    upsert({"a.txt": b"a"}, did=None, group="my-group")
    with quire.init(group="my-group") as run:
        got = run.finish_artifact(quire.Artifact("preds", "dataset"))
    assert contents(got) == digests({"a.txt": b"a"})


def test_upserted_draft_is_final_and_writers_must_agree_on_the_type() -> None:
    with quire.init(group="g") as run:
        art = quire.Artifact("preds", "dataset")
        with art.new_file("a.txt") as f:
            f.write("a")
        assert run.upsert_artifact(art) is art
        with pytest.raises(ArtifactFinalizedError, match="upserted into pending version 'g'"):
            art.add_dir(".")
        other = quire.Artifact("preds", "model")
        with pytest.raises(CollectionTypeError):
            run.upsert_artifact(other)
        with pytest.raises(ValidationError, match="incremental"):
            run.upsert_artifact(quire.Artifact("preds", "dataset", incremental=True))


def test_merged_result_equal_to_a_committed_version_makes_none() -> None:
    upsert({"a.txt": b"a"}, did="first")
    v0 = finish({"b.txt": b"b"}, did="first")
    upsert({"b.txt": b"b"}, did="second")
    again = finish({"a.txt": b"a"}, did="second", aliases=["best"])
    assert again.version == "v0" and again.id == v0.id
    assert "best" in quire.Api().artifact("preds:v0").aliases
    assert quire.Api().pending_version("second").version == "v0"


def test_aliases_and_metadata_of_writers_and_finisher_reach_the_version() -> None:
    with quire.init(group="g") as run:
        art = quire.Artifact("preds", "dataset", metadata={"shard": 1, "by": "writer"})
        with art.new_file("a.txt") as f:
            f.write("a")
        run.upsert_artifact(art, aliases=["from-writer"])
    with quire.init(group="g") as run:
        art = quire.Artifact("preds", "dataset", metadata={"by": "finisher"})
        run.finish_artifact(art, aliases=["best"])
    got = quire.Api().artifact("preds:best")
    assert set(got.aliases) == {"latest", "best", "from-writer"}
    assert got.metadata == {"shard": 1, "by": "finisher"}


def test_writer_identity_from_the_environment(python_env: dict[str, str]) -> None:
    env = python_env | {"RANK": "3", "WORLD_SIZE": "8", "SLURM_JOB_ID": "77", "SLURM_PROCID": "3"}
    run_script(
        """
        import quire
        with quire.init(group="g") as run:
            art = quire.Artifact("preds", "dataset")
            with art.new_file("a.txt") as f:
                f.write("a")
            run.upsert_artifact(art)
    """,
        env,
    )
    [part] = quire.Api().pending_version("g").contributions()
    assert part.details["rank"] == "3" and part.details["world_size"] == "8"
    assert part.details["slurm_job_id"] == "77" and part.details["slurm_procid"] == "3"
    assert "rank 3" in part.writer and f"pid {part.details['pid']}" in part.writer


# -- faults -------------------------------------------------------------------------------


VICTIM = """
    import sys
    import quire
    with quire.init(group="kill") as run:
        art = quire.Artifact("preds", "dataset")
        print("adding", flush=True)
        art.add_dir(sys.argv[1])
        run.upsert_artifact(art)
    print("done", flush=True)
"""


@pytest.mark.slow
def test_a_writer_killed_mid_upload_leaves_no_half_contribution(python_env: dict[str, str], tmp_path: Path) -> None:
    upsert({"before.txt": b"before"}, did="kill")
    # a folder, or a bucket on the team store; behind a server, the store it serves (a
    # listing through the server would be too slow to catch the victim mid-upload)
    objects = open_store(behind()).blobs.objects

    def stored() -> int:  # large blobs stored so far
        return sum(1 for _ in objects.list("objects/"))

    # Kill two writers while their large files are being stored (after the 1st and the
    # 8th of 12), and one at a moment that may fall anywhere, the commit included.
    for attempt, (trigger, at) in enumerate((("objects", 1), ("objects", 8), ("delay", 0.25))):
        data = tmp_path / f"victim{attempt}"
        for i in range(12):  # large: stored whole, one fsync each
            (data / "big").mkdir(parents=True, exist_ok=True)
            (data / "big" / f"{i}.bin").write_bytes(os.urandom(1_300_000))
        for i in range(300):  # small: gathered into a pack
            (data / "small").mkdir(parents=True, exist_ok=True)
            (data / "small" / f"{i}.bin").write_bytes(os.urandom(8_000))
        base = stored()
        with subprocess.Popen(
            [PYTHON, "-c", textwrap.dedent(VICTIM), str(data)], env=python_env, stdout=subprocess.PIPE, text=True
        ) as victim:
            assert victim.stdout is not None and victim.stdout.readline() == "adding\n"
            if trigger == "delay":
                time.sleep(at)
            else:
                while stored() < base + at and victim.poll() is None:
                    time.sleep(0.001)
            victim.send_signal(signal.SIGKILL)
            status = victim.wait()
        if trigger == "objects":
            assert status == -signal.SIGKILL and stored() < base + 12, "killed too late"
            assert quire.Api().pending_version("kill").contribution_count == 1
    upsert({"after.txt": b"after"}, did="kill")

    store = open_store()
    for contribution in store.catalog.contributions(quire.Api().pending_version("kill").id):
        manifest = load_manifest(store.blobs, contribution.root)
        assert len(manifest) == contribution.file_count  # a contribution is whole or absent
        for entry in manifest:
            store.blobs.read(entry.digest)  # verified: every byte is there
    got = finish({"finisher.txt": b"f"}, did="kill")
    assert {"before.txt", "after.txt", "finisher.txt"} <= set(got.manifest.entries)
    assert got.file_count in (3, 3 + 312)  # the last victim's files: all or none
    got.download(tmp_path / "out")  # every byte of the version can be read back


@pytest.mark.slow
def test_a_finisher_racing_inflight_upserts(python_env: dict[str, str], tmp_path: Path) -> None:
    rounds, writers = 3, 10
    spec = {
        "work": str(tmp_path / "race"),
        "writers": writers,
        "files": 6,
        "shared": 2,
        "round": 0,
        "rounds": rounds,
        "did": "race",
        "name": "preds",
        "finish_delay": 0.4,
    }
    proc = subprocess.run(
        [PYTHON, PROCS, "race", json.dumps(spec)],
        env=python_env,
        capture_output=True,
        text=True,
        timeout=patience(writers * rounds),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    refused = 0
    for round_, line in enumerate(proc.stdout.splitlines()):
        result = json.loads(line)
        refused += list(result["writers"].values()).count("refused")
        assert set(result["writers"].values()) <= {"ok", "refused"}
        landed = [int(w) for w, state in result["writers"].items() if state == "ok"]
        expected: dict[str, bytes] = {"finisher.txt": f"finished round {round_}\n".encode()}
        for w in landed:
            expected.update(files_of(w, round_, 6, 2))
        got = quire.Api().artifact(f"preds:v{round_}")
        assert contents(got) == digests(expected), result  # whole writers in, refused ones out
        parts = quire.Api().pending_version(f"race-{round_}").contributions()
        assert len(parts) == len(landed) + 1  # a refused upsert left no contribution
    assert proc.stderr.count("its distributed id is spent") == refused  # each told why


def test_an_abandoned_pending_version_is_listed_and_abortable() -> None:
    writer = upsert({"a.txt": b"abandoned"}, did="lost")
    [found] = quire.Api().pending_versions()
    assert (found.distributed_id, found.name, found.state) == ("lost", "preds", "open")
    assert found.contribution_count == 1 and found.file_count == 1
    assert [c.run_id for c in found.contributions()] == [writer.id]
    store = open_store()
    kept = store.catalog.roots()
    assert {c.root for c in found.contributions()} <= kept  # gc keeps open contributions

    quire.Api().pending_version(found.id).abort()
    assert quire.Api().pending_versions() == []
    [aborted] = quire.Api().pending_versions(state="aborted")
    assert aborted.closed_at is not None
    assert not {c.root for c in aborted.contributions()} & store.catalog.roots()  # collectable
    with pytest.raises(PendingVersionError, match="was aborted"):
        upsert({"b.txt": b"b"}, did="lost")
    with pytest.raises(PendingVersionError, match="was aborted"):
        finish(did="lost")
    aborted.abort()  # again: nothing to do
    finish(did="other")
    with pytest.raises(PendingVersionError, match="cannot be aborted"):
        quire.Api().pending_version("other").abort()
    with pytest.raises(ArtifactNotFoundError, match="no pending version"):
        quire.Api().pending_version("nope")


# -- waiting for writers ------------------------------------------------------------------


def test_finish_waits_for_the_expected_writers(python_env: dict[str, str]) -> None:
    late = """
        import time, quire
        time.sleep(0.5)
        for i in range(2):
            with quire.init(group="g") as run:
                art = quire.Artifact("preds", "dataset")
                with art.new_file(f"{i}.txt") as f:
                    f.write(str(i))
                run.upsert_artifact(art)
    """
    writers = threading.Thread(target=run_script, args=(late, python_env))
    writers.start()
    try:
        started = time.monotonic()
        with quire.init(group="g") as run:
            got = run.finish_artifact(quire.Artifact("preds", "dataset"), expected_writers=2, timeout=patience(1))
        assert time.monotonic() - started >= 0.5
    finally:
        writers.join()
    assert sorted(got.manifest.entries) == ["0.txt", "1.txt"]


def test_finish_gives_up_after_the_timeout_saying_how_many_came() -> None:
    upsert({"a.txt": b"a"})
    started = time.monotonic()
    with pytest.raises(PendingTimeoutError, match="only 1 of the 3 expected") as err:
        finish(expected_writers=3, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 0.3 + patience(0.25)
    assert (err.value.arrived, err.value.expected) == (1, 3)
    assert isinstance(err.value, TimeoutError)
    assert quire.Api().pending_version("d").state == "open"
    with pytest.raises(ArtifactNotFoundError):
        quire.Api().artifact("preds")
    with pytest.raises(ValidationError, match="expected_writers"):
        finish(expected_writers=-1)
    assert finish(expected_writers=1, timeout=0).file_count == 1


def test_writers_may_be_threads_of_one_run(tmp_path: Path) -> None:
    expected = {f"t{i}/{k}.txt": f"thread {i} file {k}".encode() for i in range(8) for k in range(20)}
    for path, data in expected.items():
        (tmp_path / "in" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / path).write_bytes(data)
    errors: list[BaseException] = []

    def write(run: quire.Run, i: int) -> None:
        try:
            art = quire.Artifact("preds", "dataset")
            art.add_dir(tmp_path / "in" / f"t{i}", name=f"t{i}")
            run.upsert_artifact(art)
        except BaseException as exc:  # noqa: BLE001  # reported below, in the test's thread
            errors.append(exc)

    with quire.init(group="threads") as run:
        threads = [threading.Thread(target=write, args=(run, i)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        got = run.finish_artifact(quire.Artifact("preds", "dataset"))
    assert contents(got) == digests(expected)


def test_finish_merges_contributions_stored_as_paged_manifests() -> None:
    """A contribution whose manifest was saved as pages (save_manifest, as any client
    may) merges like one saved as a single blob."""
    from quire.core.manifest import Entry, Manifest, save_manifest
    from quire.store.catalog import NewContribution

    store = open_store()
    for c in range(3):
        manifest = Manifest([Entry(f"part{c}/{i}.bin", f"{c:032x}{i:032x}", 5) for i in range(300)])
        own = NewContribution(
            f"writer{c}", save_manifest(store.blobs, manifest), len(manifest), manifest.size, {"role": "writer"}
        )
        store.catalog.add_contribution("uncategorized", "merged", "dataset", "paged", own, store.catalog.gc_epoch())
    with quire.init(group="paged") as run:
        version = run.finish_artifact(quire.Artifact("merged", "dataset"))
    assert version.file_count == 900
    assert sorted(version.manifest.entries)[:2] == ["part0/0.bin", "part0/1.bin"]
