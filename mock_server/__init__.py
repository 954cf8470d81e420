"""A spec-driven mock of EngageLab's ``POST /v1/user/contact``."""

from mock_server.app import create_app
from mock_server.exceptions import ApiError, ConfigError
from mock_server.service import MockService
from mock_server.settings import Project, ServeOptions, Settings, build
from mock_server.store import Fault
from mock_server.wire import HttpRequest, HttpResponse

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
