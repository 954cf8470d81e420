"""A spec-driven mock of EngageLab's ``POST /v1/user/contact``.

Names are imported on first use (PEP 562), so the serving process that only
parses settings and forks the workers does not load Flask: a worker loads it on
the control API's first call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engagelab_kit.mock_server.app import create_app
    from engagelab_kit.mock_server.client_checks import (
        FailureMatrix,
        InvalidRequestsSent,
        MatrixRow,
        RequestProblem,
        assert_valid_requests,
        failure_matrix,
        request_problems,
    )
    from engagelab_kit.mock_server.control_client import ControlApiError, Journal, MockControl, Received
    from engagelab_kit.mock_server.exceptions import ApiError, ConfigError
    from engagelab_kit.mock_server.mock_handle import Credentials, EngageLabMock
    from engagelab_kit.mock_server.reference_client import (
        AuthenticationError,
        ContactClient,
        EngageLabError,
        InvalidRequestError,
        ProjectError,
        ServerError,
        TransportError,
    )
    from engagelab_kit.mock_server.served_mock import MockStartError, ServedMock
    from engagelab_kit.mock_server.service import MockService
    from engagelab_kit.mock_server.settings import Project, ServeOptions, Settings, build
    from engagelab_kit.mock_server.store import Fault
    from engagelab_kit.mock_server.strategies import InvalidRequest, invalid_requests, valid_requests
    from engagelab_kit.mock_server.transport import InProcessMock, MockTransport, in_process_mock, mock_engagelab
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
    "FailureMatrix": "engagelab_kit.mock_server.client_checks",
    "InvalidRequestsSent": "engagelab_kit.mock_server.client_checks",
    "MatrixRow": "engagelab_kit.mock_server.client_checks",
    "RequestProblem": "engagelab_kit.mock_server.client_checks",
    "assert_valid_requests": "engagelab_kit.mock_server.client_checks",
    "failure_matrix": "engagelab_kit.mock_server.client_checks",
    "request_problems": "engagelab_kit.mock_server.client_checks",
    "ControlApiError": "engagelab_kit.mock_server.control_client",
    "Journal": "engagelab_kit.mock_server.control_client",
    "MockControl": "engagelab_kit.mock_server.control_client",
    "Received": "engagelab_kit.mock_server.control_client",
    "Credentials": "engagelab_kit.mock_server.mock_handle",
    "EngageLabMock": "engagelab_kit.mock_server.mock_handle",
    "AuthenticationError": "engagelab_kit.mock_server.reference_client",
    "ContactClient": "engagelab_kit.mock_server.reference_client",
    "EngageLabError": "engagelab_kit.mock_server.reference_client",
    "InvalidRequestError": "engagelab_kit.mock_server.reference_client",
    "ProjectError": "engagelab_kit.mock_server.reference_client",
    "ServerError": "engagelab_kit.mock_server.reference_client",
    "TransportError": "engagelab_kit.mock_server.reference_client",
    "MockStartError": "engagelab_kit.mock_server.served_mock",
    "ServedMock": "engagelab_kit.mock_server.served_mock",
    "InvalidRequest": "engagelab_kit.mock_server.strategies",
    "invalid_requests": "engagelab_kit.mock_server.strategies",
    "valid_requests": "engagelab_kit.mock_server.strategies",
    "InProcessMock": "engagelab_kit.mock_server.transport",
    "MockTransport": "engagelab_kit.mock_server.transport",
    "in_process_mock": "engagelab_kit.mock_server.transport",
    "mock_engagelab": "engagelab_kit.mock_server.transport",
}

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigError",
    "ContactClient",
    "ControlApiError",
    "Credentials",
    "EngageLabError",
    "EngageLabMock",
    "FailureMatrix",
    "Fault",
    "HttpRequest",
    "HttpResponse",
    "InProcessMock",
    "InvalidRequest",
    "InvalidRequestError",
    "InvalidRequestsSent",
    "Journal",
    "MatrixRow",
    "MockControl",
    "MockService",
    "MockStartError",
    "MockTransport",
    "Project",
    "ProjectError",
    "Received",
    "RequestProblem",
    "ServeOptions",
    "ServedMock",
    "ServerError",
    "Settings",
    "TransportError",
    "assert_valid_requests",
    "build",
    "create_app",
    "failure_matrix",
    "in_process_mock",
    "invalid_requests",
    "mock_engagelab",
    "request_problems",
    "valid_requests",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
