"""Faults around ``quire server``, with real processes: replicas on one team store, a
server killed or stopped inside a commit, a client killed inside an upload in parts, a
part cut off on the way, and the store behind the server gone. Each test checks the
store is unchanged where it must be (no half version, no stray blob)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import quire
from faultproxy import TCPFaultProxy
from quire.errors import ArtifactNotFoundError, UnreachableError
from servers import ServerProcess
from support import files_of, log_files, patience, write_tree

SRC = str(Path(__file__).resolve().parents[1] / "src")
TESTS = str(Path(__file__).resolve().parent)

#: a client process that logs ``argv[2]`` (a folder) as ``p/<argv[1]>`` and prints the
#: version and its id as JSON; a Quire error is printed on one line (exit 2), never a
#: traceback. ``argv[3]``: how many times the session tries a request (the default when 0)
LOG = """
import json, sys
from pathlib import Path
import quire
from quire.errors import ArtifactNotFoundError, UnreachableError
from quire.errors import QuireError
from quire.store.http import session

if int(sys.argv[3]):
    session.ATTEMPTS = int(sys.argv[3])
    session.BACKOFF = (0.25,) * session.ATTEMPTS
try:
    with quire.init(project="p") as run:
        art = quire.Artifact(sys.argv[1], "dataset")
        art.add_dir(Path(sys.argv[2]))
        run.log_artifact(art)
    print(json.dumps({"version": art.version, "id": art.id}), flush=True)
except QuireError as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)
"""


#: LOG, printing the answer to the commit request the moment it arrives (calls after it
#: may then find the server gone)
WATCH_COMMIT = (
    """
import json
from quire.store.http.catalog import HTTPCatalog

sent = HTTPCatalog.commit

def commit(self, request):
    done = sent(self, request)
    print(json.dumps({"committed": f"v{done.version.index}", "id": done.version.id}), flush=True)
    return done

HTTPCatalog.commit = commit
"""
    + LOG
)


def _wait_for(condition: Callable[[], object], what: str, processes: float = 4) -> None:
    deadline = time.monotonic() + patience(processes)
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _env(**more: str) -> dict[str, str]:
    """This process's environment for a subprocess that imports Quire from this checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((SRC, TESTS)), "PYTHONUNBUFFERED": "1"}
    env.pop("QUIRE_API_KEY", None)
    return {**env, **more}


def _client(url: str, key: str, *more: str, code: str = LOG, attempts: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *more, str(attempts)],
        env=_env(QUIRE_STORE=url, QUIRE_API_KEY=key),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _status(url: str, key: str | None, path: str = "/api/v1/store") -> int:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.get(url + path, headers=headers, timeout=patience(1)).status_code


def _team(postgres_url: str, s3_bucket: str, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a server on the team store (PostgreSQL + S3); this process's
    environment is set to the store too, to look behind the servers."""
    blobs = {"QUIRE_BLOBS": f"s3://{s3_bucket}/blobs", **s3_env}
    for key, value in blobs.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("QUIRE_STORE", postgres_url)
    return _env(**blobs)


def _versions(location: str, name: str = "data") -> list[tuple[str, str]]:
    """(vN, id) of every version of ``p/name`` in the store at ``location``, looked at directly."""
    from quire.store import close_stores, open_store

    close_stores()
    catalog = open_store(location).catalog
    try:
        return [(v.version, v.id) for v in catalog.versions("p", name)]
    except ArtifactNotFoundError:
        return []


def _blob_keys(location: str) -> set[str]:
    from quire.store import open_store

    return {info.key for info in open_store(location).blobs.objects.list("objects/")}


@contextlib.contextmanager
def _collection_locked(postgres_url: str, name: str = "data") -> Iterator[Callable[[], bool]]:
    """Hold the row lock a commit to ``p/name`` takes (the catalog's writer lock of that
    collection) until the block ends; yields ``waiting()``: whether another connection of
    the test's schema waits for it (a commit inside the server's transaction)."""
    import psycopg

    schema = postgres_url.rsplit("application_name=", 1)[1]
    holder = psycopg.connect(postgres_url)
    watcher = psycopg.connect(postgres_url, autocommit=True)
    try:
        holder.execute(
            "SELECT c.id FROM collections c JOIN projects p ON p.id = c.project_id "
            "WHERE p.name = 'p' AND c.name = %s FOR UPDATE",
            (name,),
        ).fetchall()

        def waiting() -> bool:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock' "
                "AND pid <> %s",
                (schema, holder.info.backend_pid),
            ).fetchone()
            return bool(row and row[0])

        yield waiting
    finally:
        holder.rollback()
        holder.close()
        watcher.close()


def _verify(location: str, address: str) -> None:
    """``quire artifact verify`` of ``address`` in the store at ``location``, directly."""
    done = subprocess.run(
        [sys.executable, "-m", "quire.cli", "artifact", "verify", address],
        env=_env(QUIRE_STORE=location),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- 1. stateless replicas -------------------------------------------------------------------

WRITER = """
import random, sys
from pathlib import Path
import quire
from quire.errors import ArtifactNotFoundError, UnreachableError

