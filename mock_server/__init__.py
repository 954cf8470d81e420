"""A spec-driven mock of EngageLab's ``POST /v1/user/contact``.

Names are imported on first use (PEP 562), so the serving process that only
parses settings and starts Granian does not load Flask: each worker loads it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_server.app import create_app
    from mock_server.exceptions import ApiError, ConfigError
    from mock_server.service import MockService
    from mock_server.settings import Project, ServeOptions, Settings, build
    from mock_server.store import Fault
    from mock_server.wire import HttpRequest, HttpResponse

_HOMES = {
    "create_app": "mock_server.app",
    "ApiError": "mock_server.exceptions",
    "ConfigError": "mock_server.exceptions",
    "MockService": "mock_server.service",
    "Project": "mock_server.settings",
    "ServeOptions": "mock_server.settings",
    "Settings": "mock_server.settings",
    "build": "mock_server.settings",
    "Fault": "mock_server.store",
    "HttpRequest": "mock_server.wire",
    "HttpResponse": "mock_server.wire",
}

__all__ = [
    "ApiError",
    "ConfigError",
    "Fault",
    "HttpRequest",
    "HttpResponse",
    "MockService",
    "Project",
    "ServeOptions",
    "Settings",
    "build",
    "create_app",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
