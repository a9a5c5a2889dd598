"""Blobs in a bucket (``QUIRE_BLOBS=s3://…``) against a real S3 server (moto_server):
multipart uploads, put-if-absent races, and the faults users meet (no bucket, wrong
credentials, an unreachable or failing endpoint)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import quire
from backends import S3_CREDENTIALS, MotoServer
from faultproxy import FaultProxy
from quire.errors import MissingExtraError, ObjectNotFoundError, StoreError, ValidationError
from quire.store import open_store, postgres_engine
from quire.store.blobs import BlobStore, blob_key
from quire.store.s3 import MULTIPART_MIN, CloudObjects
from quire.store.sql import SQLCatalog
from support import patience

obs_exc = pytest.importorskip("obstore.exceptions")

pytestmark = pytest.mark.s3


@pytest.fixture
def objects(open_s3_objects) -> CloudObjects:  # type: ignore[no-untyped-def]
    return open_s3_objects()


@pytest.fixture
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the test server."""
    p = FaultProxy(moto_server)
    yield p
    p.close()


def _big(size: int = MULTIPART_MIN + 5 * (1 << 20)) -> bytes:
    return os.urandom(size)


def test_large_object_is_uploaded_in_parallel_parts(
    objects: CloudObjects,
    s3_client,
    s3_bucket: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    data = _big()
    staged = objects.temp_path()
    staged.write_bytes(data)
    objects.put_file("big", staged)
    assert not staged.exists()
    head = s3_client.head_object(Bucket=s3_bucket, Key="objects/big")
    assert head["ETag"].strip('"').endswith(f"-{-(-len(data) // (8 << 20))}")  # a multipart ETag
    assert objects.get_range("big", len(data) - 10, 10) == data[-10:]
    objects.get_file("big", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == data


def test_large_put_of_an_existing_key_changes_nothing(objects: CloudObjects, s3_client, s3_bucket: str) -> None:  # type: ignore[no-untyped-def]
    first = _big()
    objects.put("k", first)
    etag = s3_client.head_object(Bucket=s3_bucket, Key="objects/k")["ETag"]
    objects.put("k", _big())
    assert s3_client.head_object(Bucket=s3_bucket, Key="objects/k")["ETag"] == etag
    assert objects.get("k") == first


def test_list_matches_a_prefix_inside_a_folder(objects: CloudObjects) -> None:
    for key in ("packs/ab.pack", "packs/ab.idx", "packs/cd.idx", "other"):
        objects.put(key, b"x")
    assert sorted(i.key for i in objects.list("packs/a")) == ["packs/ab.idx", "packs/ab.pack"]
    assert sorted(i.key for i in objects.list("pa")) == ["packs/ab.idx", "packs/ab.pack", "packs/cd.idx"]


def test_two_hosts_storing_the_same_large_blob_make_one_object(
    s3_env: dict[str, str],
    s3_bucket: str,
    s3_client,
    python_env: dict[str, str],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(_big())
    code = (
        "import sys; from pathlib import Path; from quire.store.blobs import BlobStore;"
        "from quire.store.s3 import CloudObjects;"
        "w = BlobStore(CloudObjects(sys.argv[1])).writer(); print(w.add_file(Path(sys.argv[2]))[0]); w.flush()"
    )
    url = f"s3://{s3_bucket}/blobs"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url, str(src)], env=python_env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    digests = {p.communicate(timeout=patience(2))[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    (digest,) = digests
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert keys == [f"blobs/{blob_key(digest)}"]
    assert BlobStore(CloudObjects(url)).read(digest) == src.read_bytes()


# -- configuration and faults -------------------------------------------------------


def collections_in(url: str) -> list[object]:
    """The collections of the catalog at ``url``, read without the blob store (which
    ``open_store`` checks on the way)."""
    catalog = SQLCatalog(postgres_engine(url))
    try:
        return catalog.collections("uncategorized")  # type: ignore[return-value]
    finally:
        catalog.engine.dispose()


def test_a_bucket_that_does_not_exist_is_named(s3_env: dict[str, str], postgres_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", "s3://no-such-bucket-here/team")
    Path("a.txt").write_text("hello")
    art = quire.Artifact("data", "dataset")
    with pytest.raises(StoreError, match=r"bucket of s3://no-such-bucket-here/team does not exist.*QUIRE_BLOBS"):
        art.add_file("a.txt")
        art.save()
    # The store no longer opens (its blobs cannot be read): nothing was committed.
    assert collections_in(postgres_url) == []


def test_an_unreachable_endpoint_is_named_and_nothing_is_committed(
    s3_env: dict[str, str],
    postgres_url: str,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    from backends import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", "s3://some-bucket/team")
    Path("a.txt").write_text("hello")
    with pytest.raises(StoreError) as info:
        with quire.init() as run:
            art = quire.Artifact("data", "dataset")
            art.add_file("a.txt")
            run.log_artifact(art)
    message = str(info.value)
    assert "s3://some-bucket/team" in message and endpoint in message and "AWS_ENDPOINT_URL" in message
    assert "\n" not in message  # one clear line, no dump of the HTTP client's internals
    assert collections_in(postgres_url) == []  # (the store no longer opens)


def test_plain_http_endpoint_without_allow_http_says_what_to_set(
    s3_env: dict[str, str],
    s3_bucket: str,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    with pytest.raises(StoreError, match="AWS_ALLOW_HTTP=true"):
        CloudObjects(f"s3://{s3_bucket}").get("x")


@pytest.fixture(scope="module")
def auth_moto() -> Iterator[str]:
    """A second S3 server that checks credentials (moto's IAM enforcement)."""
    server = MotoServer(env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    yield server.url
    server.stop()


def test_wrong_credentials_are_reported_as_such(auth_moto: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for key, value in {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": auth_moto}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
    objects = CloudObjects("s3://team-bucket/blobs")
    for attempt in (lambda: objects.put("k", b"x"), lambda: list(objects.list("packs/")), lambda: objects.exists("k")):
        with pytest.raises(StoreError, match=r"s3://team-bucket/blobs.*refused the credentials.*AWS_ACCESS_KEY_ID"):
            attempt()


def test_throttling_and_5xx_are_retried(s3_env: dict[str, str], s3_bucket: str, proxy: FaultProxy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    objects = CloudObjects(f"s3://{s3_bucket}/b")
    slow = proxy.fail(r"partNumber=", method="PUT", status=503, code="SlowDown", times=3)
    broken = proxy.fail(r"/b/small", method="PUT", status=500, code="InternalError", times=2)
    data = _big()
    objects.put("large", data)
    objects.put("small", b"tiny")
    assert (slow.hits, broken.hits) == (3, 2)
    assert objects.get("large") == data and objects.get("small") == b"tiny"


def test_a_failing_server_mid_upload_gives_a_clear_error_and_no_version(
    s3_env: dict[str, str],
    s3_bucket: str,
    postgres_url: str,
    proxy: FaultProxy,
    monkeypatch,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    monkeypatch.setenv("QUIRE_BLOBS", f"s3://{s3_bucket}/team")
    Path("small.txt").write_text("small")
    Path("model.bin").write_bytes(_big())
    proxy.fail(r"partNumber=3", method="PUT", status=503, code="SlowDown")  # throttled for good
    with pytest.raises(StoreError, match=rf"s3://{s3_bucket}/team.*HTTP 503 SlowDown after \d+ retries"):
        with quire.init() as run:
            art = quire.Artifact("model", "model")
            art.add_file("small.txt")
            art.add_file("model.bin")
            run.log_artifact(art)
    assert open_store().catalog.collections("uncategorized") == []
    proxy.clear()  # the server recovers: the same log now works
    with quire.init() as run:
        art = quire.Artifact("model", "model")
        art.add_file("small.txt")
        art.add_file("model.bin")
        run.log_artifact(art)
    got = quire.Api().artifact("model:v0").download(tmp_path / "out")
    assert (Path(got) / "model.bin").read_bytes() == Path("model.bin").read_bytes()


def test_gcs_and_azure_urls_open_through_the_same_class(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # No GCS or Azure server is reachable here: only construction is checked.
    assert CloudObjects("gs://some-bucket/prefix").url == "gs://some-bucket/prefix"
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "account")
    assert CloudObjects("az://container/prefix").url == "az://container/prefix"
    with pytest.raises(StoreError, match="az://container"):
        monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME")
        CloudObjects("az://container")


def test_missing_extras_name_what_to_install(python_env: dict[str, str]) -> None:
    code = (
        "import sys; sys.modules['obstore'] = None; sys.modules['psycopg'] = None\n"
        "from quire.errors import MissingExtraError\n"
        "from quire.store import open_objects, postgres_engine\n"
        "for attempt in (lambda: open_objects('s3://b/p'), lambda: postgres_engine('postgresql://h/db')):\n"
        "    try:\n        attempt()\n    except MissingExtraError as exc:\n        print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=python_env, capture_output=True, text=True, check=True)
    assert "pip install 'quire[s3]'" in out.stdout
    assert "pip install 'quire[postgres]'" in out.stdout
    assert issubclass(MissingExtraError, ImportError)


def test_a_file_changed_during_its_upload_stores_nothing(objects: CloudObjects, tmp_path: Path) -> None:
    src = tmp_path / "weights.bin"
    src.write_bytes(_big())
    stale = blob_key("0" * 64)  # the digest it had when it was hashed, before it changed
    with pytest.raises(ValidationError, match="changed while it was uploaded"):
        objects.put_source(stale, src, "0" * 64)
    assert not objects.exists(stale) and list(objects.list()) == []
    assert src.exists()  # the source is never consumed


def test_a_file_rewritten_after_hashing_is_refused_even_with_its_old_mtime(
    objects: CloudObjects, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import quire.store.s3
    from quire.hashing import hash_file

    monkeypatch.setattr(quire.store.s3, "RACY_NS", 20_000_000)  # not racy after 20 ms (default 2 s)
    src = tmp_path / "weights.bin"
    src.write_bytes(_big())
    time.sleep(0.05)
    before = os.stat(src)
    digest, _ = hash_file(src)
    time.sleep(0.05)  # the next write gets a later ctime tick
    with open(src, "r+b") as f:
        f.write(b"X")  # same size
    os.utime(src, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back; ctime cannot be
    with pytest.raises(ValidationError, match="changed while it was uploaded"):
        objects.put_source(blob_key(digest), src, digest, before)
    assert not objects.exists(blob_key(digest))
    now = os.stat(src)
    digest, _ = hash_file(src)
    objects.put_source(blob_key(digest), src, digest, now)  # as it is now, it is stored
    assert objects.get(blob_key(digest)) == src.read_bytes()


def _use_after_fork(objects: CloudObjects, outcome) -> None:  # type: ignore[no-untyped-def]
    try:
        objects.put("from-the-child", b"x")
        outcome.put("stored")
    except StoreError as exc:
        outcome.put(str(exc))


def test_a_process_forked_after_using_the_store_is_refused_not_hung(objects: CloudObjects) -> None:
    import multiprocessing as mp

    objects.put("from-the-parent", b"x")  # the client's I/O threads start here
    ctx = mp.get_context("fork")
    outcome = ctx.Queue()
    child = ctx.Process(target=_use_after_fork, args=(objects, outcome))
    child.start()
    child.join(patience(1))
    assert child.exitcode == 0, "the child hung or crashed"
    assert "'spawn' or 'forkserver'" in outcome.get(timeout=patience(0.25))
    objects.put("again", b"y")  # the parent goes on as before
    spawned = mp.get_context("spawn")
    outcome = spawned.Queue()
    child = spawned.Process(target=_use_after_fork, args=(objects, outcome))
    child.start()
    child.join(patience(1))
    assert outcome.get(timeout=patience(0.25)) == "stored"  # a spawned worker starts its own client


# -- errors by class ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected", "says"),
    [
        (lambda: FileNotFoundError("Object at location k not found"), ObjectNotFoundError, "object 'k' is missing"),
        (lambda: obs_exc.PermissionDeniedError("no status here"), StoreError, "refused the credentials"),
        (lambda: obs_exc.UnauthenticatedError("no status here"), StoreError, "refused the credentials"),
        (
            lambda: obs_exc.GenericError("Error performing GET: HTTP error: error sending request"),
            StoreError,
            "cannot be reached",
        ),
        (
            lambda: obs_exc.GenericError("Error after 4 retries: 503 Service Unavailable: <Code>SlowDown</Code>"),
            StoreError,
            "answered HTTP 503 SlowDown after 4 retries",
        ),
        (lambda: obs_exc.InvalidPathError("bad path"), StoreError, "bad path"),
    ],
)
def test_obstore_errors_become_quire_errors_by_their_class(
    raised: Callable[[], Exception], expected: type[Exception], says: str
) -> None:
    objects = CloudObjects("s3://bucket/prefix")  # nothing is sent: the error is raised here
    with pytest.raises(expected, match=says) as caught, objects._errors("read", "k"):
        raise raised()
    assert type(caught.value) is expected and "\n" not in str(caught.value)
    if expected is ObjectNotFoundError:
        assert caught.value.key == "k"  # type: ignore[attr-defined]
