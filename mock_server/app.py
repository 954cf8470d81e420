"""Building the mock: the service, then the WSGI app around it.

The business routes are answered by a lean adapter (``wsgi.BusinessApp`` in
process, ``dispatch.Dispatcher`` when served); Flask carries the control API. A served worker loads Flask only when the
control API is first called, which keeps start-up fast and memory low.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from engagelab_kit.mock_server.service import MockService
from engagelab_kit.mock_server.settings import Settings
from engagelab_kit.mock_server.store import Store
from engagelab_kit.mock_server.store_memory import MemoryStore
from engagelab_kit.mock_server.wsgi import BusinessApp, WsgiApp

if TYPE_CHECKING:
    from flask import Flask

    from engagelab_kit.mock_server.dispatch import Dispatcher


def make_store(settings: Settings, batched: bool = False) -> Store:
    """``batched``: SQLite writes are queued for the caller to write once per loop turn (``dispatch.Dispatcher``)."""
    if settings.state_file:
        # Imported only when used: a worker with in-memory state never loads SQLite.
        from engagelab_kit.mock_server.store_sqlite import SqliteStore

        return SqliteStore(settings.state_file, settings.journal_size, settings.known_euids, batched)
    return MemoryStore(settings.journal_size, settings.known_euids, settings.journal_max_bytes,
                       settings.max_state_bytes)


def make_service(settings: Settings | None = None, store: Store | None = None) -> MockService:
    settings = settings or Settings()
    return MockService(settings, store or make_store(settings))


def create_app(settings: Settings | None = None, store: Store | None = None) -> Flask:
    """The mock as a Flask app. ``app.extensions["engagelab_mock"]`` is its ``MockService``."""
    from engagelab_kit.mock_server.control import control_app

    service = make_service(settings, store)
    app = control_app(service)
    app.wsgi_app = BusinessApp(service, app.wsgi_app)  # type: ignore[method-assign]
    return app


class _LazyControl:
    """The control API's Flask app, built on its first request."""

    def __init__(self, service: MockService) -> None:
        self._service = service
        self._app: WsgiApp | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from engagelab_kit.mock_server.control import control_app

                    self._app = control_app(self._service).wsgi_app
        return self._app(environ, start_response)


def serving_handler(settings: Settings, threads: int) -> Dispatcher:
    """What a served worker runs: the business routes at once, Flask when first needed."""
    from engagelab_kit.mock_server.dispatch import Dispatcher

    service = make_service(settings, make_store(settings, batched=True))
    return Dispatcher(service, _LazyControl(service), threads)
