"""An in-process transport for ``requests``: calls to EngageLab reach the mock with no socket.

``MockTransport`` is a transport adapter (mount it on a ``Session``);
``mock_engagelab()`` patches every ``requests`` session, as ``responses``
does, so code that builds its own sessions is covered too. Both drive the
mock's WSGI app directly and share its state with a ``MockControl``, so faults,
seeding and the journal work exactly as against a served mock: a drop fault
raises ``requests.ConnectionError``, latency past the request's timeout raises
``requests.ReadTimeout``.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict

from engagelab_kit import spec
from engagelab_kit.mock_server.control_client import MockControl
from engagelab_kit.mock_server.settings import Settings

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DEFAULT_BASE_URLS: tuple[str, ...] = tuple(spec.load().base_urls.values())
# The control client reaches an in-process mock under this name; it never leaves the process.
CONTROL_URL = "http://engagelab-mock.invalid"


def _timeout_of(timeout: Any) -> float | None:
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) > 1 else timeout[0]
    return None if timeout is None else float(timeout)


class MockTransport(BaseAdapter):
    """A ``requests`` transport adapter that hands each request to a WSGI app in this process."""

    def __init__(self, app: WsgiApp | None = None, *, settings: Settings | None = None) -> None:
        super().__init__()
        if app is None:
            from engagelab_kit.mock_server.app import create_app

            app = create_app(settings)
        self.app = app
        # The kit's own app exposes its service: with no latency to wait out, no thread is needed.
        self._service = getattr(app, "extensions", {}).get("engagelab_mock")

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Mapping[str, str] | None = None) -> requests.Response:
        environ = _environ(request)
        limit = _timeout_of(timeout)
        if limit is None or not self._may_be_late():
            status, headers, body = _call(self.app, environ)
        else:
            status, headers, body = self._call_with_timeout(environ, request, limit)
        return _response(request, status, headers, body)

    def _may_be_late(self) -> bool:
        service = self._service
        return service is None or bool(service.settings.latency_ms) or service.store.has_faults()

    def _call_with_timeout(self, environ: dict[str, Any], request: requests.PreparedRequest,
                           limit: float) -> tuple[int, list[tuple[str, str]], bytes]:
        # The mock sleeps for latency faults; a worker thread lets the caller give up on time, as a
        # socket read would. The abandoned call finishes on its own and is journalled as served.
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append(_call(self.app, environ))
            except BaseException as exc:  # handed to the caller's thread below
                outcome.append(exc)

        worker = threading.Thread(target=run, name="engagelab-mock-transport", daemon=True)
        worker.start()
        worker.join(limit)
        if not outcome:
            raise requests.ReadTimeout(f"in-process mock did not answer within {limit} s", request=request)
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        answer: tuple[int, list[tuple[str, str]], bytes] = result
        return answer

    def close(self) -> None:
        return None


def _environ(request: requests.PreparedRequest) -> dict[str, Any]:
    parts = urlsplit(request.url or "")
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = b"".join(chunk if isinstance(chunk, bytes) else str(chunk).encode() for chunk in body)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method or "GET",
        "SCRIPT_NAME": "",
        # Servers decode the path before WSGI sees it; the mock's routing expects the same.
        "PATH_INFO": unquote(parts.path, "latin-1") or "/",
        "QUERY_STRING": parts.query,
        "SERVER_NAME": parts.hostname or "localhost",
        "SERVER_PORT": str(parts.port or (443 if parts.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    return environ


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [status, headers]

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    except Exception as exc:
        # A drop fault fails mid-body; on the wire the client sees the connection cut.
        raise requests.ConnectionError(f"connection dropped by the mock ({type(exc).__name__})") from None
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(started[0].split(" ", 1)[0]), started[1], body


def _response(request: requests.PreparedRequest, status: int, headers: list[tuple[str, str]],
              body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers)
    response.raw = io.BytesIO(body)
    response._content = body
    response.encoding = "utf-8"
    response.url = request.url or ""
    response.request = request
    response.reason = ""
    return response


@dataclass
class InProcessMock:
    """A mock living in this process: its transport, its control client, the base URLs it answers."""

    transport: MockTransport
    control: MockControl
    base_urls: tuple[str, ...]

    @property
    def url(self) -> str:
        return self.base_urls[0]

    def mount(self, session: requests.Session) -> requests.Session:
        """Route ``session``'s calls to the base URLs through the mock; returns the session."""
        for base in self.base_urls:
            session.mount(base.rstrip("/") + "/", self.transport)
        return session

    def session(self) -> requests.Session:
        return self.mount(requests.Session())


def in_process_mock(settings: Settings | None = None, base_urls: Sequence[str] = DEFAULT_BASE_URLS) -> InProcessMock:
    """A fresh in-process mock answering ``base_urls`` (default: EngageLab's own)."""
    transport = MockTransport(settings=settings)
    control_session = requests.Session()
    control_session.mount(CONTROL_URL + "/", transport)
    return InProcessMock(transport, MockControl(CONTROL_URL, session=control_session), tuple(base_urls))


_patch_lock = threading.Lock()


@contextmanager
def mock_engagelab(settings: Settings | None = None,
                   base_urls: Sequence[str] = DEFAULT_BASE_URLS) -> Iterator[InProcessMock]:
    """Within this block every ``requests`` call to ``base_urls`` is answered by a fresh in-process mock.

    Other URLs go out as usual. Like ``responses``, it patches ``HTTPAdapter.send``, so
    sessions created anywhere (also inside the code under test) are covered.
    """
    mock = in_process_mock(settings, base_urls)
    prefixes = tuple(base.rstrip("/") + "/" for base in mock.base_urls)
    with _patch_lock:
        original = HTTPAdapter.send

        def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
            if (request.url or "").startswith(prefixes):
                return mock.transport.send(request, *args, **kwargs)
            return original(adapter, request, *args, **kwargs)

        HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
    try:
        yield mock
    finally:
        with _patch_lock:
            HTTPAdapter.send = original  # type: ignore[method-assign]
