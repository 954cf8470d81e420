"""The served adapter: Granian's RSGI interface, one asyncio event loop per worker.

Why RSGI and not WSGI: a WSGI thread that reads a request body blocks until
the body arrives, so a few clients stalled mid-upload held every thread and
froze the server. Here a body is awaited; a stalled upload costs one
suspended task and answers nobody's turn. Every business request that needs
no waiting (no latency setting, no fault armed) is answered inline on the
loop; the few that sleep (latency, faults) and the control API (Flask, WSGI)
run on a small thread pool.

Bodies that stop arriving are answered after ``body_timeout`` seconds of
waiting with HTTP 408 and the JSON shape (code 55004); bodies whose framing
is broken (a bad chunk size, a chunk not followed by CRLF, a connection that
ends early) with HTTP 400, code 55004 and a message that says so. Both close
the connection: the server cannot tell where the next request would start.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from granian._granian import RSGIHTTPProtocol as HTTPProtocol
from granian._granian import RSGIProtocolClosed as ProtocolClosed
from granian._granian import RSGIProtocolError as ProtocolError
from granian.rsgi import Scope

from engagelab_kit.mock_server.answer import Answer, answer, error_answer, is_control
from engagelab_kit.mock_server.service import MockService
from engagelab_kit.mock_server.wire import HttpRequest

if TYPE_CHECKING:
    from engagelab_kit.mock_server.store_sqlite import SqliteStore

_log = logging.getLogger("engagelab_mock")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DEFAULT_BODY_TIMEOUT_S = 10.0
DRAIN_LIMIT = 64 * 1024 * 1024  # bytes read and discarded past the size limit to keep a connection usable
_SWEEPS_PER_TIMEOUT = 4


class RsgiApp:
    """Business routes to the service, ``/__mock`` to the control API's WSGI app on the pool."""

    def __init__(self, service: MockService, control: WsgiApp, body_timeout: float = DEFAULT_BODY_TIMEOUT_S,
                 threads: int = 8) -> None:
        self.service = service
        self.control = control
        self.body_timeout = body_timeout
        self._limit = service.settings.max_body_bytes
        self._control_on = service.settings.control_enabled
        # Requests that must wait (latency) sleep on a thread, never on the loop.
        self._always_slow = service.settings.latency_ms > 0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mock-slow")
        # Tasks awaiting a body -> loop time by which it must have arrived. A sweep
        # every quarter timeout cancels the late ones: one dict entry per read, no
        # timer per request on the hot path.
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweeping = False
        # Group commit: a batched store's queued writes are committed once per loop turn, and the
        # requests of that turn are answered only then (what is acknowledged is stored).
        store = service.store
        self._batched: SqliteStore | None = store if getattr(store, "batched", False) else None  # type: ignore[assignment]
        self._commit: asyncio.Future[None] | None = None

    # -- the body ---------------------------------------------------------------

    def _sweep(self) -> None:
        now = time.monotonic()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        asyncio.get_running_loop().call_later(self.body_timeout / _SWEEPS_PER_TIMEOUT, self._sweep)

    async def _streamed(self, proto: HTTPProtocol, declared: str | None) -> tuple[bytes, bool]:
        """A body of unknown or over-limit size: (at most limit + 1 bytes of it, whether to close after
        the answer). The rest is read and discarded, up to DRAIN_LIMIT, to keep the connection usable."""
        if declared is not None and declared.isdigit() and int(declared) - self._limit > DRAIN_LIMIT:
            return b" " * (self._limit + 1), True  # not worth reading: answer 413 (or 401) and close
        kept: list[bytes] = []
        size = 0
        ended = False
        async for chunk in proto:
            # Granian ends a body stream with one empty chunk; when the framing breaks (bad chunk
            # size, data not followed by CRLF, connection cut) it yields an empty chunk and then
            # another one, instead of raising as a whole-body read does.
            if ended:
                raise ProtocolError("broken body framing")
            ended = not chunk
            if size <= self._limit:
                kept.append(chunk)
            size += len(chunk)
            if size > self._limit + DRAIN_LIMIT:
                return b"".join(kept)[: self._limit + 1], True
        return b"".join(kept)[: self._limit + 1], False

    def _unread(self, task: asyncio.Task[Any], exc: BaseException) -> Answer:
        """The answer to a body that did not arrive whole; re-raises a cancellation that is not ours."""
        if isinstance(exc, asyncio.CancelledError):
            if task not in self._expired:
                raise exc
            self._expired.discard(task)
            if task.uncancel():  # also cancelled from elsewhere (shutdown): let that win
                raise exc
            return error_answer(408, 55004, f"request body did not arrive within {self.body_timeout:g} s",
                                close=True)
        return error_answer(400, 55004, "request body framing is broken (chunked encoding or length)", close=True)

    # -- the request ------------------------------------------------------------

    async def __rsgi__(self, scope: Scope, proto: HTTPProtocol) -> None:
        raw_path = scope.path
        # As WSGI's PATH_INFO: percent-decoded, UTF-8 bytes as latin-1 (RFC 3986 makes the spellings equal).
        # Granian may hand over a path it already decoded: its non-ASCII characters need the same dance.
        if "%" in raw_path:
            path = unquote_to_bytes(raw_path).decode("latin-1")
        elif raw_path.isascii():
            path = raw_path
        else:
            path = raw_path.encode("utf-8", "surrogateescape").decode("latin-1")
        items = scope.headers.items()
        headers = dict(items)
        if len(headers) < len(items):
            headers = _folded(items)
        declared = headers.get("content-length")
        task = asyncio.current_task()
        assert task is not None
        if not self._sweeping:
            self._sweeping = True
            asyncio.get_running_loop().call_later(self.body_timeout / _SWEEPS_PER_TIMEOUT, self._sweep)
        self._reading[task] = time.monotonic() + self.body_timeout
        try:
            if declared is not None and declared.isdigit() and int(declared) <= self._limit:
                body, close = await proto(), False
            else:
                body, close = await self._streamed(proto, declared)
        except (asyncio.CancelledError, ProtocolError, ProtocolClosed) as exc:
            failed = self._unread(task, exc)
            proto.response_bytes(failed.status, failed.headers, failed.body)
            return
        finally:
            self._reading.pop(task, None)
        if self._control_on and is_control(path):
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self._pool, self._call_control, scope, path, headers, body)
        else:
            request = HttpRequest(scope.method, path, headers, body, scope.query_string)
            if self._always_slow or self.service.store.has_faults():
                loop = asyncio.get_running_loop()
                reply = await loop.run_in_executor(self._pool, answer, self.service, request)
            else:
                reply = answer(self.service, request)
            if self._batched is not None and self._batched.pending:
                try:
                    await self._committed()
                except Exception:
                    _log.exception("could not commit the state")
                    reply = error_answer(500, -1, "the mock could not store the state")
        if reply.drop:
            await _drop(proto, reply)
            return
        proto.response_bytes(reply.status, [*reply.headers, ("Connection", "close")] if close else reply.headers,
                             reply.body)

    def _committed(self) -> asyncio.Future[None]:
        """The next group commit: scheduled after every task woken in this loop turn has run."""
        if self._commit is None:
            loop = asyncio.get_running_loop()
            self._commit = loop.create_future()
            loop.call_soon(self._flush, self._commit)
        return self._commit

    def _flush(self, done: asyncio.Future[None]) -> None:
        self._commit = None
        assert self._batched is not None
        try:
            self._batched.flush()
        except Exception as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    def _call_control(self, scope: Scope, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """The control API's WSGI app called with an environ built from the RSGI scope."""
        environ = _environ(scope, path, headers, body)
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [status, response_headers]

        result = self.control(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            if hasattr(result, "close"):  # WSGI: the server closes what the app returned
                result.close()
        status, response_headers = started
        kept = [(k, v) for k, v in response_headers if k.lower() != "content-length"]
        return Answer(int(status.split(" ", 1)[0]), kept, data)


def _folded(items: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated header lines folded into one value, as HTTP allows and WSGI does."""
    headers: dict[str, str] = {}
    for name, value in items:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _drop(proto: HTTPProtocol, reply: Answer) -> None:
    # Promise a body and end the stream short of it: the server has to abort the
    # connection mid-response, which is what a client sees when the real API drops it.
    transport = proto.response_stream(reply.status, [*reply.headers, ("Content-Length", "64")])
    await transport.send_bytes(b'{"code":')


def _environ(scope: Scope, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    server_host, _, server_port = scope.server.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_host or "localhost",
        "SERVER_PORT": server_port or "80",
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": scope.client.rpartition(":")[0],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name != "content-length":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ
