"""Many writer processes on one team store (PostgreSQL + S3), each configured by nothing
but environment variables, as on a cluster: they upsert into one version, a finisher
process commits it, and the download is byte-identical to what they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import quire
from support import patience

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]

WRITERS = 16

WRITER = """
import random, sys
from pathlib import Path
import quire

i, folder = int(sys.argv[1]), Path(sys.argv[2])
rng = random.Random(i)
part = folder / f"part-{i:02d}"
part.mkdir(parents=True)
for n in range(20):  # small files: one pack per writer
    (part / f"shard-{n:02d}.bin").write_bytes(rng.randbytes(rng.randrange(1, 64 << 10)))
(part / "weights.bin").write_bytes(rng.randbytes((2 << 20) + i))  # a large blob of its own
(folder / "config.json").write_bytes(b'{"same": "for every writer"}')  # one entry in the merge
with quire.init(project="team", group="eval-7", job_type="writer") as run:
    art = quire.Artifact("predictions", "dataset")
    art.add_dir(str(folder))
    run.upsert_artifact(art)  # distributed_id: the run's group
"""

FINISHER = """
import sys
import quire

with quire.init(project="team", group="eval-7", job_type="finisher") as run:
    art = quire.Artifact("predictions", "dataset")
    art.metadata["writers"] = int(sys.argv[1])
    writers, timeout = int(sys.argv[1]), float(sys.argv[2])
    done = run.finish_artifact(art, aliases=["candidate"], expected_writers=writers, timeout=timeout)
    print(done.version, done.file_count)
"""


def test_sixteen_writer_processes_upsert_one_version_that_a_finisher_commits(
    postgres_url: str, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = {"QUIRE_STORE": postgres_url, "QUIRE_BLOBS": f"s3://{s3_bucket}/team"}
    env = {  # what a cluster job gets: the two URLs and the bucket's credentials, nothing else
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(Path(quire.__file__).resolve().parents[1]),
        **urls,
        **s3_env,
    }

    def start(code: str, *args: object, cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    # The finisher starts first and waits for the writers' contributions.
    finisher = start(FINISHER, WRITERS, patience(WRITERS), cwd=tmp_path)
    folders = [tmp_path / f"writer-{i}" for i in range(WRITERS)]
    for folder in folders:
        folder.mkdir()
    writers = [start(WRITER, i, folder, cwd=folder) for i, folder in enumerate(folders)]
    outputs = [p.communicate(timeout=patience(WRITERS))[0] for p in writers]
    assert [p.returncode for p in writers] == [0] * WRITERS, "\n".join(outputs)
    out = finisher.communicate(timeout=patience(WRITERS))[0]
    assert finisher.returncode == 0, out

    written: dict[str, bytes] = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                written[path.relative_to(folder).as_posix()] = path.read_bytes()
    assert out.split() == ["v0", str(len(written))]  # 16 × 21 files, and config.json once

    for key, value in urls.items():
        monkeypatch.setenv(key, value)
    version = quire.Api().artifact("team/predictions:candidate")
    assert (version.version, version.metadata) == ("v0", {"writers": WRITERS})
    makers = quire.Api().store.catalog.runs_of(version.id, "output")  # lineage: every run that wrote it
    assert sorted(r.job_type for r in makers) == ["finisher"] + ["writer"] * WRITERS
    root = Path(version.download(tmp_path / "out"))
    got = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert got == written
