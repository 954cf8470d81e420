"""A spec-driven mock of EngageLab's ``POST /v1/user/contact``.

Names are imported on first use (PEP 562), so the serving process that only
parses settings and starts Granian does not load Flask: each worker loads it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engagelab_kit.mock_server.app import create_app
    from engagelab_kit.mock_server.exceptions import ApiError, ConfigError
    from engagelab_kit.mock_server.service import MockService
    from engagelab_kit.mock_server.settings import Project, ServeOptions, Settings, build
    from engagelab_kit.mock_server.store import Fault
    from engagelab_kit.mock_server.wire import HttpRequest, HttpResponse

_HOMES = {
    "create_app": "engagelab_kit.mock_server.app",
    "ApiError": "engagelab_kit.mock_server.exceptions",
    "ConfigError": "engagelab_kit.mock_server.exceptions",
    "MockService": "engagelab_kit.mock_server.service",
    "Project": "engagelab_kit.mock_server.settings",
    "ServeOptions": "engagelab_kit.mock_server.settings",
    "Settings": "engagelab_kit.mock_server.settings",
    "build": "engagelab_kit.mock_server.settings",
    "Fault": "engagelab_kit.mock_server.store",
    "HttpRequest": "engagelab_kit.mock_server.wire",
    "HttpResponse": "engagelab_kit.mock_server.wire",
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
