"""The served mock's HTTP/1.1 layer (``mock_server/h1.py``): framing, order, limits, half-close.

The first part drives one ``Connection`` in process with a recording
transport (deterministic order and flow control); the second speaks raw bytes
to a served mock, as clumsy clients do.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Callable

import pytest

from engagelab_kit.mock_server.answer import Answer
from engagelab_kit.mock_server.h1 import MAX_HEAD_BYTES, MAX_HEADERS, MAX_QUEUED, Connection, Server
from engagelab_kit.mock_server.wire import HttpRequest
from tests.cases import CONTACT, EXAMPLE, JSON_HEADERS
from tests.conftest import Served
from tests.test_slow_clients import _read_all

AUTH = JSON_HEADERS["Authorization"]
BODY = json.dumps(EXAMPLE).encode()


def _post(path: str = CONTACT, body: bytes = BODY, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\nAuthorization: {AUTH}\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = b""
        self.closed = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.sent += bytes(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 5555)}.get(name, default)


def _statuses(raw: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


def _bodies(raw: bytes) -> list[bytes]:
    return [part.split(b"\r\n\r\n", 1)[1] for part in raw.split(b"HTTP/1.1 ")[1:]]


def _ok(body: bytes) -> Answer:
    return Answer(200, [("Content-Type", "application/json")], body)


def _recording() -> tuple[list[HttpRequest], Callable[[HttpRequest, Connection], Answer]]:
    """A handler that answers 200 and keeps every request it was given."""
    seen: list[HttpRequest] = []

    def handler(request: HttpRequest, conn: Connection) -> Answer:
        seen.append(request)
        return _ok(b"{}")

    return seen, handler


def _owing() -> tuple[list[asyncio.Future[Answer]], Callable[[HttpRequest, Connection], asyncio.Future[Answer]]]:
    """A handler whose answers come later: one future per request, settled by the test."""
    owed: list[asyncio.Future[Answer]] = []

    def handler(request: HttpRequest, conn: Connection) -> asyncio.Future[Answer]:
        owed.append(asyncio.get_running_loop().create_future())
        return owed[-1]

    return owed, handler


async def _connection(handler: object, timeout: float = 10.0, max_body: int = 1024) -> tuple[Connection, Recorder]:
    return _connect(Server(handler, max_body, timeout))  # type: ignore[arg-type]


def _connect(server: Server) -> tuple[Connection, Recorder]:
    """A new connection of ``server`` (inside a running loop), with a transport that records."""
    conn = server.connection()
    transport = Recorder()
    conn.connection_made(transport)
    return conn, transport


def test_answers_leave_in_request_order_when_an_earlier_one_waits() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future[Answer]] = []

        def handler(request: HttpRequest, conn: Connection) -> Answer | asyncio.Future[Answer]:
            if request.path == "/slow":
                pending.append(loop.create_future())
                return pending[-1]
            return _ok(request.path.encode())

        conn, transport = await _connection(handler)
        conn.data_received(_post("/a") + _post("/slow") + _post("/c"))
        assert _bodies(transport.sent) == [b"/a"]  # /c waits behind /slow
        pending[0].set_result(_ok(b"/slow"))
        await asyncio.sleep(0)
        assert _bodies(transport.sent) == [b"/a", b"/slow", b"/c"]
        assert not transport.closed

    asyncio.run(scenario())


def test_a_half_closed_client_still_gets_every_answer_it_is_owed() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        later: asyncio.Future[Answer] = loop.create_future()
        conn, transport = await _connection(lambda request, conn: later)
        conn.data_received(_post())
        assert conn.eof_received() is True  # keep the socket open for writing
        assert transport.sent == b"" and not transport.closed
        later.set_result(_ok(b"{}"))
        await asyncio.sleep(0)
        assert _statuses(transport.sent) == [200] and transport.closed

    asyncio.run(scenario())


def test_eof_inside_a_body_is_framing_and_inside_a_head_is_a_cut_request() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b"never"))
        conn.data_received(_post()[:-5])
        conn.eof_received()
        assert _statuses(transport.sent) == [400] and b"framing" in transport.sent and transport.closed
        conn, transport = await _connection(lambda request, conn: _ok(b"never"))
        conn.data_received(b"POST /v1/user/con")
        conn.eof_received()
        assert _statuses(transport.sent) == [400] and b"ended inside a request" in transport.sent

    asyncio.run(scenario())


def test_a_connection_with_many_answers_owed_stops_reading_until_they_leave() -> None:
    async def scenario() -> None:
        owed, handler = _owing()
        conn, transport = await _connection(handler)
        conn.data_received(_post() * MAX_QUEUED)
        assert not transport.reading
        for future in owed:
            future.set_result(_ok(b"{}"))
        await asyncio.sleep(0)
        assert transport.reading and len(_statuses(transport.sent)) == MAX_QUEUED

    asyncio.run(scenario())


def test_the_body_is_kept_to_the_limit_plus_one_byte() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, transport = await _connection(handler, max_body=10)
        conn.data_received(_post(body=b"x" * 50) + _post(body=b"y" * 10))
        assert [r.body for r in seen] == [b"x" * 11, b"y" * 10]
        assert _statuses(transport.sent) == [200, 200] and not transport.closed

    asyncio.run(scenario())


def test_the_request_as_the_rules_see_it() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, _ = await _connection(handler)
        conn.data_received(b"GET http://mock/v1/user/%63ontact?a=1&b=%20 HTTP/1.1\r\nX-Twice: 1\r\nX-TWICE: 2\r\n\r\n")
        (request,) = seen
        assert (request.method, request.path, request.query) == ("GET", "/v1/user/contact", "a=1&b=%20")
        assert request.headers["x-twice"] == "1, 2"

    asyncio.run(scenario())


# -- against a served mock ---------------------------------------------------------------------------------


def _exchange(server: Served, data: bytes, wait: float = 3.0, shut: bool = False) -> bytes:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        return _read_all(sock, wait)


def _json_error(raw: bytes, status: int) -> dict[str, object]:
    assert _statuses(raw) == [status], raw[:200]
    body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == 55004 and isinstance(body["message"], str)
    assert b"connection: close" in raw.lower()
    return body  # type: ignore[no-any-return]


ON_A_SERVED_MOCK = pytest.mark.served


@ON_A_SERVED_MOCK
def test_pipelined_requests_are_answered_in_order_across_the_control_api(served: Served) -> None:
    health = b"GET /__mock/health HTTP/1.1\r\nHost: mock\r\n\r\n"
    raw = _exchange(served, _post() + health + _post(body=b"{bad") + b"GET /nowhere HTTP/1.1\r\nHost: m\r\n\r\n",
                    wait=1.0)
    assert _statuses(raw) == [200, 200, 400, 404]
    assert json.loads(_bodies(raw)[1])["status"] == "ok"


@pytest.mark.parametrize("data, needle", [
    (b"NOT A REQUEST\r\n\r\n", "malformed HTTP request"),
    (b"POST /v1/user/contact HTTP/1.1\r\nContent-Length: abc\r\n\r\n", "malformed HTTP request"),
    (b"POST /v1/user/contact HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
     "malformed HTTP request"),
])
@ON_A_SERVED_MOCK
def test_a_malformed_request_gets_a_json_400(served: Served, data: bytes, needle: str) -> None:
    assert needle in str(_json_error(_exchange(served, data), 400)["message"])


@ON_A_SERVED_MOCK
def test_heads_too_large_get_a_json_431(served: Served) -> None:
    huge = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n"
    assert "larger than" in str(_json_error(_exchange(served, huge), 431)["message"])
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    assert "header lines" in str(_json_error(_exchange(served, many), 431)["message"])


@ON_A_SERVED_MOCK
def test_expect_100_continue_is_honoured(served: Served) -> None:
    raw = _exchange(served, _post(extra="Expect: 100-continue\r\n"), wait=1.0)
    assert raw.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") and _statuses(raw) == [100, 200]


@ON_A_SERVED_MOCK
def test_http_1_0_and_upgrade_requests_are_answered_then_closed(served: Served) -> None:
    raw = _exchange(served, _post().replace(b"HTTP/1.1\r\n", b"HTTP/1.0\r\n", 1), wait=5.0)
    assert _statuses(raw) == [200] and b"Connection: close" in raw
    upgrade = _post(extra="Connection: Upgrade\r\nUpgrade: websocket\r\n")
    raw = _exchange(served, upgrade + _post(), wait=5.0)
    assert _statuses(raw) == [200]  # answered as a plain request; nothing after it is read
    # An Upgrade header alone (no "Connection: Upgrade") asks for nothing: a plain request, kept alive.
    raw = _exchange(served, _post(extra="Upgrade: websocket\r\n") + _post(), wait=1.0)
    assert _statuses(raw) == [200, 200]


@pytest.mark.parametrize("method", [b"post", b"FOO", b"M-SEARCH", b"PROPFIND"])
@ON_A_SERVED_MOCK
def test_any_method_token_reaches_the_rules(served: Served, method: bytes) -> None:
    raw = _exchange(served, method + _post()[4:] + _post(), wait=1.0)
    assert _statuses(raw) == [405, 200]  # and the connection stays usable


@ON_A_SERVED_MOCK
def test_head_answers_carry_no_body_on_any_path(served: Served) -> None:
    for path, status in ((CONTACT, 405), ("/nowhere", 404), ("/__mock/health", 200)):
        raw = _exchange(served, f"HEAD {path} HTTP/1.1\r\nHost: m\r\n\r\n".encode() + _post(), wait=1.0)
        assert _statuses(raw) == [status, 200]
        head_end = raw.index(b"\r\n\r\n") + 4
        assert raw[head_end:].startswith(b"HTTP/1.1 200 OK\r\n")  # nothing between the two answers


@ON_A_SERVED_MOCK
def test_answers_carry_a_date_and_their_length(served: Served) -> None:
    raw = _exchange(served, _post(), wait=0.5)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\r\nDate: " in head and f"Content-Length: {len(body)}".encode() in head


@ON_A_SERVED_MOCK
def test_a_request_line_that_stalls_is_answered_408() -> None:
    server = Served("--body-timeout", "1")
    try:
        started = time.monotonic()
        raw = _exchange(server, b"POST /v1/user/contact HT", wait=5.0)
        assert "request did not arrive within 1 s" in str(_json_error(raw, 408)["message"])
        assert time.monotonic() - started < 4
    finally:
        assert server.stop() == 0
