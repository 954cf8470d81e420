"""Raw HTTP exchanges with a target, in-process (WSGI) or over the network.

Requests are bytes-exact on purpose: the suite sends broken bodies and
headers that a friendly client library would "fix".
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import select
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

HeaderValue = str | bytes
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def header_text(value: HeaderValue) -> str:
    """A header value as text; raw bytes are read as ISO-8859-1, as HTTP/1.1 carries them."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: tuple[tuple[str, HeaderValue], ...] = ()
    body: bytes = b""
    query: str = ""

    def header(self, name: str) -> HeaderValue | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self) -> str:
        # Never let the Authorization header reach a traceback or a junit file.
        shown = {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in self.headers}
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        query = f"?{self.query}" if self.query else ""
        return f"HttpRequest({self.method} {self.path}{query} headers={shown} body={body!r})"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    elapsed: float
    _json: list[Any] = field(default_factory=list, repr=False, compare=False)

    def json(self) -> Any:
        """The parsed body; raises ValueError when it is not strict JSON."""
        if not self._json:
            self._json.append(json.loads(self.body.decode("utf-8"), parse_constant=_reject))
        return self._json[0]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _reject(token: str) -> Any:
    raise ValueError(f"non-JSON constant {token}")


class Transport(Protocol):
    def send(self, request: HttpRequest, timeout: float) -> HttpResponse: ...

    def close(self) -> None: ...


class WsgiTransport:
    """Calls a WSGI application directly: no sockets, no server."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def send(self, request: HttpRequest, timeout: float) -> HttpResponse:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(request.body)),
        }
        for name, value in request.headers:
            text = header_text(value)
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = text
            else:
                environ[f"HTTP_{key}"] = text
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = {k.lower(): v for k, v in headers}
            return lambda chunk: None

        started = time.perf_counter()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter() - started
        return HttpResponse(captured["status"], captured["headers"], body, elapsed)

    def close(self) -> None:
        return None


class NetworkTransport:
    """One persistent connection for the whole run, on http.client.

    A client library would add, drop or "fix" headers and bodies; this one sends
    what the case says, plus Host, User-Agent and Content-Length. It is also about
    twice as fast per request as requests, which is what bounds a loopback run.
    """

    _BODY_METHODS = ("POST", "PUT", "PATCH")

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"target must be an http(s) URL, not {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and conn.sock is not None and select.select([conn.sock], [], [], 0)[0]:
            # Readable while idle means the server closed it (or sent junk): start afresh.
            self.close()
            conn = None
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._conn = kind(self._host, self._port, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def send(self, request: HttpRequest, timeout: float) -> HttpResponse:
        if request.method == "HEAD":
            return self._head(request, timeout)
        path = self._prefix + request.path + (f"?{request.query}" if request.query else "")
        started = time.perf_counter()
        conn = self._connection(timeout)
        try:
            conn.putrequest(request.method, path, skip_accept_encoding=True)
            conn.putheader("User-Agent", "engagelab-contract")
            for name, value in request.headers:
                conn.putheader(name, value)
            if request.body or request.method in self._BODY_METHODS:
                conn.putheader("Content-Length", str(len(request.body)))
            # A server may answer (401, 413) and close before reading a large body: read its answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.endheaders(request.body or None)
            _quick_ack(conn)
            reply = conn.getresponse()
            body = reply.read()
        except http.client.HTTPException as failure:
            self.close()
            # Callers treat OSError as "no HTTP answer"; a malformed answer is one too.
            raise ConnectionError(f"{type(failure).__name__}: {failure}") from None
        except OSError:
            self.close()
            raise
        elapsed = time.perf_counter() - started
        if reply.will_close:
            self.close()
        return HttpResponse(reply.status, {k.lower(): v for k, v in reply.getheaders()}, body, elapsed)

    def _head(self, request: HttpRequest, timeout: float) -> HttpResponse:
        """HEAD on a connection of its own, read to the end: every byte after the headers is
        a body the answer must not have. http.client would hide those bytes from us."""
        path = self._prefix + request.path + (f"?{request.query}" if request.query else "")
        lines = [f"HEAD {path} HTTP/1.1".encode(), f"Host: {self._host}".encode(), b"Connection: close"]
        for name, value in request.headers:
            lines.append(f"{name}: {header_text(value)}".encode("latin-1"))
        started = time.perf_counter()
        with socket.create_connection((self._host, self._port or (443 if self._https else 80)), timeout) as raw:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=self._host) if self._https else raw
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
            data = _read_until_quiet(sock, timeout)
        elapsed = time.perf_counter() - started
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionError(f"no HTTP status line in the answer to HEAD: {status_line[:80]!r}")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return HttpResponse(int(parts[1]), headers, rest, elapsed)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _quick_ack(conn: http.client.HTTPConnection) -> None:
    """Acknowledge at once: a server that writes headers and body in two sends (http.server does)
    would otherwise wait on our delayed ACK (Nagle), about 40 ms per request."""
    quick_ack = getattr(socket, "TCP_QUICKACK", None)
    if conn.sock is not None and quick_ack is not None:
        with contextlib.suppress(OSError):
            conn.sock.setsockopt(socket.IPPROTO_TCP, quick_ack, 1)


def _read_until_quiet(sock: socket.socket, timeout: float, quiet: float = 0.1) -> bytes:
    """Everything the server sends until it closes, or stays silent for `quiet` s after the headers."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        headers_done = b"\r\n\r\n" in b"".join(chunks)
        sock.settimeout(quiet if headers_done else max(deadline - time.monotonic(), 0.001))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if headers_done:
                break
            raise
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
