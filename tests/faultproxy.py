"""Fault-injecting proxies on loopback, to cause the faults of a real service under load
without mocking its client:

- :class:`FaultProxy`: HTTP, in front of a real S3 server; fails the requests a test
  chooses (503 SlowDown, 500, a dropped connection).
- :class:`TCPFaultProxy`: plain TCP, in front of the real PostgreSQL; drops a connection
  before a chosen message reaches the server, or after the server answered it without
  passing the answer on (a COMMIT that landed, whose answer was lost), and can refuse
  new connections (the server unreachable).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support import patience

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
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=patience(2))
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


#: PostgreSQL's simple-query message for ``COMMIT``, as psycopg sends it
PG_COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"


@dataclass
class TCPRule:
    """Drop a connection on a client message holding ``pattern``, on a connection that
    sent ``after`` before (None: any), ``times`` times (None: always). ``answered``:
    forward the message and wait for the server's answer, then drop (the client never
    sees it); else drop before the server sees the message. ``then_refuse``: refuse
    every connection from then on (the server unreachable right after)."""

    pattern: bytes
    answered: bool
    after: bytes | None
    times: int | None
    then_refuse: bool = False
    hits: int = 0


class _Link:
    """One client connection and its upstream one."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.sent = bytearray()  # what the client sent so far (to match ``after``)
        self.swallow: TCPRule | None = None  # drop on the server's next answer

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class TCPFaultProxy:
    """``TCPFaultProxy(host, port)``; connect clients to ``.port`` on 127.0.0.1."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.rules: list[TCPRule] = []
        self.refusing = False
        self.refused = 0  #: connections refused so far
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def drop(
        self,
        pattern: bytes,
        *,
        answered: bool = False,
        after: bytes | None = None,
        times: int | None = 1,
        then_refuse: bool = False,
    ) -> TCPRule:
        """Drop the connection on the client message holding ``pattern`` (see :class:`TCPRule`)."""
        rule = TCPRule(pattern, answered, after, times, then_refuse)
        with self._lock:
            self.rules.append(rule)
        return rule

    def refuse(self, on: bool = True) -> None:
        """Close every open connection and every new one at once (``on=False``: accept
        them again)."""
        self.refusing = on
        if on:
            with self._lock:
                links, self._links = self._links, []
            for link in links:
                link.close()

    def clear(self) -> None:
        """Forward everything again."""
        with self._lock:
            self.rules.clear()
        self.refusing = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.refusing:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._client_to_server, args=(link,), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(link,), daemon=True).start()

    def _fires(self, link: _Link, data: bytes) -> TCPRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if rule.pattern in data and (rule.after is None or rule.after in link.sent):
                    rule.hits += 1
                    return rule
        return None

    def _client_to_server(self, link: _Link) -> None:
        try:
            while data := link.client.recv(65536):
                rule = self._fires(link, data)
                link.sent += data
                if rule is not None and not rule.answered:
                    if rule.then_refuse:
                        self.refuse()
                    break
                if rule is not None:
                    link.swallow = rule
                link.upstream.sendall(data)
        except OSError:
            pass
        link.close()

    def _server_to_client(self, link: _Link) -> None:
        try:
            while data := link.upstream.recv(65536):
                if link.swallow is not None:  # the server answered; the client never hears it
                    if link.swallow.then_refuse:
                        self.refuse()
                    break
                link.client.sendall(data)
        except OSError:
            pass
        link.close()

    def close(self) -> None:
        """Stop accepting connections."""
        self._listener.close()
