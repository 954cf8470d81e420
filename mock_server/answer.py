"""From a plain ``HttpRequest`` to the bytes on the wire; shared by the WSGI adapter and the served
mock's dispatcher (``dispatch.py`` on the ``h1`` layer).

Both build the request their own way, then call ``answer``: the
service decides, this module turns its decision (or a bug) into a status,
headers and a JSON body, and says when the connection must be cut.
"""

from __future__ import annotations

import logging

import orjson

from engagelab_kit.mock_server.exceptions import DropConnection
from engagelab_kit.mock_server.service import MockService, message_for
from engagelab_kit.mock_server.wire import JSON_TYPE, HttpRequest
from engagelab_kit.mock_server.wire import Answer as Answer  # the adapters import it from here

_log = logging.getLogger("engagelab_mock")

CONTROL_PREFIX = "/__mock"


# Headers never carry Content-Length here: the h1 layer writes it, the WSGI adapter adds it.
DROPPED = Answer(200, [("Content-Type", JSON_TYPE)], b"", drop=True)


def is_control(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def error_answer(status: int, code: int, detail: str, close: bool = False) -> Answer:
    """An answer the adapter gives itself (the body never arrived, or arrived broken)."""
    body = orjson.dumps({"code": code, "message": message_for(code, detail)})
    headers = [("Content-Type", JSON_TYPE)]
    if close:
        headers.append(("Connection", "close"))
    return Answer(status, headers, body)


def answer(service: MockService, request: HttpRequest) -> Answer:
    """The answer to ``request``; the same ``Answer`` object when the verdict repeats (not to be changed)."""
    try:
        return service.decide(request)[0].answer
    except DropConnection:
        return DROPPED
    except Exception:
        # A bug must still answer in the documented shape, not with the server's bare 500.
        _log.exception("unexpected error answering %s %s", request.method, request.path[:200])
        return error_answer(500, -1, "unexpected error in the mock")


def reason(status: int) -> str:
    return _REASONS.get(status, "Status")


_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Content Too Large",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable",
}
