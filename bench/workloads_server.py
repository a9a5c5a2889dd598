"""Through ``quire server`` (issue 14): the same operations against a server on loopback
over an embedded store, beside the embedded store used directly.

Every server row starts its own ``quire server`` process (``bench/server.py``: a fresh
embedded store, ``quire server init``, a write key for the client) before the clock and
stops it with SIGTERM after the repetition; SV5 shares one server across its repetitions.
The client reaches it with ``QUIRE_STORE=http://127.0.0.1:PORT`` and ``QUIRE_API_KEY``.
The number of HTTP requests a measured client made is counted from the server's request
log (one JSON line per request) and shown beside the row's time.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import tools
from bench.runner import Case, Context, Op, expect_files, run_op
from bench.server import RSSSampler, Server
from bench.workloads import W1_DATA, W2_DATA, Dataset, vs, workload

#: 64 writers × ~1,563 files of 1 KiB: 100,000 entries in one collaborative version
SVC_DATA = Dataset("svc", n_files=100_000, file_size=1 << 10, n_dirs=64, seed=14)
#: 8 clients × one 1 GiB file each (folders d000 … d007)
SVM_DATA = Dataset("svm", n_files=8, file_size=1 << 30, n_dirs=8, seed=15)
#: SVM's bound on the server's RSS growth: one request body (``Settings.max_request``)
REQUEST_MIB = 256


def _server(ctx: Context, home: Path) -> Server:
    server = Server(ctx.quire_python, home)
    ctx.on_reset(server.stop)  # stopped at the latest when the workload ends
    return server


def _counted(server: Server, *, stop: bool, then=None):
    """A check: the requests the client made since now (``then()`` may add figures)."""
    start = len(server.requests())

    def check() -> dict:
        figures = {"requests": len(server.requests()) - start}
        if then is not None:
            figures |= then() or {}
        if stop:
            server.stop()
        return figures

    return check


def server_log(ctx: Context, data: Path) -> Case:
    """First log (policy mutable) through a fresh server."""

    def prepare(rep: Path) -> Op:
        server = _server(ctx, rep)
        args = dict(module="quire", data=str(data), name=data.name, policy="mutable", init_kwargs={}, wait=True)
        return Op("log_artifact", args, ctx.quire_python, rep, env=server.client_env, check=_counted(server, stop=True))

    return Case("quire", "log through the server", prepare)


def log_cases(ctx: Context, ds: Dataset, target: float) -> list[Case]:
    data = ctx.dataset(ds)
    served = server_log(ctx, data)
    direct = vs(tools.quire_log(ctx, data, "mutable"), served, target=target)
    return [served, direct]


@workload("SV1", "W1 (20,000 × 4 KiB) through quire server on loopback")
def sv1(ctx: Context) -> list[Case]:
    """First log of W1 (policy mutable) through a `quire server` on loopback over a fresh
    embedded store, beside the same log into a fresh embedded store directly. Target
    (issue 14): within 2× of direct (ratio direct / server ≥ 0.5). "requests": the HTTP
    requests the client made (server log)."""
    return log_cases(ctx, W1_DATA, target=0.5)


@workload("SV2", "W2 (8 × 128 MiB) through quire server on loopback")
def sv2(ctx: Context) -> list[Case]:
    """First log of W2 through the server, as SV1. Target (issue 14): at least 0.7× the
    direct speed (ratio direct / server ≥ 0.7)."""
    return log_cases(ctx, W2_DATA, target=0.7)


@workload("SV5", "warm download of W1 through quire server")
def sv5(ctx: Context) -> list[Case]:
    """W5 through the server: W1 is logged through one server and downloaded once
    (untimed, so the client's cache holds every blob), then each repetition downloads it
    into a new folder from a new process. Target: the client makes at most one request
    (the manifest). Beside it, W5's warm download from the embedded store directly."""
    data = ctx.dataset(W1_DATA)
    n = W1_DATA.n_files
    ref = f"bench/{data.name}:latest"

    def build(d: Path) -> tuple[Server, Path]:
        server = _server(ctx, d)
        args = dict(module="quire", data=str(data), name=data.name, policy="mutable", init_kwargs={}, wait=True)
        run_op(Op("log_artifact", args, ctx.quire_python, d, env=server.client_env))
        first = d / "first-download"
        args = dict(store=server.url, ref=ref, root=str(first))
        run_op(Op("quire_download", args, ctx.quire_python, d, env=server.client_env, check=expect_files(first, n)))
        return server, d

    def prepare(rep: Path) -> Op:
        server, home = ctx.shared("server-download", build)
        dest = rep / "dest"
        args = dict(store=server.url, ref=ref, root=str(dest))
        check = _counted(server, stop=False, then=expect_files(dest, n))
        return Op("quire_download", args, ctx.quire_python, home, env=server.client_env, check=check)

    served = Case("quire", "download through the server, warm cache", prepare, limits={"requests": 1})
    return [served, vs(tools.quire_download(ctx, data, n), served)]


def _collab(ctx: Context, data: Path, served: bool) -> Case:
    """SVC's row: the writers and the finisher through a fresh server, or into a fresh
    embedded store; the check verifies the union (a new process reads the version)."""
    ref = f"bench/{data.name}:latest"

    def prepare(rep: Path) -> Op:
        server = _server(ctx, rep) if served else None
        env = server.client_env if server else {"QUIRE_STORE": str(rep / "store")}
        figures = rep / "figures.json"
        union = Op("union_check", {"data": str(data), "ref": ref}, ctx.quire_python, rep, env=env)

        def verified() -> dict:
            found = json.loads(figures.read_text())  # before the union check adds requests
            run_op(union)
            return found

        check = _counted(server, stop=True, then=verified) if server else verified
        args = {"data": str(data), "name": data.name, "figures": str(figures)}
        return Op("collab_upserts", args, ctx.quire_python, rep, env=env, check=check)

    where = "through the server" if served else "embedded store"
    return Case("quire", f"64 writers upsert, 1 finisher, {where}", prepare, cpu="children", limits={"finisher_s": 2})


@workload("SVC", "64 writer processes × ~1,563 entries into one version through quire server")
def svc(ctx: Context) -> list[Case]:
    """Collaborative mode through the server: 64 writer processes (forked after `import
    quire`, released together) each upsert one folder of ~1,563 files of 1 KiB into one
    pending version, then a finisher merges and commits the 100,000 entries (fresh server
    and store each repetition). The union is checked exactly (paths and sizes, read back by
    a new process, untimed). Time: writers + finisher; "finisher_s": the finisher's
    `finish_artifact` alone. Target (issue 14): the finisher's commit under 2 s for 100,000
    entries. The same into an embedded store directly, for comparison."""
    data = ctx.dataset(SVC_DATA)
    served = _collab(ctx, data, served=True)
    return [served, vs(_collab(ctx, data, served=False), served)]


def _parallel(ctx: Context, data: Path) -> Case:
    """SVM's row: 8 client processes log one 1 GiB folder each through a fresh server,
    while a thread samples the server's RSS."""

    def prepare(rep: Path) -> Op:
        server = _server(ctx, rep)
        sampler = RSSSampler(server)

        def memory() -> dict:
            rss = sampler.stop()
            return rss | {"rss_growth_mib": rss["rss_peak_mib"] - rss["rss_before_mib"]}

        check = _counted(server, stop=True, then=memory)
        return Op(
            "parallel_logs",
            {"data": str(data), "name": "big"},
            ctx.quire_python,
            rep,
            env=server.client_env,
            check=check,
        )

    n = SVM_DATA.n_files
    return Case(
        "quire",
        f"{n} clients log {SVM_DATA.file_size >> 20} MiB each at once",
        prepare,
        cpu="children",
        limits={"rss_growth_mib": REQUEST_MIB},
    )


@workload("SVM", "server memory while 8 clients each upload a 1 GiB file")
def svm(ctx: Context) -> list[Case]:
    """8 client processes (forked after `import quire`, released together) each log one
    1 GiB file as its own artifact through one fresh server at once. The server's RSS
    (`VmRSS` of /proc/<pid>/status) is sampled every 0.2 s from before the clients start
    until they are done: "rss_before_mib", "rss_peak_mib" and the growth. Target: flat,
    bounded by the request size, not the artifact size: growth at most one request body
    (256 MiB, the server's `max_request`) while 8 GiB goes through."""
    return [_parallel(ctx, ctx.dataset(SVM_DATA))]
