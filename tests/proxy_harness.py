"""Upstreams and an in-thread proxy for the validation proxy's tests (loopback only, stopped by the tests)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from engagelab_kit.mock_server.proxy_har import HarRecorder
from engagelab_kit.mock_server.proxy_judge import Judge
from engagelab_kit.mock_server.proxy_report import Ledger
from engagelab_kit.mock_server.proxy_server import ProxyServer
from engagelab_kit.mock_server.proxy_wire import Upstream

AUTH = "Basic N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ=="
SECRET = "5e987ac6d2e04d95a9d8f0d1"
DELETED = {
    "ENGAGELAB_DELETED_PROJECT_CREDENTIALS": "dead0000000000000000beef:deleted-project-secret",
    "ENGAGELAB_DELETED_DATASOURCE_CREDENTIALS": "da7a0000000000000000dead:deleted-datasource-secret",
}


class ThreadProxy:
    """The proxy on its own event loop in a thread, on a free loopback port."""

    def __init__(self, upstream: str, ca_file: str | None = None, timeout: float = 5.0, report_dir: Path | None = None,
                 har: Path | None = None, har_max_bytes: int = 1 << 20, max_latency: float = 2.0,
                 baseline: set[str] | None = None) -> None:
        up = Upstream.parse(upstream, ca_file)
        self.ledger = Ledger(up.url, baseline, "baseline.json" if baseline is not None else "")
        recorder = HarRecorder(har, har_max_bytes, up.url) if har else None
        self.drift_lines: list[str] = []
        self.proxy = ProxyServer(up, Judge(up.url, max_latency=max_latency), self.ledger, timeout, recorder,
                                 report_dir, self.drift_lines.append)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(asyncio.start_server(self.proxy.handle, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()
            server.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)
        self.url = f"http://127.0.0.1:{self.port}"

    def settle(self, exchanges: int, timeout: float = 5.0) -> dict[str, Any]:
        """The summary once `exchanges` have been recorded (recording follows the answer by a moment)."""
        deadline = time.monotonic() + timeout
        while self.ledger.exchanges < exchanges and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.ledger.summary()

    def stop(self) -> None:
        async def finish() -> None:
            for task in list(self.proxy.active):
                task.cancel()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(finish(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ThreadedWSGI(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class WsgiUpstream:
    """A WSGI app (the mock, or a deviant around it) served over HTTP, or HTTPS with `tls`."""

    def __init__(self, app: Any, tls: ssl.SSLContext | None = None) -> None:
        self.server = make_server("127.0.0.1", 0, app, server_class=_ThreadedWSGI, handler_class=_Quiet)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RawUpstream:
    """A socket server whose every connection is handled by `script(conn)`: exact bytes, early closes."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.script = script
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                self.script(conn)

    def stop(self) -> None:
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    """The request head and its Content-Length body, as the upstream received them."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def raw_exchange(url: str, request: bytes, timeout: float = 5.0) -> bytes:
    """Send exact bytes, read until the server closes (or `timeout`)."""
    host, port = url.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            chunks.append(b"<reset>")
        return b"".join(chunks)
