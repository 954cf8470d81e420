"""Which way a served request goes: answered inline, on the thread pool, or by the control API.

Every business request that needs no waiting (no latency setting, no fault
armed) is answered inline on the event loop: that is nearly all of them, and
the cheapest way. The few that sleep (latency, faults) run on a small thread
pool, so a sleeping request blocks nobody; so does the control API (Flask,
WSGI), which is loaded on its first call.

With a shared SQLite store, writes are queued and written once per loop turn
(one append to this worker's segment, ``store_segments.py``) by ``commit``,
which ``h1.Server`` runs after the turn's requests and before their answers
leave: what is acknowledged is stored.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from engagelab_kit.mock_server.answer import Answer, answer, error_answer, is_control
from engagelab_kit.mock_server.h1 import Connection, Reply
from engagelab_kit.mock_server.service import MockService
from engagelab_kit.mock_server.wire import HttpRequest

if TYPE_CHECKING:
    from engagelab_kit.mock_server.store_sqlite import SqliteStore

_log = logging.getLogger("engagelab_mock")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Dispatcher:
    """The ``h1`` handler of one worker: business routes to the service, ``/__mock`` to the control API."""

    def __init__(self, service: MockService, control: WsgiApp, threads: int = 16) -> None:
        self.service = service
        self.control = control
        self._control_on = service.settings.control_enabled
        self._always_slow = service.settings.latency_ms > 0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mock-slow")
        store = service.store
        self._batched: SqliteStore | None = store if getattr(store, "batched", False) else None  # type: ignore[assignment]
        # For h1.Server: with a batched store, answers wait for this, once per loop turn.
        self.commit: Callable[[], Answer | None] | None = self._commit if self._batched is not None else None

    def __call__(self, request: HttpRequest, conn: Connection) -> Reply:
        if self._control_on and is_control(request.path):
            environ = _environ(request, conn)
            return asyncio.get_running_loop().run_in_executor(self._pool, self._call_control, environ)
        if self._always_slow or self.service.store.has_faults():
            return asyncio.get_running_loop().run_in_executor(self._pool, answer, self.service, request)
        return answer(self.service, request)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _commit(self) -> Answer | None:
        """Write what this loop turn's requests queued (one append to this worker's segment); the
        answer to send instead of theirs if that failed."""
        assert self._batched is not None
        try:
            self._batched.flush()
        except Exception:
            _log.exception("could not commit the state")
            return error_answer(500, -1, "the mock could not store the state")
        return None

    # -- the control API ------------------------------------------------------------

    def _call_control(self, environ: dict[str, Any]) -> Answer:
        """The control API's WSGI app, called on the pool."""
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


def _environ(request: HttpRequest, conn: Connection) -> dict[str, Any]:
    server_host, server_port, client_host = conn.peer()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "SERVER_NAME": server_host or "localhost",
        "SERVER_PORT": server_port or "80",
        "SERVER_PROTOCOL": f"HTTP/{conn.http_version}",
        "REMOTE_ADDR": client_host,
        "CONTENT_LENGTH": str(len(request.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in request.headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name != "content-length":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ
