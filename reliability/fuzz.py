"""Fuzz: every answer JSON-shaped, no 5xx but an injected -1 — through the rules function and over HTTP."""

from __future__ import annotations

import json
import random
import socket
import time
from collections import Counter
from typing import Any

from engagelab_kit import spec
from engagelab_kit.mock_server import HttpRequest, Settings
from engagelab_kit.mock_server.app import make_service
from reliability.inputs import Input, generate
from reliability.report import Row, verdict
from reliability.server import Server

_SPEC = spec.load()
_ALLOWED_CODES = (_SPEC.documented_codes | {0}) - {55104}


def problem(inp: Input, status: int, body: bytes, http: bool = True) -> str | None:
    """What is wrong with this answer, or None. (Over HTTP a HEAD answer has no body to judge.)"""
    if http and inp.method == "HEAD":
        return None if not body else "HEAD answer with a body"
    try:
        payload = json.loads(body)
    except ValueError:
        return f"status {status}, body not JSON: {body[:80]!r}"
    if not isinstance(payload, dict):
        return f"status {status}, JSON not an object"
    if inp.path.startswith("/__mock"):
        return f"control API status {status}" if status >= 500 else None
    code, message = payload.get("code"), payload.get("message")
    if type(code) is not int or code not in _ALLOWED_CODES:
        return f"status {status}, code {code!r} not documented"
    if not isinstance(message, str) or not message:
        return f"status {status}, message {message!r}"
    if set(payload) - {"code", "message", "data"}:
        return f"status {status}, extra fields {sorted(set(payload) - {'code', 'message', 'data'})}"
    if status >= 500 and not (code == -1 and inp.forced_internal):
        return f"status {status} with code {code}, not injected"
    if code == -1 and not inp.forced_internal:
        return "-1 without injection"
    return None


def fuzz_rules(count: int, seed: int) -> list[Row]:
    """``MockService.handle``, the rules as a plain function of (request, settings, state)."""
    rng = random.Random(seed)
    service = make_service(Settings(control_token="t"))
    problems: Counter[str] = Counter()
    crashes = 0
    started = time.perf_counter()
    for _ in range(count):
        inp = generate(rng)
        if inp.path.startswith("/__mock"):
            continue  # the control API is Flask's; it is fuzzed over HTTP
        path, _, query = inp.path.partition("?")
        headers = {k.lower(): v for k, v in inp.headers.items()}
        if "x-mock-force-code" in headers:
            headers["x-mock-token"] = "t"
        try:
            response = service.handle(HttpRequest(inp.method, path, headers, inp.body, query))
        except Exception as exc:
            crashes += 1
            problems[f"raised {type(exc).__name__}"] += 1
            continue
        found = problem(inp, response.status, json.dumps(response.payload).encode(), http=False)
        if found:
            problems[found] += 1
    seconds = time.perf_counter() - started
    bad = sum(problems.values())
    return [Row("fuzz: rules function", f"{count:,} inputs, {bad} unshaped, {crashes} raised",
                verdict(bad == 0), f"{count / seconds:,.0f}/s; seed {seed}" + _top(problems))]


def _top(problems: Counter[str]) -> str:
    return "".join(f"; {n}x {text}" for text, n in problems.most_common(3))


class UnannouncedClose(ConnectionError):
    """The server closed a keep-alive connection without ``Connection: close``: the next request is lost."""


class RawClient:
    """One keep-alive connection; requests written byte for byte, answers read by Content-Length."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.answered = False

    def _connect(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection((self.server.host, self.server.port), timeout=10)
            self.buffer = b""
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _read_until(self, sock: socket.socket, marker: bytes) -> int:
        while marker not in self.buffer:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed before the answer")
            self.buffer += chunk
        return self.buffer.index(marker)

    def send(self, inp: Input) -> tuple[int, dict[str, str], bytes]:
        """The answer; raises UnannouncedClose when a kept-alive connection was closed without a word."""
        reused = self.sock is not None
        try:
            return self._send(inp)
        except ConnectionError as exc:
            if reused and not self.answered:
                raise UnannouncedClose(str(exc)) from None
            raise

    def _send(self, inp: Input) -> tuple[int, dict[str, str], bytes]:
        sock = self._connect()
        self.answered = False
        try:
            sock.sendall(inp.http(f"{self.server.host}:{self.server.port}", self.server.token))
            end = self._read_until(sock, b"\r\n\r\n")
            self.answered = True
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
            status_line, *lines = head.split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
            length = 0 if inp.method == "HEAD" else int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("closed mid-body")
                self.buffer += chunk
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            if headers.get("connection", "").lower() == "close":
                self.close()
            return int(status_line.split(" ")[1]), headers, body
        except Exception:
            self.close()
            raise


def fuzz_http(count: int, seed: int, server: Server) -> list[Row]:
    rng = random.Random(seed)
    client = RawClient(server)
    problems: Counter[str] = Counter()
    bare = errors = 0
    previous = "nothing"
    started = time.perf_counter()
    for _ in range(count):
        inp = generate(rng)
        try:
            status, headers, body = client.send(inp)
        except UnannouncedClose:
            problems[f"keep-alive closed unannounced after {previous}"] += 1
            status, headers, body = client.send(inp)  # what a careful client does: retry on a new connection
        except (OSError, ValueError, IndexError) as exc:
            errors += 1
            problems[f"transport: {type(exc).__name__}: {str(exc)[:60]}"] += 1
            continue
        if not body and inp.method != "HEAD" and not headers.get("content-type", "").startswith("application/json"):
            bare += 1  # answered by the HTTP server itself, before the mock's code
        found = problem(inp, status, body)
        if found:
            problems[found] += 1
        previous = f"{inp.method} {inp.path.split('?')[0][:20]} ({len(inp.body)} B body)"
    client.close()
    seconds = time.perf_counter() - started
    bad = sum(problems.values())
    rows = [Row("fuzz: HTTP (served)", f"{count:,} requests, {bad} unshaped or failed ({bare} bare server answers)",
                verdict(bad == 0), f"{count / seconds:,.0f}/s; seed {seed}" + _top(problems))]
    health = _health(server)
    rows.append(Row("fuzz: server alive afterwards", "health answers" if health else "no answer", verdict(health)))
    return rows


def _health(server: Server) -> bool:
    client = RawClient(server)
    try:
        status, _, body = client.send(Input("GET", "/__mock/health", {}, b""))
        payload: Any = json.loads(body)
        return status == 200 and payload.get("status") == "ok"
    except (OSError, ValueError):
        return False
    finally:
        client.close()
