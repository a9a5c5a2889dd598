"""W1 and W2 into the team store (PostgreSQL + an S3 server), against boto3.

The S3 server is a ``moto_server`` on loopback started for the run, the catalog the
PostgreSQL at ``QUIRE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
one fresh schema and one fresh bucket per repetition. The anchor is boto3's
``upload_file`` of the same tree from a 16-thread pool to the same server: what the
transport allows. The embedded store's first log is shown for comparison.
"""

from __future__ import annotations

import atexit
import os
import sys
import urllib.request
import uuid
from pathlib import Path

from bench import tools
from bench.runner import REPO_ROOT, BenchError, Case, Context, Op
from bench.workloads import W1_DATA, W2_DATA, Dataset, vs, workload

POSTGRES = os.environ.get("QUIRE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}


def _server(ctx: Context) -> str:
    """The endpoint of this run's moto_server (started once, stopped at exit)."""

    def start(_: Path) -> str:
        sys.path.insert(0, str(REPO_ROOT / "tests"))
        from backends import MotoServer  # the test suite's launcher

        server = MotoServer()
        atexit.register(server.stop)
        return server.url

    return ctx.shared("moto_server", start)  # type: ignore[return-value]


def _fresh_bucket(endpoint: str) -> str:
    """Forget everything the server holds (the last repetition's bytes), make a bucket."""
    import boto3

    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST")).close()
    name = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket=name)
    return name


def _boto_credentials() -> dict:
    return {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def _count_keys(endpoint: str, bucket: str) -> int:
    import boto3

    pages = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in pages.paginate(Bucket=bucket))


def quire_team_log(ctx: Context, data: Path) -> Case:
    """First log into a fresh PostgreSQL schema + bucket."""
    import psycopg

    def prepare(rep: Path) -> Op:
        endpoint = _server(ctx)
        bucket, schema = _fresh_bucket(endpoint), f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in POSTGRES else "?"
        env = {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint,
            "QUIRE_BLOBS": f"s3://{bucket}/blobs",
            "QUIRE_STORE": f"{POSTGRES}{sep}options=-csearch_path%3D{schema}",
        }

        def check() -> None:
            with psycopg.connect(POSTGRES, autocommit=True) as conn:
                n = conn.execute(f"SELECT count(*) FROM {schema}.versions").fetchone()[0]
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
            if n != 1:
                raise BenchError(f"expected one committed version, found {n}")

        args = dict(module="quire", data=str(data), name=data.name, policy="mutable", init_kwargs={}, wait=True)
        return Op("log_artifact", args, ctx.quire_python, rep, env=env, check=check)

    return Case("quire", "log into PostgreSQL + S3", prepare)


def boto3_anchor(ctx: Context, data: Path, n_files: int, threads: int = 16) -> Case:
    def prepare(rep: Path) -> Op:
        endpoint = _server(ctx)
        bucket = _fresh_bucket(endpoint)

        def check() -> None:
            if (n := _count_keys(endpoint, bucket)) != n_files:
                raise BenchError(f"the bucket holds {n} objects, expected {n_files}")

        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
        args = dict(root=str(data), bucket=bucket, threads=threads)
        return Op("boto3_upload", args, ctx.quire_python, rep, env=env, check=check)

    return Case("anchor", f"boto3 upload_file, {threads} threads", prepare)


def team_cases(ctx: Context, ds: Dataset) -> list[Case]:
    data = ctx.dataset(ds)
    team = quire_team_log(ctx, data)
    return [
        team,
        vs(boto3_anchor(ctx, data, ds.n_files), team, target=0.8),
        vs(tools.quire_log(ctx, data, "mutable"), team),
    ]


@workload("S3W1", "W1 (20,000 × 4 KiB) into PostgreSQL + S3 (moto_server)")
def s3_w1(ctx: Context) -> list[Case]:
    """First log of W1 into the team store, against boto3 uploading the same files
    (one object per file, as a tool without packs must) to the same server."""
    return team_cases(ctx, W1_DATA)


@workload("S3W2", "W2 (8 × 128 MiB) into PostgreSQL + S3 (moto_server)")
def s3_w2(ctx: Context) -> list[Case]:
    """First log of W2 into the team store, against boto3's multipart ``upload_file``
    (8 MiB parts, 10 threads per file) of the same files to the same server."""
    return team_cases(ctx, W2_DATA)
