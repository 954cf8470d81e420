"""Flask application factory: the control API in Flask, the business routes in the lean adapter."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from mock_server import control
from mock_server.service import MockService
from mock_server.settings import Settings
from mock_server.store import Store
from mock_server.store_memory import MemoryStore
from mock_server.store_sqlite import SqliteStore
from mock_server.wsgi import BusinessApp


def make_store(settings: Settings) -> Store:
    if settings.state_file:
        return SqliteStore(settings.state_file, settings.journal_size, settings.known_euids)
    return MemoryStore(settings.journal_size, settings.known_euids)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    return jsonify(error=exc.description or exc.name), exc.code or 500


def _internal_error(exc: Exception) -> ResponseReturnValue:
    # The control API's own failures; never a traceback or an HTML page on the wire.
    return jsonify(error=f"internal error in the control API: {type(exc).__name__}"), 500


def create_app(settings: Settings | None = None, store: Store | None = None) -> Flask:
    """The mock as a Flask app. ``app.extensions["engagelab_mock"]`` is its ``MockService``."""
    settings = settings or Settings()
    service = MockService(settings, store or make_store(settings))
    app = Flask("mock_server")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    control.install(app, service)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.wsgi_app = BusinessApp(service, app.wsgi_app)  # type: ignore[method-assign]
    return app
