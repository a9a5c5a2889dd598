"""Fixtures for the team backends: an S3 server (``moto_server``) and PostgreSQL.

- ``moto_server``: a real ``moto_server`` subprocess on a free loopback port, one per
  session; ``s3_bucket`` makes a fresh bucket on it per test (with the ``AWS_*``
  variables set, as a user would set them).
- ``postgres_url``: a fresh schema per test in the database at ``QUIRE_TEST_POSTGRES_URL``
  (default ``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards. When the
  server is unreachable the test is skipped, or FAILS when
  ``QUIRE_TEST_REQUIRE_SERVICES=1`` (CI sets it: a missing service must not pass silently).
- ``store_kind``: parametrised over ``embedded`` and ``postgres+s3``; a test (or a module,
  with ``pytestmark = pytest.mark.usefixtures("store_kind")``) that uses it runs once on
  each, with ``QUIRE_STORE`` / ``QUIRE_BLOBS`` set to that store.

The conformance suites get ``open_s3_objects`` and ``open_postgres_catalog``: functions
that open a new handle on one empty backend each time they are called.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import pytest

from support import patience

# Read before the autouse fixture clears QUIRE_* from the environment.
POSTGRES_URL = os.environ.get("QUIRE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("QUIRE_TEST_REQUIRE_SERVICES", "") == "1"
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} (QUIRE_TEST_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(what)


class MotoServer:
    """A ``moto_server`` subprocess on loopback."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + patience(5)  # moto imports boto and flask: a few processes' worth
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not start on {self.url}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (its process only)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a ``moto_server`` started for this session."""
    try:
        server = MotoServer()
    except (RuntimeError, OSError) as exc:
        _unavailable(f"cannot start moto_server: {exc}")
    yield server.url
    server.stop()


@pytest.fixture
def s3_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The ``AWS_*`` variables that point at the test server, set in the environment."""
    env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": moto_server}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def s3_client(s3_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """A boto3 client for the test server (to set up buckets, or look behind Quire)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_env["AWS_ENDPOINT_URL"],
        region_name=s3_env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def s3_bucket(s3_client) -> str:  # type: ignore[no-untyped-def]
    """A fresh, empty bucket on the test server."""
    name = f"quire-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


#: the prefix of the S3 store that ``open_s3_objects`` opens in its bucket
S3_OBJECTS_PREFIX = "objects"


@pytest.fixture
def open_s3_objects(s3_bucket: str) -> Callable[[], object]:
    """Handles on one empty S3 object store (a prefix in a fresh bucket)."""
    from quire.store.s3 import CloudObjects

    return lambda: CloudObjects(f"s3://{s3_bucket}/{S3_OBJECTS_PREFIX}")


# -- PostgreSQL -------------------------------------------------------------------------


def _admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test server's URL, once it was seen to answer."""
    try:
        with _admin():
            pass
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "unavailable"
        _unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}")
    return POSTGRES_URL


def schema_url(base: str, schema: str) -> str:
    """``base`` with every connection's ``search_path`` set to ``schema`` (and named
    after it, so the test's leftover connections can be found)."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema of their own (dropped afterwards)."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield schema_url(postgres_server, schema)
    from quire.store import close_stores

    close_stores()
    with _admin() as conn:
        # Connections a test left behind (a killed writer's) would block the drop.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (schema,),
        )
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def open_postgres_catalog(postgres_url: str) -> Iterator[Callable[[], object]]:
    """Handles on one empty PostgreSQL catalog (each with its own connection pool)."""
    from quire.store.sql import SQLCatalog
    from quire.store.sql.engines import postgres_engine

    opened: list[SQLCatalog] = []

    def open_catalog() -> SQLCatalog:
        catalog = SQLCatalog(postgres_engine(postgres_url))
        opened.append(catalog)
        return catalog

    yield open_catalog
    for catalog in opened:
        catalog.close()


# -- both kinds of store ------------------------------------------------------------------


@pytest.fixture(
    params=["embedded", pytest.param("postgres+s3", marks=[pytest.mark.postgres, pytest.mark.s3]), "server"]
)
def store_kind(request: pytest.FixtureRequest, _isolated: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test on the embedded store, on PostgreSQL + S3 (``QUIRE_STORE`` /
    ``QUIRE_BLOBS`` set accordingly, the S3 variables too, as a team would set them), and
    through a Quire server over an embedded store (``QUIRE_STORE=http://…`` and an admin
    key in ``QUIRE_API_KEY``; a real server process, see ``tests/servers.py``)."""
    if request.param == "embedded":
        yield "embedded"
        return
    if request.param == "server":
        request.getfixturevalue("served_store")
        yield "server"
        return
    url = request.getfixturevalue("postgres_url")
    bucket = request.getfixturevalue("s3_bucket")
    monkeypatch.setenv("QUIRE_STORE", url)
    monkeypatch.setenv("QUIRE_BLOBS", f"s3://{bucket}/blobs")
    yield "postgres+s3"
    import quire.sdk.run
    from quire.store import close_stores

    quire.sdk.run.finish()  # before the schema goes
    close_stores()
