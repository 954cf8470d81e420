"""HTTP/1.1 for the served mock: llhttp (through httptools) parses, this protocol frames the answers.

Why by hand and not a server library: on the project's 2-core machine a trivial
app answered 36k req/s under Granian's RSGI interface, 25k under uvicorn, and
89k as a uvloop protocol on httptools with no interface layer in between
(``bench/RESULTS.md``). The mock's own work per request is a few microseconds,
so the layer around it decided its speed.

What the protocol owns, and why each is here:
- order: answers leave in the order their requests came (pipelining), even
  when one of them waits on the thread pool;
- time: a request that has begun must arrive whole within ``body_timeout``,
  or it is answered 408 / 55004 and the connection closed; a connection idle
  between requests costs nothing and is never timed out;
- size: a body is kept up to the limit plus one byte (the rules answer 413),
  the rest drained up to ``DRAIN_LIMIT`` to keep the connection usable;
- bad input: broken framing, a malformed request line, headers too large,
  all answered in the documented JSON shape, never a bare status;
- half-close: a client that shuts its sending side still gets its answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

import httptools

from engagelab_kit.mock_server.answer import Answer, error_answer, is_control, reason
from engagelab_kit.mock_server.heads import KnownHeads
from engagelab_kit.mock_server.wire import HttpRequest

DRAIN_LIMIT = 64 * 1024 * 1024  # bytes read and discarded past the size limit to keep a connection usable
MAX_HEAD_BYTES = 64 * 1024  # request line and headers
MAX_HEADERS = 100
MAX_QUEUED = 64  # answers waiting on one connection before it stops reading
_SWEEPS_PER_TIMEOUT = 4
_FRAMING = "request body framing is broken (chunked encoding or length)"

Reply = Answer | asyncio.Future[Answer]


Handler = Callable[[HttpRequest, "Connection"], Reply]


class _Stop(Exception):
    """Raised in a parser callback: parse nothing more on this connection (its last answer is queued)."""


class _Slot:
    __slots__ = ("answer", "head", "held", "keep_alive")

    def __init__(self, answer: Answer | None, keep_alive: bool, head: bool = False) -> None:
        self.answer = answer
        self.keep_alive = keep_alive
        self.head = head  # an answer to HEAD: its headers only
        self.held = False  # answered, but not to leave before the next commit


class Server:
    """What every connection of one worker shares: the handler, the limits, the clock for timeouts."""

    def __init__(self, handler: Handler, max_body: int, body_timeout: float,
                 commit: Callable[[], Answer | None] | None = None) -> None:
        self.handler = handler
        # Group commit: when set, answers are held until it has run, once per loop turn after the
        # turn's requests; it returns None, or the answer to send instead of every held one.
        self.commit = commit
        self._held: list[Connection] = []
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.live: set[Connection] = set()
        self.heads = KnownHeads()
        # Answer (by identity) -> its bytes on a keep-alive connection, this second; emptied by _tick.
        self.wire: dict[Answer, bytes] = {}
        self.date = b""  # the Date header's value, renewed every second by _tick
        self._sweeping = False

    def connection(self) -> Connection:
        if not self._sweeping:
            # Started by the first connection, inside the running loop.
            self._sweeping = True
            asyncio.get_running_loop().call_later(self.body_timeout / _SWEEPS_PER_TIMEOUT, self._sweep)
            self._tick()
        return Connection(self)

    def hold(self, conn: Connection) -> None:
        if not self._held:
            asyncio.get_running_loop().call_soon(self._release)
        self._held.append(conn)

    def _release(self) -> None:
        held, self._held = self._held, []
        assert self.commit is not None
        failed = self.commit()
        for conn in held:
            conn.release(failed)

    def _tick(self) -> None:
        # A timer at each second's turn: an answer reads an attribute instead of the clock.
        now = time.time()
        self.date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode("ascii")
        self.wire.clear()
        asyncio.get_running_loop().call_later(1.0 - now % 1.0, self._tick)

    def _sweep(self) -> None:
        # One pass every quarter timeout: no timer per request on the hot path.
        now = time.monotonic()
        for conn in [c for c in self.live if c.deadline and c.deadline <= now]:
            conn.timed_out()
        asyncio.get_running_loop().call_later(self.body_timeout / _SWEEPS_PER_TIMEOUT, self._sweep)

    def close_idle(self) -> None:
        """On shutdown: close every connection that owes no answer."""
        for conn in list(self.live):
            conn.close_when_idle()


class Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.http_version = "1.1"  # of the request last read, as the control API's environ reports it
        self.transport: asyncio.Transport | None = None
        self.deadline = 0.0  # monotonic time by which the request under way must have arrived; 0: none
        self._queue: deque[_Slot] = deque()
        self._done = False  # no more requests are read on this connection
        self._close_when_drained = False
        self._read_paused = False
        self._write_paused = False
        # One list each for the whole connection, cleared per request; the target's parts go
        # straight into its list (the parser calls the bound append, no Python frame in between).
        self._target: list[bytes] = []
        self.on_url = self._target.append
        self._header_items: list[tuple[bytes, bytes]] = []
        self._headers: dict[str, str] | None = None
        self._head_bytes = 0  # bytes received while the request's head was under way
        self._read_size = 0
        self._method: str | None = None  # a method llhttp does not know, as the client sent it
        self._body: list[bytes] = []
        self._size = 0
        self._fresh: bytes | None = None  # this read, when it began at a message boundary
        self._holding = False  # answers held for the server's next commit
        self.parser = httptools.HttpRequestParser(self)

    # -- asyncio -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.live.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.live.discard(self)
        self._done = True
        self.deadline = 0.0
        self._queue.clear()

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._fresh = None
        if not self.deadline:  # at a message boundary
            rest = self._known(data)
            if not rest:
                return
            # Only a read's first request may name a method llhttp does not know (the documented
            # limit), whether or not known heads came before it: as if llhttp had read them.
            if rest is data and data[:5] != b"POST ":
                rest = self._any_method(data)
            data = self._fresh = rest
        self._read_size = len(data)
        if self._headers is None and self.deadline:
            # A head already under way when this read came: counted per read, not per header line,
            # so a head that never ends is cut off here.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(error_answer(431, 55004, f"request head larger than {MAX_HEAD_BYTES} bytes", close=True))
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            # httptools re-raises what a callback raised wrapped, the original as its context.
            if not isinstance(exc.__context__, _Stop):
                raise
        except httptools.HttpParserUpgrade as exc:
            # Nothing is upgraded here: what was asked is answered, then the connection closes. llhttp
            # stops at the end of the head; the body, if any, is what follows in this read.
            if self._headers is not None:
                declared = self._headers.get("content-length", "")
                rest = data[exc.args[0]:] if exc.args and isinstance(exc.args[0], int) else b""
                self._finish(self._request(rest[: int(declared)] if declared.isdigit() else b""), keep_alive=False)
            self._stop()
        except httptools.HttpParserError as exc:
            detail = _FRAMING if self._headers is not None else f"malformed HTTP request: {exc}"[:200]
            self._refuse(error_answer(400, 55004, detail, close=True))

    def _known(self, data: bytes) -> bytes:
        """Answers every whole request at the start of ``data`` whose head is known; what is left."""
        heads = self.server.heads
        start = 0
        while (found := heads.request(data, start)) is not None:
            request, keep_alive, start = found
            self._finish(request, keep_alive)
            if self._done or start == len(data):
                return b""
        return data[start:] if start else data

    def _any_method(self, data: bytes) -> bytes:
        """A read that starts a request: a method llhttp does not know (``post``, ``FOO``) is any other
        HTTP token to this API, answered 405; it is parsed as PUT and named as sent."""
        space = data.find(b" ", 0, 33)
        token = data[:space]
        if space <= 0 or token in _LLHTTP_METHODS or not _TOKEN.fullmatch(token):
            return data
        self._method = token.decode("ascii")
        return b"PUT" + data[space:]

    def eof_received(self) -> bool:
        # The client shut its sending side: a request under way will never end; answers owed are still sent.
        if self.deadline:
            detail = _FRAMING if self._headers is not None else "the connection ended inside a request"
            self._refuse(error_answer(400, 55004, detail, close=True))
        self._done = True
        if self._queue:
            self._close_when_drained = True
            return True
        return False

    def pause_writing(self) -> None:
        self._write_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._maybe_resume_reading()

    # -- llhttp callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._done:
            raise _Stop
        self.deadline = time.monotonic() + self.server.body_timeout

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_items.append((name, value))

    def on_headers_complete(self) -> None:
        raw = self._header_items
        if len(raw) > MAX_HEADERS:
            self._refuse(error_answer(431, 55004, f"more than {MAX_HEADERS} request header lines", close=True))
            raise _Stop
        # Only a large read or a head over several reads can be too large: the exact count then.
        big = self._head_bytes or self._read_size > MAX_HEAD_BYTES // 2
        if big and _head_size(self._target, raw) > MAX_HEAD_BYTES:
            self._refuse(error_answer(431, 55004, f"request head larger than {MAX_HEAD_BYTES} bytes", close=True))
            raise _Stop
        headers = {_name(n): v.decode("latin-1") for n, v in raw}
        if len(headers) < len(raw):
            headers = _folded([(_name(n), v.decode("latin-1")) for n, v in raw])
        self._headers = headers
        declared = headers.get("content-length")
        limit = self.server.max_body
        if declared is not None and declared.isdigit() and int(declared) - limit > DRAIN_LIMIT:
            # Not worth reading: the rules answer 413 (or 401) to a body of limit + 1 bytes, and we close.
            self._finish(self._request(b" " * (limit + 1)), keep_alive=False)
            raise _Stop
        if headers.get("expect", "").lower() == "100-continue" and not self._queue and self.transport:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        limit = self.server.max_body
        if self._size <= limit:
            self._body.append(chunk)
        self._size += len(chunk)
        if self._size > limit and self._size > limit + DRAIN_LIMIT:
            self._finish(self._request(b"".join(self._body)[: limit + 1]), keep_alive=False)
            raise _Stop

    def on_message_complete(self) -> None:
        if "upgrade" in self._headers and self.parser.should_upgrade():  # type: ignore[operator]
            return  # llhttp ends the message at the head and raises HttpParserUpgrade: answered there
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        if len(body) > self.server.max_body:
            body = body[: self.server.max_body + 1]
        fresh, self._fresh = self._fresh, None
        raw, named = self._header_items, self._method is None
        request = self._request(body)
        keep_alive = self.parser.should_keep_alive()
        # The first request of a read that began at a boundary: its head is the read's first bytes.
        # (A body cut at the limit is not its declared length: heads.learn keeps no such head.)
        if fresh is not None and named and not is_control(request.path):
            self.server.heads.learn(fresh, raw, request, keep_alive)
        self._finish(request, keep_alive)

    # -- answering ---------------------------------------------------------------------

    def _request(self, body: bytes) -> HttpRequest:
        self.deadline = 0.0
        target = self._target[0] if len(self._target) == 1 else b"".join(self._target)
        raw_path, _, query = target.partition(b"?")
        if raw_path[:1] != b"/" and raw_path != b"*":
            # Absolute form (http://host/path): the path is what names the resource.
            with contextlib.suppress(httptools.HttpParserInvalidURLError):
                raw_path = httptools.parse_url(target).path or b"/"
        # As WSGI's PATH_INFO: percent-decoded, UTF-8 bytes as latin-1 (RFC 3986 makes the spellings equal).
        path = (unquote_to_bytes(raw_path) if b"%" in raw_path else raw_path).decode("latin-1")
        if self._method is not None:
            method, self._method = self._method, None
        else:
            raw_method = self.parser.get_method()
            method = _METHODS.get(raw_method) or raw_method.decode("ascii", "replace")
        self.http_version = self.parser.get_http_version() if is_control(path) else "1.1"
        request = HttpRequest(method, path, self._headers or {}, body, query.decode("latin-1"))
        self._target.clear()
        self._header_items = []  # the last one may be in use still (heads.learn)
        self._headers = None
        self._head_bytes = 0
        self._body = []
        self._size = 0
        return request

    def _finish(self, request: HttpRequest, keep_alive: bool) -> None:
        reply = self.server.handler(request, self)
        head = request.method == "HEAD"
        if type(reply) is Answer and not self._queue and self.server.commit is None:
            self._write(reply, keep_alive, head)  # the fast path: nothing owed before it
            return
        slot = _Slot(None, keep_alive, head)
        self._queue.append(slot)
        if len(self._queue) >= MAX_QUEUED:
            self._pause_reading()
        if isinstance(reply, Answer):
            self._answered(slot, reply)
            if slot.held:
                return  # leaves with the commit (Server.hold)
        else:
            reply.add_done_callback(lambda done: self._settled(slot, done))
        self._flush()

    def _settled(self, slot: _Slot, done: asyncio.Future[Answer]) -> None:
        if done.cancelled():
            self._answered(slot, error_answer(500, -1, "the mock stopped before answering", close=True))
        elif done.exception() is not None:
            self._answered(slot, error_answer(500, -1, "unexpected error in the mock", close=True))
        else:
            self._answered(slot, done.result())
        self._flush()

    def _answered(self, slot: _Slot, answer: Answer) -> None:
        slot.answer = answer
        if self.server.commit is not None:
            slot.held = True
            if not self._holding:
                self._holding = True
                self.server.hold(self)

    def release(self, failed: Answer | None) -> None:
        """The server's commit has run: held answers leave (``failed`` instead, if it failed)."""
        self._holding = False
        for slot in self._queue:
            if slot.held:
                slot.held = False
                if failed is not None:
                    slot.answer = failed
        self._flush()

    def _refuse(self, answer: Answer) -> None:
        """An answer the protocol gives itself; it is the last on this connection."""
        self.deadline = 0.0
        if not self._done:
            self._queue.append(_Slot(answer, keep_alive=False))
            self._stop()
            self._flush()

    def _flush(self) -> None:
        queue = self._queue
        while queue and queue[0].answer is not None and not queue[0].held:
            slot = queue.popleft()
            assert slot.answer is not None
            self._write(slot.answer, slot.keep_alive, slot.head)
        if self._close_when_drained and not queue and self.transport:
            self.transport.close()
        self._maybe_resume_reading()

    def _write(self, answer: Answer, keep_alive: bool, headers_only: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if keep_alive and not headers_only:
            # The same answer again within the second: the same bytes (memoized verdicts share one Answer).
            data = self.server.wire.get(answer)
            if data is not None:
                transport.write(data)
                return
        key = (answer.status, *answer.headers)
        head = _HEADS.get(key)
        if head is None:
            head = _head(key)
        lines, wants_close = head
        if answer.drop:
            # Promise a body and end the stream short of it: what a client sees when the real API drops it.
            transport.write(lines + b'Content-Length: 64\r\n\r\n{"code":')
            self._stop()
            transport.close()
            return
        close = wants_close or not keep_alive
        body = answer.body
        ending = b"Connection: close\r\n\r\n" if close else b"\r\n"
        data = b"%sContent-Length: %d\r\nDate: %s\r\n%s%s" % (
            lines, len(body), self.server.date, ending, b"" if headers_only else body)
        transport.write(data)
        if not close and not headers_only and len(self.server.wire) < _CACHE_MAX:
            self.server.wire[answer] = data
        if close:
            self._stop()
            self._queue.clear()
            transport.close()

    # -- flow ----------------------------------------------------------------------------

    def _stop(self) -> None:
        self._done = True
        self.deadline = 0.0

    def timed_out(self) -> None:
        timeout = f"{self.server.body_timeout:g}"
        what = "request body" if self._headers is not None else "request"
        self._refuse(error_answer(408, 55004, f"{what} did not arrive within {timeout} s", close=True))

    def close_when_idle(self) -> None:
        self._done = True
        if self.transport and not self._queue:
            self.transport.close()
        else:
            self._close_when_drained = True

    def _pause_reading(self) -> None:
        if not self._read_paused and self.transport and not self.transport.is_closing():
            self._read_paused = True
            self.transport.pause_reading()

    def _maybe_resume_reading(self) -> None:
        if self._read_paused and not self._write_paused and len(self._queue) < MAX_QUEUED // 2 and self.transport:
            self._read_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()

    def peer(self) -> tuple[str, str, str]:
        """(server host, server port, client host), for the control API's WSGI environ."""
        assert self.transport is not None
        local = self.transport.get_extra_info("sockname") or ("localhost", 80)
        remote = self.transport.get_extra_info("peername") or ("", 0)
        return str(local[0]), str(local[1]), str(remote[0])


_LLHTTP_METHODS = frozenset(
    m.encode() for m in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"))
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110's tchar
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT")}
_NAMES: dict[bytes, str] = {}  # raw header name -> lower-case str; names repeat from request to request
_HEADS: dict[tuple[object, ...], tuple[bytes, bool]] = {}  # (status, *headers) -> (status line and headers, close)
_CACHE_MAX = 256


def _name(raw: bytes) -> str:
    name = _NAMES.get(raw)
    if name is None:
        name = raw.decode("latin-1").lower()
        if len(_NAMES) < 4 * _CACHE_MAX:
            _NAMES[raw] = name
    return name


def _head(key: tuple[object, ...]) -> tuple[bytes, bool]:
    status = int(key[0])  # type: ignore[call-overload]
    headers: tuple[tuple[str, str], ...] = key[1:]  # type: ignore[assignment]
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason(status).encode("ascii"))]
    close = False
    for name, value in headers:
        if name.lower() == "connection" and value.lower() == "close":
            close = True
        else:
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    head = (b"".join(lines), close)
    if len(_HEADS) < _CACHE_MAX:
        _HEADS[key] = head
    return head


def _head_size(target: list[bytes], headers: list[tuple[bytes, bytes]]) -> int:
    return sum(map(len, target)) + sum(len(name) + len(value) for name, value in headers)


def _folded(items: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated header lines folded into one value, as HTTP allows and WSGI does."""
    headers: dict[str, str] = {}
    for name, value in items:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