i, folder = int(sys.argv[1]), Path(sys.argv[2])
rng = random.Random(i)
(folder / f"part-{i:02d}").mkdir(parents=True)
for n in range(8):
    (folder / f"part-{i:02d}" / f"shard-{n}.bin").write_bytes(rng.randbytes(rng.randrange(1, 32 << 10)))
(folder / f"part-{i:02d}" / "weights.bin").write_bytes(rng.randbytes((1 << 20) + i))  # a blob of its own
(folder / "config.json").write_bytes(b'{"same": "for every writer"}')
with quire.init(project="p", group="replicas", job_type="writer") as run:
    art = quire.Artifact("data", "dataset")
    art.add_dir(str(folder))
    run.upsert_artifact(art)
"""


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.slow
def test_replicas_on_one_team_store_serve_one_collaborative_version_and_one_key_ring(
    postgres_url: str, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _team(postgres_url, s3_bucket, s3_env, monkeypatch)
    servers = [ServerProcess(postgres_url, env, init=False) for _ in range(3)]
    try:
        write = servers[0].key("write")  # one key ring: a key made once works on every replica
        writers = []
        for i in range(4):  # spread over the first two replicas
            folder = tmp_path / f"writer-{i}"
            folder.mkdir()
            writers.append(
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, str(i), str(folder)],
                    env=_env(QUIRE_STORE=servers[i % 2].url, QUIRE_API_KEY=write),
                    cwd=folder,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [p.communicate(timeout=patience(8))[0] for p in writers]
        assert [p.returncode for p in writers] == [0] * len(writers), "\n".join(outputs)

        # The finisher on the third replica.
        monkeypatch.setenv("QUIRE_STORE", servers[2].url)
        monkeypatch.setenv("QUIRE_API_KEY", write)
        with quire.init(project="p", group="replicas", job_type="finisher") as run:
            art = quire.Artifact("data", "dataset")
            done = run.finish_artifact(art)
        written: dict[str, bytes] = {}
        for i in range(4):
            written.update(files_of(tmp_path / f"writer-{i}"))
        assert done.version == "v0"
        got = files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "out"))
        assert got == written  # the exact union, byte for byte
        quire.store.close_stores()

        # Looked at behind the servers: one version, every file, every byte.
        monkeypatch.setenv("QUIRE_STORE", postgres_url)
        monkeypatch.delenv("QUIRE_API_KEY")
        assert [v for v, _ in _versions(postgres_url)] == ["v0"]
        behind = files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "behind"))
        assert behind == written
        _verify(postgres_url, "p/data:v0")

        # A key revoked works on no replica from the next call on.
        made = json.loads(servers[1].cli("server", "key", "create", "--scope", "write", "--json").stdout)
        assert [_status(s.url, made["key"]) for s in servers] == [200, 200, 200]
        servers[2].cli("server", "key", "revoke", made["id"])
        assert [_status(s.url, made["key"]) for s in servers] == [401, 401, 401]
        assert [_status(s.url, write) for s in servers] == [200, 200, 200]  # the others still work
    finally:
        for server in servers:
            server.stop()


# -- 2. the server killed inside a commit ----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.slow
def test_a_server_killed_inside_a_commit_leaves_no_half_version_and_the_client_retry_lands_once(
    postgres_url: str, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _team(postgres_url, s3_bucket, s3_env, monkeypatch)
    server = ServerProcess(postgres_url, env, init=False)
    try:
        log_files("data", {"v0.txt": b"the version before"}, tmp_path / "v0")
        before = _versions(postgres_url)
        rng = random.Random(2)
        files = {f"f{n}.bin": rng.randbytes(rng.randrange(1, 4096)) for n in range(20)}
        src = write_tree(tmp_path / "next", files)

        with _collection_locked(postgres_url) as waiting:
            # the client retries for long enough to outlive a restart of the server
            client = _client(server.url, server.admin, "data", str(src), attempts=int(patience(4) * 4))
            _wait_for(waiting, "the commit inside the server, waiting for the writer lock")
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
        # The lock is gone: the dead server's transaction could go on, but never commit.
        assert _versions(postgres_url) == before  # nothing of the version, not half of it
        server.restart()
        out, err = client.communicate(timeout=patience(8))
        assert "Traceback" not in err, err
        if client.returncode == 0:  # the retry reached the new server: one version, its id
            landed = json.loads(out)
            assert landed["version"] == "v1"
            assert _versions(postgres_url) == [*before, ("v1", landed["id"])]
        else:  # or a clear error, and still nothing
            assert client.returncode == 2, err
            assert err.count("\n") == 1 and "Error:" in err, err
            assert _versions(postgres_url) == before
        _verify(postgres_url, "p/data:latest")

        # A commit whose answer is lost on the way back: the client sends it again, and the
        # catalog finds it by its commit id (one version, not two).
        proxy = TCPFaultProxy("127.0.0.1", server.port)
        try:
            lost = proxy.drop(b"POST /api/v1/catalog/commit ", answered=True)
            again = write_tree(tmp_path / "again", {"lost-answer.txt": b"committed once"})
            client = _client(f"http://127.0.0.1:{proxy.port}", server.admin, "data", str(again))
            out, err = client.communicate(timeout=patience(4))
            assert client.returncode == 0, err
            assert lost.hits == 1
        finally:
            proxy.close()
        landed = json.loads(out)
        versions = _versions(postgres_url)
        assert versions[-1] == (landed["version"], landed["id"])
        assert [v for v, _ in versions] == [f"v{n}" for n in range(len(versions))]  # no gap, no double
        assert files_of(quire.Api().artifact(f"p/data:{landed['version']}").download(tmp_path / "lost")) == {
            "lost-answer.txt": b"committed once"
        }
    finally:
        server.stop()


# -- 3. a client killed inside an upload in parts; a part cut off ----------------------------

#: LOG, with every chunk of a part's body sent slowly (so a kill lands inside the upload)
SLOW_LOG = (
    """
