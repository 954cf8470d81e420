"""Heads parsed once and recognised again (``mock_server/heads.py``): the same requests as llhttp's.

The oracle is llhttp itself: every request built from a known head must be
the one a connection with nothing learnt makes of the same bytes, for the
head it learnt and for every near miss of it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagelab_kit.mock_server.answer import Answer
from engagelab_kit.mock_server.h1 import Connection, Server
from engagelab_kit.mock_server.heads import HEAD_LIMIT, KnownHeads
from engagelab_kit.mock_server.wire import HttpRequest
from tests.cases import KEY, SECRET
from tests.conftest import Served
from tests.test_h1 import AUTH, BODY, _connect, _connection, _exchange, _post, _recording, _statuses


def _seen_twice(conn: Connection, data: bytes) -> None:
    """A head is learnt the second time it comes (``KnownHeads.learn``)."""
    conn.data_received(data)
    conn.data_received(data)


class _NoParser:
    def feed_data(self, data: bytes) -> None:
        raise AssertionError("llhttp was asked")


def test_a_repeated_head_is_answered_from_what_llhttp_made_of_it() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, transport = await _connection(handler)
        _seen_twice(conn, _post())
        assert len(conn.server.heads.known()) == 1
        parser, conn.parser = conn.parser, _NoParser()  # type: ignore[assignment]
        conn.data_received(_post())
        conn.parser = parser
        assert _statuses(transport.sent) == [200, 200, 200] and not transport.closed
        assert seen[2] == seen[0] and seen[2].headers is not seen[0].headers
        assert seen[2].headers["authorization"] == AUTH and seen[2].body == BODY

    asyncio.run(scenario())


def _auth(secret: str) -> str:
    return "Basic " + base64.b64encode(f"{KEY}:{secret}".encode()).decode()


def test_each_request_carries_its_own_credentials() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, _ = await _connection(handler)
        _seen_twice(conn, _post())
        other = _auth(SECRET[::-1])  # the same length: the known head's shape
        longer = _auth(SECRET + "x")
        for auth in (other, longer, AUTH):
            conn.data_received(_post().replace(AUTH.encode(), auth.encode()))
        assert [r.headers["authorization"] for r in seen[2:]] == [other, longer, AUTH]

    asyncio.run(scenario())


def test_no_credential_is_kept() -> None:
    async def scenario() -> None:
        conn, _ = await _connection(_recording()[1])
        token = "tok-" + SECRET
        _seen_twice(conn, _post(extra=f"X-Mock-Token: {token}\r\nCookie: s={SECRET}\r\n"))
        (known,) = conn.server.heads.known()
        assert {name for name, _, _ in known.spans} == {"authorization", "x-mock-token", "cookie"}
        kept = repr(known).encode()
        for secret in (AUTH.encode(), AUTH.split()[1].encode(), token.encode(), SECRET.encode()):
            assert secret not in kept and all(secret not in piece for _, _, piece in known.pieces)
        assert list(known.headers) == ["host", "content-type", "authorization", "x-mock-token", "cookie",
                                       "content-length"]

    asyncio.run(scenario())


def test_pipelined_known_requests_are_answered_and_a_partial_one_waits_for_the_rest() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, transport = await _connection(handler)
        _seen_twice(conn, _post())
        data = _post() * 3 + _post("/second")
        conn.data_received(data[:-5])
        assert len(seen) == 5 and conn.deadline  # the fourth is under way in llhttp
        conn.data_received(data[-5:])
        assert [r.path for r in seen[2:]] == ["/v1/user/contact"] * 3 + ["/second"]
        assert _statuses(transport.sent) == [200] * 6

    asyncio.run(scenario())


def test_a_known_head_whose_body_is_still_coming_is_parsed() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, _ = await _connection(handler)
        _seen_twice(conn, _post())
        conn.data_received(_post()[:-4])
        assert len(seen) == 2
        conn.data_received(_post()[-4:])
        assert len(seen) == 3 and seen[2].body == BODY

    asyncio.run(scenario())


def test_a_known_head_that_closes_still_closes() -> None:
    async def scenario() -> None:
        data = _post(extra="Connection: close\r\n")
        server = Server(_recording()[1], 1024, 10.0)
        for _ in range(3):  # one request per connection, the connections of one worker
            conn, transport = _connect(server)
            if len(server.heads.known()) == 1:
                conn.parser = _NoParser()  # type: ignore[assignment]
            conn.data_received(data)
            assert _statuses(transport.sent) == [200] and transport.closed
        assert len(server.heads.known()) == 1

    asyncio.run(scenario())


_NOT_PLAIN = {
    "chunked": b"POST /v1/user/contact HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "expect": _post(extra="Expect: 100-continue\r\n"),
    "repeated": _post(extra="X-A: 1\r\nX-A: 2\r\n"),
    "folded": _post(extra="X-A: 1\r\n 2\r\n"),
    "control": _post("/__mock/health"),
    "leading zero": _post().replace(b"Content-Length: ", b"Content-Length: 0"),
    "unknown method": _post().replace(b"POST", b"FOO", 1),
    "long head": _post(extra=f"X-Pad: {'p' * HEAD_LIMIT}\r\n"),
    "over the limit": _post(body=b"x" * 2000),
    "no length": b"GET /v1/user/contact HTTP/1.1\r\nHost: m\r\n\r\n",
}


def test_heads_that_are_not_plain_are_left_to_llhttp() -> None:
    async def scenario() -> None:
        for name, data in _NOT_PLAIN.items():
            conn, _ = await _connection(_recording()[1])
            for _ in range(3):
                if not conn._done:
                    conn.data_received(data)
            learnt = len(conn.server.heads.known())
            assert learnt == (1 if name == "no length" else 0), name

    asyncio.run(scenario())


def test_the_known_heads_are_bounded() -> None:
    heads = KnownHeads(size=2)
    for path in ("/a", "/b", "/c"):
        data = _post(path)
        request = HttpRequest("POST", path, {"host": "mock", "content-type": "application/json",
                                             "authorization": AUTH, "content-length": str(len(BODY))}, BODY)
        raw = [(b"Host", b"mock"), (b"Content-Type", b"application/json"), (b"Authorization", AUTH.encode()),
               (b"Content-Length", str(len(BODY)).encode())]
        heads.learn(data, raw, request, True)
        heads.learn(data, raw, request, True)
    assert [known.path for known in heads.known()] == ["/b", "/c"]


# -- near misses: what a connection that learnt the head makes of them is what llhttp makes of them --


def _echo(request: HttpRequest, conn: Connection) -> Answer:
    seen = (request.method, request.path, request.query, request.headers, request.body)
    return Answer(200, [("Content-Type", "text/plain")], repr(seen).encode())


def _served(data: list[bytes], learnt: KnownHeads | None) -> bytes:
    async def scenario() -> bytes:
        conn, transport = await _connection(_echo)
        if learnt is not None:
            conn.server.heads = learnt
        for chunk in data:
            if not conn._done:
                conn.data_received(chunk)
        return re.sub(rb"Date: [^\r]*\r\n", b"", transport.sent) + (b"|closed" if transport.closed else b"")

    return asyncio.run(scenario())


def _learnt(data: bytes) -> KnownHeads:
    async def scenario() -> KnownHeads:
        conn, _ = await _connection(_echo)
        _seen_twice(conn, data)
        assert len(conn.server.heads.known()) == 1
        return conn.server.heads

    return asyncio.run(scenario())


_BASE = _post(extra="X-Mock-Token: abc\r\n")
_LEARNT: Callable[[], KnownHeads] = lambda: _learnt(_BASE)  # noqa: E731
_BYTES = st.sampled_from([b"\r", b"\n", b" ", b"\t", b":", b"\x00", b"\x7f", b"\xff", b"a", b"Z", b"0", b"%", b"?"])


@st.composite
def _near_misses(draw: st.DrawFn) -> bytes:
    data = bytearray(_BASE)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data) - 1))
        what = draw(st.sampled_from(["replace", "insert", "delete"]))
        if what == "delete":
            del data[at]
        elif what == "insert":
            data[at:at] = draw(_BYTES)
        else:
            data[at:at + 1] = draw(_BYTES)
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(_near_misses(), st.integers(1, 3), st.booleans())
def test_a_near_miss_of_a_known_head_is_what_llhttp_makes_of_it(data: bytes, copies: int, split: bool) -> None:
    stream = data * copies
    reads = [stream[: len(stream) // 2], stream[len(stream) // 2:]] if split else [stream]
    assert _served(reads, _LEARNT()) == _served(reads, None)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=len(AUTH), max_size=len(AUTH)))
def test_any_credential_bytes_in_a_known_place_are_what_llhttp_makes_of_them(value: bytes) -> None:
    data = _BASE.replace(AUTH.encode(), value)
    assert _served([data + _BASE], _LEARNT()) == _served([data + _BASE], None)


def test_a_head_that_only_shares_a_hash_must_match_byte_for_byte_around_the_credentials() -> None:
    """Heads are kept by their hash; a collision must still never give another head's request."""
    (known,) = _LEARNT().known()
    other = _auth(SECRET[::-1])
    same_shape = _BASE.replace(AUTH.encode(), other.encode())
    head = same_shape[: same_shape.index(b"\r\n\r\n") + 4]
    headers = known.headers_for(head)
    assert headers is not None and headers["authorization"] == other and headers["x-mock-token"] == "abc"
    assert known.headers_for(head.replace(b"abc", b"xyz")) == {**headers, "x-mock-token": "xyz"}
    for near in (head.replace(other.encode(), other.encode() + b"x"),  # longer: the places move
                 head.replace(b"mock", b"mocK"),  # around the credentials
                 head.replace(b"abc", b"ab")):
        assert known.headers_for(near) is None, near
    plain = _learnt(b"GET /x HTTP/1.1\r\nHost: m\r\n\r\n").known()[0]
    assert plain.headers_for(b"GET /x HTTP/1.1\r\nHost: n\r\n\r\n") is None


@pytest.mark.served
def test_a_served_known_head_is_journaled_as_a_parsed_one(served: Served) -> None:
    served.session.post(f"{served.url}/__mock/reset").raise_for_status()
    # Parsed, parsed and learnt, then known (a head is learnt the second time a worker sees it).
    raw = b"".join(_exchange(served, data, wait=0.5) for data in (_post(), _post(), _post(), _post() * 3))
    assert _statuses(raw) == [200] * 6
    entries = served.session.get(f"{served.url}/__mock/journal").json()["entries"]
    assert len(entries) == 6
    first = entries[0]["headers"]
    assert first["authorization"] == "<redacted>" and AUTH not in json.dumps(entries)
    assert all(entry["headers"] == first and entry["body"] == BODY.decode() for entry in entries)
