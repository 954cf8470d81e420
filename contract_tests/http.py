"""Raw HTTP exchanges with a target, in-process (WSGI) or over the network.

Requests are bytes-exact on purpose: the suite sends broken bodies and
headers that a friendly client library would "fix".
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

HeaderValue = str | bytes
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: tuple[tuple[str, HeaderValue], ...] = ()
    body: bytes = b""
    query: str = ""

    def header(self, name: str) -> HeaderValue | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self) -> str:
        # Never let the Authorization header reach a traceback or a junit file.
        shown = {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in self.headers}
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        query = f"?{self.query}" if self.query else ""
        return f"HttpRequest({self.method} {self.path}{query} headers={shown} body={body!r})"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    elapsed: float
    _json: list[Any] = field(default_factory=list, repr=False, compare=False)

    def json(self) -> Any:
        """The parsed body; raises ValueError when it is not strict JSON."""
        if not self._json:
            self._json.append(json.loads(self.body.decode("utf-8"), parse_constant=_reject))
        return self._json[0]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _reject(token: str) -> Any:
    raise ValueError(f"non-JSON constant {token}")


class Transport(Protocol):
    def send(self, request: HttpRequest, timeout: float) -> HttpResponse: ...

    def close(self) -> None: ...


class WsgiTransport:
    """Calls a WSGI application directly: no sockets, no server."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def send(self, request: HttpRequest, timeout: float) -> HttpResponse:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(request.body)),
        }
        for name, value in request.headers:
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = text
            else:
                environ[f"HTTP_{key}"] = text
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = {k.lower(): v for k, v in headers}
            return lambda chunk: None

        started = time.perf_counter()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter() - started
        return HttpResponse(captured["status"], captured["headers"], body, elapsed)

    def close(self) -> None:
        return None


class NetworkTransport:
    """One keep-alive session for the whole run: fast against a served mock."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy variable must not reroute traffic

    def send(self, request: HttpRequest, timeout: float) -> HttpResponse:
        url = self.base_url + request.path + (f"?{request.query}" if request.query else "")
        # requests adds defaults (Accept-Encoding, User-Agent...) we leave alone,
        # but it must not invent a Content-Type the case did not ask for.
        headers: dict[str, Any] = {"Accept": "*/*"}
        headers.update(dict(request.headers))
        started = time.perf_counter()
        reply = self.session.request(
            request.method,
            url,
            data=request.body or None,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        )
        body = reply.content
        elapsed = time.perf_counter() - started
        return HttpResponse(reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, body, elapsed)

    def close(self) -> None:
        self.session.close()