import time
from quire.store.http import objects

sent = objects._chunks

def slow(path, start, length):
    for chunk in sent(path, start, length):
        for at in range(0, len(chunk), 64 << 10):
            time.sleep(0.01)
            yield chunk[at : at + (64 << 10)]

objects._chunks = slow
"""
    + LOG
)

MiB = 1 << 20


def _uploads(behind: Path) -> list[Path]:
    return [p for p in (behind / "blobs" / "uploads").glob("*/*") if p.name.isdigit()]


@pytest.mark.slow
def test_a_client_killed_inside_an_upload_in_parts_leaves_no_blob_and_the_next_client_logs_it(
    tmp_path: Path,
) -> None:
    behind = tmp_path / "behind"
    server = ServerProcess(str(behind), _env(), "--max-request-mb", "1", init=False)
    try:
        big = rng_bytes(3, 6 * MiB + 123)
        src = write_tree(tmp_path / "src", {"big.bin": big})
        before = _blob_keys(str(behind))
        client = _client(server.url, server.admin, "data", str(src), code=SLOW_LOG)
        _wait_for(lambda: len(_uploads(behind)) >= 2, "two parts of the upload stored")
        os.kill(client.pid, signal.SIGKILL)
        client.communicate()
        assert client.returncode == -signal.SIGKILL

        assert _blob_keys(str(behind)) == before  # no blob of it under objects/
        # The parts that arrived are whole (the one cut off stored nothing); they stay
        # under uploads/ of the store behind, which no client lists
        assert {p.stat().st_size for p in _uploads(behind)} == {MiB}
        scratch = behind / "blobs" / "tmp"
        _wait_for(lambda: not list(scratch.glob("*")), "the server to drop the scratch file of the part cut off")
        assert "Traceback" not in server.log.read_text(), server.log.read_text()[-3000:]
        assert _versions(str(behind)) == []  # and no version

        client = _client(server.url, server.admin, "data", str(src))
        out, err = client.communicate(timeout=patience(4))
        assert client.returncode == 0, err
        assert json.loads(out)["version"] == "v0"
        assert len(_blob_keys(str(behind)) - before) == 1  # the file's blob, once
        _verify(str(behind), "p/data:v0")
        with _as_client(server):
            assert files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "out")) == {"big.bin": big}

        # The dead client's parts are garbage: gc on the store behind reclaims them once
        # they are older than its grace period (and than any upload in flight could be).
        left = [p for p in (behind / "blobs" / "uploads").glob("*/*")]
        assert left
        hours_ago = time.time() - 3 * 3600
        for path in left:
            os.utime(path, (hours_ago, hours_ago))
        gc = subprocess.run(
            [sys.executable, "-m", "quire.cli", "gc", "--grace", "0", "--json"],
            env=_env(QUIRE_STORE=str(behind)),
            capture_output=True,
            text=True,
        )
        assert gc.returncode == 0, gc.stderr
        gone = {d["key"] for d in json.loads(gc.stdout)["deleted"] if d["kind"] == "upload"}
        assert gone == {p.relative_to(behind / "blobs").as_posix() for p in left}
        assert not any(p.exists() for p in left)
        _verify(str(behind), "p/data:v0")  # and the version's blob stays
    finally:
        server.stop()


@pytest.mark.slow
def test_a_part_cut_off_on_the_way_is_sent_again_and_the_blob_lands_once(tmp_path: Path) -> None:
    behind = tmp_path / "behind"
    server = ServerProcess(str(behind), _env(), "--max-request-mb", "1", init=False)
    proxy = TCPFaultProxy("127.0.0.1", server.port)
    try:
        big = rng_bytes(4, 4 * MiB + 77)
        src = write_tree(tmp_path / "src", {"big.bin": big})
        cut = proxy.drop(b"/0 HTTP/1.1\r\n")  # part 0 never arrives
        lost = proxy.drop(b"/2 HTTP/1.1\r\n", answered=True)  # part 2's answer
        client = _client(f"http://127.0.0.1:{proxy.port}", server.admin, "data", str(src))
        out, err = client.communicate(timeout=patience(4))
        assert client.returncode == 0, err
        assert (cut.hits, lost.hits) == (1, 1)
        assert json.loads(out)["version"] == "v0"
        blobs = _blob_keys(str(behind))
        assert len(blobs) == 1  # the blob, once (the small files went in a pack)
        assert _uploads(behind) == []  # the upload's parts are gone once it completed
        _verify(str(behind), "p/data:v0")
        with _as_client(server):
            assert files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "out")) == {"big.bin": big}
    finally:
        proxy.close()
        server.stop()


class CutProxy(TCPFaultProxy):
    """A TCP proxy that passes on only the first ``keep`` bytes of the first request
    holding ``pattern``, then drops its connection (a part upload cut off half-way)."""

    def __init__(self, host: str, port: int, pattern: bytes, keep: int) -> None:
        self.pattern, self.keep, self.cuts = pattern, keep, 0
        super().__init__(host, port)

    def _client_to_server(self, link: Any) -> None:
        left: int | None = None  # bytes of the request still passed on, once it is the one cut
        try:
            while data := link.client.recv(65536):
                if left is None and self.pattern in data:
                    with self._lock:
                        if self.cuts == 0:
                            self.cuts, left = 1, self.keep
                if left is not None:
                    link.upstream.sendall(data[:left])
                    left -= len(data[:left])
                    if left <= 0:
                        break
                    continue
                link.upstream.sendall(data)
        except OSError:
            pass
        link.close()


@pytest.mark.slow
def test_a_part_cut_off_half_way_stores_nothing_and_is_sent_again(tmp_path: Path) -> None:
    behind = tmp_path / "behind"
    server = ServerProcess(str(behind), _env(), "--max-request-mb", "1", init=False)
    proxy = CutProxy("127.0.0.1", server.port, b"/1 HTTP/1.1\r\n", keep=300 << 10)  # part 1, 300 KiB of it
    try:
        big = rng_bytes(5, 3 * MiB + 5)
        src = write_tree(tmp_path / "src", {"big.bin": big})
        client = _client(f"http://127.0.0.1:{proxy.port}", server.admin, "data", str(src))
        out, err = client.communicate(timeout=patience(4))
        assert client.returncode == 0, err
        assert proxy.cuts == 1
        assert json.loads(out)["version"] == "v0"
        assert len(_blob_keys(str(behind))) == 1  # the blob, once, whole
        assert _uploads(behind) == []
        _wait_for(lambda: not list((behind / "blobs" / "tmp").glob("*")), "the server to drop the part cut off")
        # a client gone half-way is no failure of the server's: no traceback in its log
        assert "Traceback" not in server.log.read_text(), server.log.read_text()[-3000:]
        _verify(str(behind), "p/data:v0")
        with _as_client(server):
            assert files_of(quire.Api().artifact("p/data:v0").download(tmp_path / "out")) == {"big.bin": big}
    finally:
        proxy.close()
        server.stop()


@pytest.mark.parametrize("answered", [False, True], ids=["request-lost", "answer-lost"])
def test_a_listing_whose_connection_drops_before_its_first_record_is_asked_again(
    tmp_path: Path, answered: bool
) -> None:
    # A kept-alive socket the server closes as the client sends on it resets the next
    # request: a writer's consolidation listing ``packs/`` must not fail on that.
    behind = tmp_path / "behind"
    log_files("data", {f"f{i}.txt": f"file {i}".encode() for i in range(5)}, tmp_path / "src", store=behind)
    server = ServerProcess(str(behind), _env(), init=False)
    proxy = TCPFaultProxy("127.0.0.1", server.port)
    try:
        from quire.store import open_store

        want = sorted(info.key for info in open_store(str(behind)).blobs.objects.list("packs/"))
        assert want  # the version's files went into a pack
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("QUIRE_API_KEY", server.admin)
            objects = open_store(f"http://127.0.0.1:{proxy.port}").blobs.objects
            rule = proxy.drop(b"GET /api/v1/objects?prefix=packs", answered=answered)
            got = sorted(info.key for info in objects.list("packs/"))
        assert rule.hits == 1
        assert got == want
    finally:
        quire.store.close_stores()
        proxy.close()
        server.stop()


def rng_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@contextlib.contextmanager
def _as_client(server: ServerProcess) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUIRE_STORE", server.url)
        mp.setenv("QUIRE_API_KEY", server.admin)
        try:
            yield
        finally:
            quire.store.close_stores()


# -- 4. graceful shutdown ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.slow
def test_sigterm_lets_a_commit_in_flight_finish_and_answer_then_the_server_exits(
    postgres_url: str, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _team(postgres_url, s3_bucket, s3_env, monkeypatch)
    server = ServerProcess(postgres_url, env, init=False)
    try:
        log_files("data", {"v0.txt": b"the version before"}, tmp_path / "v0")
        before = _versions(postgres_url)
        src = write_tree(tmp_path / "next", {"a.txt": b"in flight", "b.txt": b"at shutdown"})
        with _collection_locked(postgres_url) as waiting:
            client = _client(server.url, server.admin, "data", str(src), code=WATCH_COMMIT)
            _wait_for(waiting, "the commit inside the server, waiting for the writer lock")
            server.proc.send_signal(signal.SIGTERM)

            def refusing() -> bool:
                try:
                    _status(server.url, None, "/healthz")
                except httpx.TransportError:
                    return True
                return False

            _wait_for(refusing, "the server to stop taking new requests")
            assert server.proc.poll() is None  # it waits for the commit in flight
        out, err = client.communicate(timeout=patience(4))
        assert "Traceback" not in err, err
        answered = json.loads(out.splitlines()[0])  # the commit finished and its answer arrived
        assert answered["committed"] == "v1", (out, err)
        # What the client asks after the commit (closing its lease, its run) finds the
        # server gone: a one-line UnreachableError, not a traceback.
        assert client.returncode == 0 or err.startswith("UnreachableError: could not reach"), err
        # then it exits: uvicorn re-raises the SIGTERM once it has shut down, as a
        # process manager expects of a process it told to stop
        assert server.proc.wait(timeout=patience(2)) in (0, -signal.SIGTERM)
        assert _versions(postgres_url) == [*before, ("v1", answered["id"])]
        assert files_of(quire.Api().artifact("p/data:v1").download(tmp_path / "v1")) == files_of(src)
    finally:
        server.stop()


# -- 5. the store behind unreachable ---------------------------------------------------------


@pytest.fixture
def throwaway_database(postgres_server: str) -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A fresh database's URL, and ``allow(on)``: let connections in, or end them and keep
    new ones out (restored and dropped afterwards)."""
    import psycopg

    name = f"quire_fault_{uuid.uuid4().hex[:12]}"
    base, _, _ = postgres_server.rpartition("/")
    admin = psycopg.connect(postgres_server, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")

    def allow(on: bool) -> None:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'true' if on else 'false'}")
        if not on:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    try:
        yield f"{base}/{name}", allow
    finally:
        from quire.store import close_stores

        close_stores()
        allow(True)
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.slow
def test_a_store_gone_behind_the_server_answers_503_naming_the_catalog_and_a_server_does_not_start_on_it(
    throwaway_database: tuple[str, Callable[[bool], None]],
    s3_bucket: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, allow = throwaway_database
    env = _team(url, s3_bucket, s3_env, monkeypatch)
    server = ServerProcess(url, env, init=False)
    try:
        assert _status(server.url, server.admin) == 200
        allow(False)
        answer = httpx.get(
            server.url + "/api/v1/store", headers={"authorization": f"Bearer {server.admin}"}, timeout=patience(1)
        )
        assert answer.status_code == 503, answer.text
        message = answer.json()["error"]["message"]
        assert answer.json()["error"]["type"] == "UnreachableError"
        assert f"cannot reach the catalog at {url.replace('postgresql://', 'postgresql+psycopg://')}" in message
        assert "Traceback" not in answer.text, message
        health = httpx.get(server.url + "/healthz", timeout=patience(1))
        assert health.status_code == 503 and health.json()["error"]["type"] == "UnreachableError"

        monkeypatch.setenv("QUIRE_STORE", server.url)
        monkeypatch.setenv("QUIRE_API_KEY", server.admin)
        with pytest.raises(UnreachableError):
            quire.Api().store.catalog.projects()
        quire.store.close_stores()

        # A server started on it stops at once, with the reason on one line.
        started = subprocess.run(
            [sys.executable, "-m", "quire.cli", "server", "--store", url, "--port", str(server.port + 1)],
            env=env,
            capture_output=True,
            text=True,
            timeout=patience(4),
        )
        assert started.returncode == 1, started.stderr
        said = started.stderr.strip()
        assert len(said.splitlines()) == 1 and "Traceback" not in said, said
        assert said.startswith(f"Error: quire server cannot serve {url}: cannot reach the catalog"), said

        allow(True)  # and once it is back, the running server answers again
        _wait_for(lambda: _status(server.url, server.admin) == 200, "the server to reach its store again")
    finally:
        server.stop()
