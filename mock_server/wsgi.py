"""The WSGI adapter: environ in, ``HttpRequest`` to the service, bytes out.

This is the in-process mock (``create_app()``, Werkzeug's test client, any
WSGI server); ``engagelab-mock serve`` serves through ``h1.py`` and
``dispatch.py``, whose body reads cannot be held up by a slow client. It answers every route
but the control API itself, ahead of Flask's routing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from engagelab_kit.mock_server.answer import DROPPED, answer, is_control, reason
from engagelab_kit.mock_server.service import MockService
from engagelab_kit.mock_server.wire import HttpRequest

DRAIN_LIMIT = 64 * 1024 * 1024
_DRAIN_CHUNK = 256 * 1024
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# environ key -> header name. Shared strings keep journal entries small; bounded,
# since clients choose the names.
_HEADER_NAMES: dict[str, str] = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}
_HEADER_NAMES_MAX = 512


def _header_name(key: str) -> str:
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = key[5:].replace("_", "-").lower()
        if len(_HEADER_NAMES) < _HEADER_NAMES_MAX:
            _HEADER_NAMES[key] = name
    return name


def headers_of(environ: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[_header_name(key)] = value
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[_HEADER_NAMES[key]] = environ[key]
    return headers


def _declared_length(environ: dict[str, Any]) -> int | None:
    """The body's length by Content-Length; None for a chunked body, whose length is unknown; 0 for none."""
    length = environ.get("CONTENT_LENGTH", "")
    if length.isdigit():
        return int(length)
    return None if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() else 0


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """At most ``limit + 1`` bytes: enough to tell an over-size body, never more."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    declared = _declared_length(environ)
    wanted = limit + 1 if declared is None else min(declared, limit + 1)
    return bytes(stream.read(wanted)) if wanted else b""


def drain(environ: dict[str, Any], consumed: int) -> bool:
    """Read and discard the rest of an over-size body, so that the client's next
    request on this keep-alive connection starts where it should.

    False when more than DRAIN_LIMIT bytes are left: the connection must close.
    """
    declared = _declared_length(environ)
    if declared is None:
        left = DRAIN_LIMIT + 1
    elif declared - consumed > DRAIN_LIMIT:
        return False
    else:
        left = declared - consumed
    stream = environ["wsgi.input"]
    while left > 0:
        chunk = stream.read(min(_DRAIN_CHUNK, left))
        if not chunk:
            return True
        left -= len(chunk)
    return left == 0


class ConnectionDropped(RuntimeError):
    """Raised on purpose mid-response by a drop fault."""


def _dropped(start_response: Callable[..., Any]) -> Iterator[bytes]:
    # WSGI gives no handle on the socket. Promising a body and then failing to
    # produce it makes the server abort the connection mid-response, which is
    # what a client sees when the real API drops it.
    start_response("200 OK", [*DROPPED.headers, ("Content-Length", "64")])
    raise ConnectionDropped("connection dropped by fault injection")
    yield b""  # pragma: no cover - makes this a generator


class BusinessApp:
    """WSGI middleware: the control API goes on to ``fallback`` (Flask), all else to the service."""

    def __init__(self, service: MockService, fallback: WsgiApp) -> None:
        self.service = service
        self.fallback = fallback
        self._read_limit = service.settings.max_body_bytes
        self._control = service.settings.control_enabled

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if self._control and is_control(path):
            return self.fallback(environ, start_response)
        request = HttpRequest(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=path,
            headers=headers_of(environ),
            body=read_body(environ, self._read_limit),
            query=environ.get("QUERY_STRING", ""),
        )
        reply = answer(self.service, request)
        if reply.drop:
            return _dropped(start_response)
        headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
        if len(request.body) > self._read_limit and not drain(environ, len(request.body)):
            headers.append(("Connection", "close"))
        start_response(f"{reply.status} {reason(reply.status)}", headers)
        return [reply.body]
