"""A ``quire server`` subprocess for the SV workloads: start, count requests, sample RSS, stop.

The server runs over a fresh embedded store in its own process (``python -m quire.cli
server``, under Quire's interpreter, with its own isolated HOME), on a free loopback port;
its first admin key comes from ``quire server init`` and the clients get a write key from
``quire server key create``. The server logs one JSON line per request on stderr (fields
request, method, route, verb, status, ms, key): :meth:`Server.requests` reads them back,
so a workload can count the requests a measured client made. :meth:`Server.stop` sends
SIGTERM and waits for the server to finish the requests in flight.
"""

from __future__ import annotations

import atexit
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from bench.runner import BenchError, tool_env

STARTUP_TIMEOUT = 30  # seconds for /healthz to answer
STOP_TIMEOUT = 90  # the server grants requests in flight 60 s (quire.server.run.GRACE)

_LIVE: set[Server] = set()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``quire server`` over a fresh embedded store in ``home / "behind"``, or over the
    existing ``store`` whose ``key`` the clients send (``bench/web.py``'s built stores)."""

    def __init__(self, python: str, home: Path, store: Path | None = None, key: str | None = None) -> None:
        self.python = python
        self.log = home / "server.log"
        self.env = tool_env(home / "server-home")
        if store is not None and key is not None:
            self.behind, self.key = store, key
        else:
            self.behind = home / "behind"
            self.cli("server", "init", "--store", str(self.behind), "--json")  # the first admin key
            made = self.cli("server", "key", "create", "--store", str(self.behind), "--scope", "write", "--json")
            self.key = json.loads(made)["key"]
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [python, "-m", "quire.cli", "server", "--store", str(self.behind), "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env, cwd=home, stdout=log, stderr=log)
        _LIVE.add(self)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise BenchError(f"quire server did not start: {self.log.read_text()[-300:]}") from None
                time.sleep(0.1)

    def cli(self, *args: str) -> str:
        done = subprocess.run([self.python, "-m", "quire.cli", *args], env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise BenchError(f"quire {' '.join(args[:3])} exited {done.returncode}: {done.stderr.strip()[-300:]}")
        return done.stdout

    @property
    def client_env(self) -> dict[str, str]:
        """What a client process needs to use this server as its store."""
        return {"QUIRE_STORE": self.url, "QUIRE_API_KEY": self.key}

    def requests(self) -> list[dict]:
        """The request lines logged so far (``/healthz`` polls included)."""
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "route" in rec:
                lines.append(rec)
        return lines

    def rss_kib(self) -> int:
        """The server process's resident set size now (``VmRSS`` in /proc/<pid>/status)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise BenchError("no VmRSS for the server process")

    def stop(self) -> None:
        """SIGTERM, then wait (the server finishes the requests in flight); idempotent."""
        _LIVE.discard(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RSSSampler:
    """Samples a server's RSS every ``interval`` seconds on a thread until :meth:`stop`."""

    def __init__(self, server: Server, interval: float = 0.2) -> None:
        self.server, self.interval = server, interval
        self.before = server.rss_kib()
        self.samples: list[int] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self.samples.append(self.server.rss_kib())
            except (OSError, BenchError):
                return

    def stop(self) -> dict[str, float]:
        """Stop sampling: the RSS before and the peak, in MiB."""
        self._done.set()
        self._thread.join()
        return {"rss_before_mib": self.before / 1024, "rss_peak_mib": max([self.before, *self.samples]) / 1024}


@atexit.register
def _stop_all() -> None:
    """Servers a failed repetition left running."""
    for server in list(_LIVE):
        server.stop()
