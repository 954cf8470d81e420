"""Slow, stalled and clumsy clients against the served mock: they cost the others nothing.

Each stalled or idle connection is a raw socket this test opens and closes;
the servers are started and stopped by PID (``Served``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.cases import CONTACT, EXAMPLE, JSON_HEADERS
from tests.conftest import ROOT, Served

pytestmark = pytest.mark.served

AUTH = JSON_HEADERS["Authorization"]
IDLE_KEEP_ALIVE = 100


def _address(server: Served) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _head(length_or_chunked: str) -> bytes:
    return (f"POST {CONTACT} HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
            f"Authorization: {AUTH}\r\n{length_or_chunked}\r\n\r\n").encode()


def _read_all(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _answer(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


@contextlib.contextmanager
def _stalled_uploads(server: Served, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that sent their headers and half their body, then nothing."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(_address(server), timeout=5)
            sock.sendall(_head("Content-Length: 100") + b'{"euid": 1, "contacts": ')
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


@contextlib.contextmanager
def _idle_keep_alive(server: Served, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that completed one request and stay open, saying nothing."""
    socks = []
    body = json.dumps(EXAMPLE).encode()
    try:
        for _ in range(count):
            sock = socket.create_connection(_address(server), timeout=5)
            sock.sendall(_head(f"Content-Length: {len(body)}") + body)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _timed_good_request(server: Served) -> float:
    started = time.monotonic()
    with requests.Session() as fresh:  # a new connection, as a new CI job would open
        reply = fresh.post(server.url + CONTACT, data=json.dumps(EXAMPLE), headers=JSON_HEADERS, timeout=10)
        health = fresh.get(server.url + "/__mock/health", timeout=10)
    assert reply.json() == {"code": 0, "message": "success"}
    assert health.status_code == 200
    return time.monotonic() - started


@pytest.mark.parametrize("stalled", [2, 16, 64])
def test_stalled_uploads_and_idle_connections_do_not_block_a_good_request(served: Served, stalled: int) -> None:
    with _stalled_uploads(served, stalled), _idle_keep_alive(served, IDLE_KEEP_ALIVE):
        time.sleep(0.1)  # let the server take every connection in
        elapsed = [_timed_good_request(served) for _ in range(5)]
    # Stalled uploads used to freeze the server for as long as they stayed connected.
    assert max(elapsed) < 1.0, elapsed


def test_a_body_that_stops_arriving_is_answered_after_the_timeout() -> None:
    server = Served("--body-timeout", "1")
    try:
        with _stalled_uploads(server, 3) as socks:
            started = time.monotonic()
            answers = [_read_all(sock, 5) for sock in socks]
            elapsed = time.monotonic() - started
        for raw in answers:
            status, body = _answer(raw)
            assert status == 408
            assert set(body) == {"code", "message"} and body["code"] == 55004
            assert "did not arrive within 1 s" in str(body["message"])
            assert b"connection: close" in raw.lower()
        assert 0.5 < elapsed < 4, elapsed
        assert _timed_good_request(server) < 1.0
        # The timeout is for bodies that stop: a keep-alive connection idle between requests stays usable.
        with _idle_keep_alive(server, 1) as (idle,):
            time.sleep(2)
            body = json.dumps(EXAMPLE).encode()
            idle.sendall(_head(f"Content-Length: {len(body)}") + body)
            assert idle.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        assert server.stop() == 0


def _chunked(server: Served, chunks: bytes) -> tuple[int, dict[str, object]]:
    with socket.create_connection(_address(server), timeout=5) as sock:
        sock.sendall(_head("Transfer-Encoding: chunked") + chunks)
        return _answer(_read_all(sock, 5))


def test_a_chunk_without_its_crlf_is_refused_as_framing_and_stores_nothing(served: Served) -> None:
    served.control("POST", "/reset")
    body = json.dumps({"euid": 4242, "contacts": {"email": "never"}}).encode()
    status, answer = _chunked(served, f"{len(body):x}\r\n".encode() + body + b"XX0\r\n\r\n")
    assert status == 400 and answer["code"] == 55004
    assert "framing" in str(answer["message"])
    assert served.control("GET", "/users/4242").status == 404


@pytest.mark.parametrize("size_line", [b"ZZ", b"-1", b"1x", b"fffffffffffffffffffff"])
def test_a_bad_chunk_size_is_reported_as_framing_not_json(served: Served, size_line: bytes) -> None:
    status, answer = _chunked(served, size_line + b"\r\n{}\r\n0\r\n\r\n")
    assert status == 400 and answer["code"] == 55004
    assert "framing" in str(answer["message"]) and "JSON" not in str(answer["message"])


def test_a_well_formed_chunked_body_is_accepted(served: Served) -> None:
    body = json.dumps(EXAMPLE).encode()
    half = len(body) // 2
    chunks = f"{half:x}\r\n".encode() + body[:half] + f"\r\n{len(body) - half:x}\r\n".encode() + body[half:]
    assert _chunked(served, chunks + b"\r\n0\r\n\r\n") == (200, {"code": 0, "message": "success"})


def test_half_closed_clients_get_their_answer_and_the_server_keeps_serving(served: Served) -> None:
    """A client that shuts its sending side after the request still reads the answer (Granian, which
    served the mock before, ended such connections unanswered)."""
    served.control("POST", "/reset")
    for euid in range(9000, 9010):
        body = json.dumps({"euid": euid, "contacts": {"email": "half"}}).encode()
        with socket.create_connection(_address(served), timeout=5) as sock:
            sock.sendall(_head(f"Content-Length: {len(body)}") + body)
            sock.shutdown(socket.SHUT_WR)
            raw = _read_all(sock, 2)
        assert _answer(raw) == (200, {"code": 0, "message": "success"})
        assert served.control("GET", f"/users/{euid}").status == 200
    assert _timed_good_request(served) < 1.0


def test_a_request_sleeping_on_a_latency_fault_blocks_nobody(served: Served) -> None:
    """Waiting (fault latency, --latency-ms) happens on the worker's thread pool, off the event loop."""
    served.control("POST", "/reset")
    served.control("POST", "/faults", {"latency_ms": 1500, "times": 1})
    slow: list[float] = []

    def sleeper() -> None:
        started = time.monotonic()
        with requests.Session() as own:
            own.post(served.url + CONTACT, data=json.dumps(EXAMPLE), headers=JSON_HEADERS, timeout=10)
        slow.append(time.monotonic() - started)

    thread = threading.Thread(target=sleeper)
    thread.start()
    time.sleep(0.3)  # the fault is taken; its request now sleeps
    assert _timed_good_request(served) < 1.0
    thread.join(timeout=10)
    assert slow and slow[0] >= 1.4


@pytest.mark.parametrize("value", ["0", "-1", "abc", "7200"])
def test_a_bad_body_timeout_is_refused(value: str) -> None:
    result = subprocess.run([sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--port", "0",
                             "--body-timeout", value], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert "--body-timeout" in result.stderr and "Traceback" not in result.stderr
