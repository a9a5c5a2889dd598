"""A small HTTP proxy on loopback that forwards to a real S3 server and fails the requests
a test chooses (503 SlowDown, 500, a dropped connection), to cause the faults a real
object store has under load without mocking the client."""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


@dataclass
class Rule:
    """Fail requests whose method and ``path?query`` match, ``times`` times (None: always)."""

    method: str | None
    pattern: re.Pattern[str]
    status: int
    code: str
    times: int | None
    hits: int = 0

    def fires(self, method: str, target: str) -> bool:
        if self.method not in (None, method) or not self.pattern.search(target):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


@dataclass
class FaultProxy:
    """``FaultProxy(upstream_url)``; point clients at ``.url``; call ``fail(...)``."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    #: (method, path?query, status sent) of every request, in order
    seen: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        up = urllib.parse.urlsplit(self.upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rule = proxy._match(self.command, self.path)
                if rule is not None:
                    proxy._record(self.command, self.path, rule.status)
                    if rule.status == 0:  # drop the connection without an answer
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    payload = (
                        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{rule.code}</Code>'
                        f"<Message>injected by the test</Message></Error>"
                    ).encode()
                    self.send_response(rule.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                proxy._record(self.command, self.path, resp.status)
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in _HOP:
                        self.send_header(key, value)
                if self.command == "HEAD":
                    self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail(
        self,
        pattern: str = "",
        *,
        method: str | None = None,
        status: int = 503,
        code: str = "SlowDown",
        times: int | None = None,
    ) -> Rule:
        """Answer matching requests with ``status`` (0: drop the connection)."""
        rule = Rule(method, re.compile(pattern), status, code, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forward everything again."""
        with self._lock:
            self.rules.clear()

    def _match(self, method: str, target: str) -> Rule | None:
        with self._lock:
            return next((r for r in self.rules if r.fires(method, target)), None)

    def _record(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self.seen.append((method, target, status))

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
