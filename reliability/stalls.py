"""Stalled clients: uploads that stop mid-body, idle keep-alive connections; does a good request get through?

Targets (issue 8): with 2, 16 or 64 uploads stalled mid-body and 100 idle
keep-alive connections, a good request on a new connection is answered
within 1 s; the stalled upload itself gets HTTP 408 with the JSON shape
(code 55004) once its body has been missing for the body timeout (default
10 s, ``--body-timeout``). The server checks for late bodies every quarter
of that timeout, so the answer comes between 1 and 1.25 timeouts.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path

from reliability.fuzz import RawClient
from reliability.inputs import CONTACT, Input
from reliability.report import Row, verdict
from reliability.server import AUTH, Server

GOOD_WITHIN_S = 1.0
DEFAULT_BODY_TIMEOUT_S = 10.0  # the mock's documented default (README, `--body-timeout`)
_LATE_FACTOR = 1.25  # the answer's latest time, in body timeouts: one sweep interval after the deadline
_SLACK_S = 0.5  # scheduling on a loaded 2-core machine

_GOOD = Input("POST", CONTACT, {"Content-Type": "application/json", "Authorization": AUTH},
              b'{"euid": 1, "contacts": {"email": "a@example.com"}}')


def _stall(server: Server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    sock.sendall(f"POST {CONTACT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: {AUTH}\r\n"
                 "Content-Length: 1000\r\n\r\n{\"euid\": 1,".encode())
    return sock


def _idle(server: Server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    sock.sendall(_GOOD.http("x", None))
    with contextlib.suppress(TimeoutError):  # a server already wedged: the connection still counts as idle
        sock.recv(4096)
    return sock  # kept open, nothing more sent


def _good_request(server: Server, timeout: float) -> float | None:
    """Milliseconds for a good request on a new connection, or None without an answer in ``timeout``."""
    client = RawClient(server)
    started = time.perf_counter()
    try:
        client._connect().settimeout(timeout)
        status, _, _ = client.send(_GOOD)
        return (time.perf_counter() - started) * 1000 if status == 200 else None
    except OSError:
        return None
    finally:
        client.close()


def _stalled_answer(sock: socket.socket, body_timeout: float) -> Row:
    """The stalled upload's own answer: 408, code 55004, after ``body_timeout`` and before 1.25 of it."""
    check = "stalled upload: its own answer"
    started = time.monotonic()
    latest = body_timeout * _LATE_FACTOR + _SLACK_S
    sock.settimeout(latest + 2.0)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _content_length(data):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        return Row(check, f"no answer within {latest + 2.0:g} s", verdict(False), f"body timeout {body_timeout:g} s")
    except OSError as exc:
        return Row(check, f"connection error {type(exc).__name__}", verdict(False))
    took = time.monotonic() - started
    if not data:
        return Row(check, f"closed without an answer after {took:.2f} s", verdict(False))
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode(errors="replace") if b" " in head else "?"
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        code = None
    ok = status == "408" and code == 55004 and body_timeout - 0.05 <= took <= latest
    return Row(check, f"HTTP {status}, code {code}, after {took:.2f} s", verdict(ok),
               f"body timeout {body_timeout:g} s; target: 408 with code 55004 within "
               f"{body_timeout:g}-{latest:g} s")


def _content_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return 1  # no length: wait for at least one byte of body or the close


def stalled_clients(counts: tuple[int, ...], idle: int, log_dir: Path,
                    body_timeout: float | None = None) -> list[Row]:
    """``body_timeout`` None: the default server, as ``make serve`` starts it."""
    rows = []
    args = ("--body-timeout", f"{body_timeout:g}") if body_timeout is not None else ()
    with Server(*args, log_dir=log_dir) as server:
        for count in counts:
            idlers = [_idle(server) for _ in range(idle)]
            stalled = [_stall(server) for _ in range(count)]
            time.sleep(0.3)
            took = _good_request(server, 2.0)
            figure = f"good request answered in {took:.0f} ms" if took is not None else "no answer within 2 s"
            rows.append(Row(f"stalled clients: {count} mid-upload + {idle} idle", figure,
                            verdict(took is not None and took < GOOD_WITHIN_S * 1000),
                            f"new connection; target < {GOOD_WITHIN_S * 1000:.0f} ms"))
            for sock in stalled + idlers:
                sock.close()
            recovered = _good_request(server, 5.0)
            rows.append(Row(f"stalled clients: {count} released", "answering again" if recovered is not None
                            else "still no answer after 5 s", verdict(recovered is not None)))
        lone = _stall(server)
        rows.append(_stalled_answer(lone, DEFAULT_BODY_TIMEOUT_S if body_timeout is None else body_timeout))
        lone.close()
    return rows
