"""Many writer processes on one team store (PostgreSQL + S3), each configured by nothing
but environment variables, as on a cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import quire

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]

WRITERS = 16

WRITER = """
import os, sys
from pathlib import Path
import quire

i = int(sys.argv[1])
folder = Path(sys.argv[2])
rng = __import__("random").Random(i)
for n in range(20):
    (folder / f"part-{i:02d}" / f"shard-{n:02d}.bin").parent.mkdir(parents=True, exist_ok=True)
    (folder / f"part-{i:02d}" / f"shard-{n:02d}.bin").write_bytes(rng.randbytes(rng.randrange(1, 64 << 10)))
(folder / f"part-{i:02d}" / "weights.bin").write_bytes(rng.randbytes((2 << 20) + i))  # a large blob
with quire.init(project="team", group="eval", job_type="writer") as run:
    art = quire.Artifact("predictions", "dataset", metadata={"writer": i})
    art.add_dir(str(folder))
    run.log_artifact(art)
"""


def test_sixteen_writer_processes_with_only_urls_in_their_environment(
    postgres_url: str, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(Path(quire.__file__).resolve().parents[1]),
        "QUIRE_STORE": postgres_url,
        "QUIRE_BLOBS": f"s3://{s3_bucket}/team",
        **s3_env,
    }
    folders = [tmp_path / f"writer-{i}" for i in range(WRITERS)]
    procs = []
    for i, folder in enumerate(folders):
        folder.mkdir()
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WRITER, str(i), str(folder)], env=env, cwd=folder,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * WRITERS, "\n".join(outputs)

    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", f"s3://{s3_bucket}/team")
    api = quire.Api()
    versions = api.artifact_versions("dataset", "team/predictions")
    assert sorted(int(v.version[1:]) for v in versions) == list(range(WRITERS))
    assert sorted(v.metadata["writer"] for v in versions) == list(range(WRITERS))
    for version in versions:
        i = version.metadata["writer"]
        root = Path(version.download(tmp_path / "out" / version.version))
        written = sorted(p.relative_to(folders[i]) for p in folders[i].rglob("*") if p.is_file())
        got = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
        assert got == written
        assert all((root / rel).read_bytes() == (folders[i] / rel).read_bytes() for rel in written)
