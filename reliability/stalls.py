"""Stalled clients: uploads that stop mid-body, idle keep-alive connections; does a good request get through?"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from reliability.fuzz import RawClient
from reliability.inputs import CONTACT, Input
from reliability.report import SEEN, Row, verdict
from reliability.server import AUTH, Server

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


def _stalled_answer(sock: socket.socket, wait: float) -> str:
    sock.settimeout(wait)
    try:
        data = sock.recv(4096)
    except TimeoutError:
        return f"no answer within {wait:g} s"
    except OSError as exc:
        return f"connection error {type(exc).__name__}"
    if not data:
        return "closed without an answer"
    return f"answered {data.split(b' ', 2)[1].decode(errors='replace')}"


def stalled_clients(counts: tuple[int, ...], idle: int, stall_wait: float, log_dir: Path) -> list[Row]:
    rows = []
    with Server(log_dir=log_dir) as server:
        for count in counts:
            idlers = [_idle(server) for _ in range(idle)]
            stalled = [_stall(server) for _ in range(count)]
            time.sleep(0.3)
            took = _good_request(server, 2.0)
            figure = f"good request answered in {took:.0f} ms" if took is not None else "no answer within 2 s"
            rows.append(Row(f"stalled clients: {count} mid-upload + {idle} idle", figure, SEEN,
                            "default server; the serving layer's target is < 1 s"))
            for sock in stalled + idlers:
                sock.close()
            recovered = _good_request(server, 5.0)
            rows.append(Row(f"stalled clients: {count} released", "answering again" if recovered is not None
                            else "still no answer after 5 s", verdict(recovered is not None)))
        lone = _stall(server)
        rows.append(Row("stalled upload: its own answer", _stalled_answer(lone, stall_wait), SEEN,
                        "a body that stops arriving should get a JSON answer after a documented timeout"))
        lone.close()
    return rows
