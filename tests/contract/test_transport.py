"""The network transport against raw servers that behave in legal but awkward ways."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from deviants import DEVIANTS

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import RunConfig
from engagelab_kit.contract_tests.case import Factory
from engagelab_kit.contract_tests.http import HttpRequest, NetworkTransport
from engagelab_kit.contract_tests.oracle import Oracle
from engagelab_kit.mock_server import create_app

ANSWER = b'{"code":55004,"message":"Business parameters are invalid."}'


def _head(status: str) -> bytes:
    """Status line and headers of an answer whose body would be ANSWER."""
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(ANSWER)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n"


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Serve connections with a hand-written handler on a loopback port, one thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    handler: list[Callable[[socket.socket], None]] = []

    def loop() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                handler[0](conn)

    thread = threading.Thread(target=loop, daemon=True)

    def start(handle: Callable[[socket.socket], None]) -> str:
        handler.append(handle)
        thread.start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    stop.set()
    thread.join(5)
    listener.close()


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_an_answer_sent_before_the_body_is_read_is_still_read(raw_server: Callable[..., str]) -> None:
    def early_413(conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(_head("413 Content Too Large") + ANSWER)  # then close without reading the body

    transport = NetworkTransport(raw_server(early_413))
    response = transport.send(HttpRequest("POST", "/v1/user/contact", (), b" " * (8 << 20)), 10)
    assert response.status == 413 and response.json()["code"] == 55004


def test_bytes_after_a_head_answer_are_reported_as_its_body(raw_server: Callable[..., str]) -> None:
    def head_with_body(conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(_head("405 Method Not Allowed") + ANSWER)  # a body HEAD must not have

    response = NetworkTransport(raw_server(head_with_body)).send(HttpRequest("HEAD", "/v1/user/contact"), 5)
    assert response.status == 405 and response.body == ANSWER


def test_a_bodiless_head_answer_has_no_body(raw_server: Callable[..., str]) -> None:
    def head_ok(conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(_head("405 Method Not Allowed"))

    response = NetworkTransport(raw_server(head_ok)).send(HttpRequest("HEAD", "/v1/user/contact"), 5)
    assert response.status == 405 and response.body == b""


def test_no_status_line_is_no_http_answer(raw_server: Callable[..., str]) -> None:
    def garbage(conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(b"<html>hello</html>")

    transport = NetworkTransport(raw_server(garbage))
    with pytest.raises(OSError):
        transport.send(HttpRequest("POST", "/v1/user/contact", (), b"{}"), 5)


def test_slow_targets_trip_the_latency_breaker() -> None:
    slow = next(d for d in DEVIANTS if d.name == "latency-on-success")
    config = RunConfig(seed=3, max_examples=5, max_latency=0.05).with_defaults({})
    result = contract_tests.run(config, app=slow.build(create_app()), select=("value-*",))
    slow_notes = [o for o in result.outcomes if any("over --max-latency" in n for n in o.notes)]
    stopped = [o for o in result.outcomes if "stopped waiting" in o.reason]
    assert len(slow_notes) == 5 and stopped and not result.drifted  # slowness is a note, never drift
    assert all(o.verdict == "not checked" for o in stopped)


def test_the_unknown_key_is_per_run_and_never_a_configured_one() -> None:
    config = RunConfig(seed=11).with_defaults({})
    one = Factory(config, Oracle.load(config.profile)).unknown_key
    other = Factory(RunConfig(seed=12).with_defaults({}), Oracle.load(config.profile)).unknown_key
    assert len(one) == 24 and all(c in "0123456789abcdef" for c in one)
    assert one != other and config.credentials is not None and one != config.credentials.key


def test_shrinking_is_bounded_when_everything_drifts() -> None:
    from engagelab_kit.contract_tests.properties import SHRINK_SENDS

    everything = next(d for d in DEVIANTS if d.name == "extra-response-field")
    config = RunConfig(seed=5, max_examples=10).with_defaults({})
    result = contract_tests.run(config, app=everything.build(create_app()), select=("property/*",))
    assert len(result.drifted) == 7 and all(o.curl.startswith("curl ") for o in result.drifted)
    # The first drawn example already drifts; then at most SHRINK_SENDS new requests per property.
    assert result.session.sent <= 7 * (1 + SHRINK_SENDS)
