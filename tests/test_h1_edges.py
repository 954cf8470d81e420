"""``h1.Connection`` at its edges, in process: limits, timeouts, upgrades, drops, flow control, shutdown.

The served tests (``test_h1.py``, ``test_slow_clients.py``) show the same
behaviour end to end; these pin each branch down without a socket.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from engagelab_kit.mock_server import h1
from engagelab_kit.mock_server.answer import DROPPED, Answer
from engagelab_kit.mock_server.h1 import MAX_HEAD_BYTES, MAX_HEADERS
from tests.test_h1 import _bodies, _connect, _connection, _ok, _owing, _post, _recording, _statuses


def _message(raw: bytes) -> str:
    return str(json.loads(raw.rsplit(b"\r\n\r\n", 1)[1])["message"])


def test_a_request_under_way_past_its_deadline_is_answered_408_by_the_sweep() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b"{}"), timeout=0.05)
        conn.data_received(_post()[:-3])  # the head and most of the body
        idle, idle_transport = await _connection(lambda request, conn: _ok(b"{}"), timeout=0.05)
        idle.data_received(_post())  # answered: nothing under way any more
        conn.server.live.add(idle)
        await asyncio.sleep(0.12)  # two sweeps
        assert _statuses(transport.sent) == [408] and transport.closed
        assert "request body did not arrive within 0.05 s" in _message(transport.sent)
        assert _statuses(idle_transport.sent) == [200] and not idle_transport.closed

    asyncio.run(scenario())


def test_a_head_that_stalls_is_named_as_the_request() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b"{}"))
        conn.data_received(b"POST /v1/user/contact HTTP/1.1\r\nHost: m\r\n")
        conn.deadline = time.monotonic() - 1
        conn.timed_out()
        assert "request did not arrive within 10 s" in _message(transport.sent)

    asyncio.run(scenario())


def test_a_head_growing_over_several_reads_is_cut_at_the_limit() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b"{}"))
        conn.data_received(b"GET / HTTP/1.1\r\n")
        chunk = b"X-Filler: " + b"a" * 4000 + b"\r\n"
        for _ in range(MAX_HEAD_BYTES // len(chunk) + 2):
            conn.data_received(chunk)
        assert _statuses(transport.sent) == [431] and transport.closed
        conn.data_received(b"\r\n")  # nothing more is read
        assert _statuses(transport.sent) == [431]

    asyncio.run(scenario())


def test_too_many_header_lines_in_one_read_are_refused() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b"{}"))
        lines = b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS + 1))
        conn.data_received(b"GET / HTTP/1.1\r\n" + lines + b"\r\n")
        assert _statuses(transport.sent) == [431] and "header lines" in _message(transport.sent)

    asyncio.run(scenario())


def test_a_declared_length_far_over_the_limit_is_answered_without_reading_it() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, transport = await _connection(handler, max_body=10)
        huge = 10 + h1.DRAIN_LIMIT + 1
        conn.data_received(f"POST /x HTTP/1.1\r\nContent-Length: {huge}\r\n\r\n".encode())
        assert [len(r.body) for r in seen] == [11]
        assert _statuses(transport.sent) == [200] and b"Connection: close" in transport.sent and transport.closed

    asyncio.run(scenario())


def test_a_body_past_the_drain_limit_is_answered_and_the_connection_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h1, "DRAIN_LIMIT", 32)

    async def scenario() -> None:
        seen, handler = _recording()
        conn, transport = await _connection(handler, max_body=10)
        conn.data_received(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        conn.data_received(b"40\r\n" + b"z" * 64 + b"\r\n")
        assert [r.body for r in seen] == [b"z" * 11] and transport.closed

    asyncio.run(scenario())


def test_an_upgrade_request_is_answered_with_its_body_then_closed() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, transport = await _connection(handler)
        conn.data_received(_post(extra="Connection: Upgrade\r\nUpgrade: websocket\r\n", body=b"{}") + _post())
        assert [r.body for r in seen] == [b"{}"]
        assert _statuses(transport.sent) == [200] and transport.closed

    asyncio.run(scenario())


def test_expect_100_continue_is_answered_before_the_body() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b"{}"))
        head, _, body = _post(extra="Expect: 100-continue\r\n").partition(b"\r\n\r\n")
        conn.data_received(head + b"\r\n\r\n")
        assert transport.sent == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.data_received(body)
        assert _statuses(transport.sent) == [100, 200]

    asyncio.run(scenario())


def test_an_unknown_method_is_named_as_sent_and_a_bad_request_line_is_refused() -> None:
    async def scenario() -> None:
        seen, handler = _recording()
        conn, transport = await _connection(handler)
        conn.data_received(b"frob /v1/user/contact HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        conn.data_received(b"\x01bad /x HTTP/1.1\r\n\r\n")
        assert [r.method for r in seen] == ["frob"]
        assert _statuses(transport.sent) == [200, 400] and "malformed HTTP request" in _message(transport.sent)

    asyncio.run(scenario())


def test_a_drop_promises_a_body_and_cuts_the_connection() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: DROPPED)
        conn.data_received(_post() + _post())
        assert transport.sent.endswith(b'Content-Length: 64\r\n\r\n{"code":') and transport.closed
        assert _statuses(transport.sent) == [200]

    asyncio.run(scenario())


def test_answers_to_head_and_to_http_1_0_follow_http() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b'{"long":"body"}'))
        conn.data_received(b"HEAD /x HTTP/1.1\r\nHost: m\r\n\r\n")
        assert transport.sent.endswith(b"\r\n\r\n") and b"Content-Length: 15" in transport.sent
        conn.data_received(b"GET /x HTTP/1.0\r\n\r\n")
        assert transport.sent.endswith(b'Connection: close\r\n\r\n{"long":"body"}') and transport.closed

    asyncio.run(scenario())


def test_a_failed_or_cancelled_answer_is_a_json_500_and_closes() -> None:
    async def scenario() -> None:
        futures, handler = _owing()
        for settle, needle in ((lambda f: f.set_exception(RuntimeError("x")), "unexpected error"),
                               (lambda f: f.cancel(), "stopped before answering")):
            conn, transport = await _connection(handler)
            conn.data_received(_post())
            settle(futures[-1])
            await asyncio.sleep(0)
            assert _statuses(transport.sent) == [500] and needle in _message(transport.sent) and transport.closed

    asyncio.run(scenario())


def test_a_client_that_stops_reading_stops_being_read() -> None:
    async def scenario() -> None:
        conn, transport = await _connection(lambda request, conn: _ok(b"{}"))
        conn.pause_writing()
        assert not transport.reading
        conn.resume_writing()
        assert transport.reading

    asyncio.run(scenario())


def test_shutdown_closes_idle_connections_and_lets_owed_answers_leave() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        later: asyncio.Future[Answer] = loop.create_future()
        idle, idle_transport = await _connection(lambda request, conn: _ok(b"{}"))
        busy, busy_transport = await _connection(lambda request, conn: later)
        busy.data_received(_post())
        for conn in (idle, busy):
            conn.close_when_idle()
        assert idle_transport.closed and not busy_transport.closed
        later.set_result(_ok(b"{}"))
        await asyncio.sleep(0)
        assert _statuses(busy_transport.sent) == [200] and busy_transport.closed
        busy.connection_lost(None)
        assert busy not in busy.server.live

    asyncio.run(scenario())


def test_the_control_api_learns_where_the_request_came_from() -> None:
    async def scenario() -> None:
        conn, _ = await _connection(lambda request, conn: _ok(b"{}"))
        assert conn.peer() == ("127.0.0.1", "8080", "127.0.0.1")
        conn.data_received(b"GET /__mock/health HTTP/1.0\r\n\r\n")
        assert conn.http_version == "1.0"

    asyncio.run(scenario())


def test_an_answer_sent_again_within_the_second_is_the_same_bytes_and_a_new_second_renews_them() -> None:
    async def scenario() -> None:
        answer = _ok(b'{"code":0}')
        conn, transport = await _connection(lambda request, conn: answer)
        conn.data_received(_post() * 2)
        first, second = transport.sent.split(b"HTTP/1.1 ")[1:]
        assert first == second and conn.server.wire == {answer: b"HTTP/1.1 " + first}
        conn.server.date = b"Thu, 01 Jan 2099 00:00:00 GMT"  # what _tick makes of a new second
        conn.server.wire.clear()
        conn.data_received(_post(extra="Connection: close\r\n"))
        assert b"Date: Thu, 01 Jan 2099" in transport.sent.split(b"HTTP/1.1 ")[3] and transport.closed
        assert len(conn.server.wire) == 0  # an answer that closes is not kept: the next may keep alive

    asyncio.run(scenario())


def test_the_date_is_renewed_each_second_and_the_kept_answers_with_it() -> None:
    async def scenario() -> None:
        conn, _ = await _connection(lambda request, conn: _ok(b"{}"))
        conn.data_received(_post())
        before = conn.server.date
        assert conn.server.wire
        await asyncio.sleep(1.05)
        assert conn.server.date != before and not conn.server.wire

    asyncio.run(scenario())


def _committing(failed: Answer | None = None) -> tuple[list[int], h1.Server]:
    """A server in group-commit mode whose commit records how many answers it saw held."""
    commits: list[int] = []
    server = h1.Server(lambda request, conn: _ok(request.path.encode()), 1024, 10.0)

    def commit() -> Answer | None:
        commits.append(sum(1 for c in server.live for slot in c._queue if slot.held))
        return failed

    server.commit = commit
    return commits, server


def test_in_group_commit_answers_leave_only_after_the_turns_commit() -> None:
    async def scenario() -> None:
        commits, server = _committing()
        conn, transport = _connect(server)
        conn.data_received(_post("/a") + _post("/b"))
        conn.data_received(b"GET /bad\x01 HTTP/1.1\r\n\r\n")  # refused by the protocol: after them, not before
        assert transport.sent == b"" and commits == []
        await asyncio.sleep(0)
        assert commits == [2]
        assert _statuses(transport.sent) == [200, 200, 400] and _bodies(transport.sent)[:2] == [b"/a", b"/b"]

    asyncio.run(scenario())


def test_a_failed_commit_answers_every_held_request_with_the_failure() -> None:
    async def scenario() -> None:
        failed = Answer(500, [("Content-Type", "application/json")], b'{"code":-1}')
        commits, server = _committing(failed)
        conn, transport = _connect(server)
        conn.data_received(_post("/a") * 2)
        await asyncio.sleep(0)
        assert commits == [2] and _statuses(transport.sent) == [500, 500]

    asyncio.run(scenario())


def test_an_answer_settled_later_waits_for_the_next_commit() -> None:
    async def scenario() -> None:
        commits, server = _committing()
        owed, handler = _owing()
        server.handler = handler
        conn, transport = _connect(server)
        conn.data_received(_post())
        await asyncio.sleep(0)
        assert commits == [] and transport.sent == b""
        owed[0].set_result(_ok(b"late"))
        await asyncio.sleep(0)  # the future's callback
        assert transport.sent == b""
        await asyncio.sleep(0)  # the commit
        assert commits == [1] and _bodies(transport.sent) == [b"late"]

    asyncio.run(scenario())
