"""The pytest plugin every project gets on install (entry point ``pytest11: engagelab_mock``).

Fixtures:
- ``engagelab_mock``: a real served mock on a free loopback port, started once per
  session (per xdist worker) and reset before each test.
- ``engagelab_transport``: an in-process mock answering ``https://ma-api.engagelab.com``
  through every ``requests`` session, fresh for each test; no socket.

After each passing test that used either, every request the client sent is judged
against the spec's rules; one the real API would reject fails the test, naming the
rule, the code and the request. ``@pytest.mark.engagelab_allow_invalid_requests``
(or ``--engagelab-no-request-validation``) turns that off.

Options are prefixed ``--engagelab-`` so that they never collide with other plugins
(nor with the contract suite's own, which its conftest loads). Importing this module
loads nothing heavy: the mock's modules load when a fixture is first used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from engagelab_kit.mock_server.mock_handle import EngageLabMock
    from engagelab_kit.mock_server.served_mock import ServedMock

ALLOW_MARKER = "engagelab_allow_invalid_requests"
_FIXTURES = ("engagelab_mock", "engagelab_transport")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("engagelab", "EngageLab contact kit: the engagelab_mock fixture")
    group.addoption("--engagelab-mock-config", metavar="FILE",
                    help="TOML settings for the engagelab_mock server (as engagelab-mock serve --config)")
    group.addoption("--engagelab-mock-args", metavar="ARGS", default="",
                    help="extra engagelab-mock serve flags for the engagelab_mock server, e.g. '--strict-euid'")
    group.addoption("--engagelab-no-request-validation", action="store_true",
                    help="do not fail tests whose client sent requests the real API would reject")
    group.addoption("--engagelab-startup-timeout", type=float, default=30.0, metavar="S",
                    help="seconds to wait for the engagelab_mock server to start (default 30)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{ALLOW_MARKER}: this test sends requests the real API would reject on purpose "
        "(no request validation after it)")


@pytest.fixture(scope="session")
def engagelab_mock_server(pytestconfig: pytest.Config) -> Iterator[ServedMock]:
    """The served mock behind ``engagelab_mock``: one per session (per xdist worker)."""
    from engagelab_kit.mock_server.served_mock import ServedMock

    server = ServedMock(
        pytestconfig.getoption("--engagelab-mock-args").split(),
        config=pytestconfig.getoption("--engagelab-mock-config"),
        startup_timeout=pytestconfig.getoption("--engagelab-startup-timeout"),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def engagelab_mock(engagelab_mock_server: ServedMock) -> EngageLabMock:
    """A served mock, reset for this test: ``url``, ``api_key``, ``api_secret``, ``control``, ``journal()``."""
    from engagelab_kit.mock_server.mock_handle import EngageLabMock

    since = time.time()
    engagelab_mock_server.control.reset()
    return EngageLabMock(engagelab_mock_server.url, engagelab_mock_server.control, since=since)


@pytest.fixture
def engagelab_transport() -> Iterator[EngageLabMock]:
    """An in-process mock behind EngageLab's own base URL, for every ``requests`` session, for this test."""
    from engagelab_kit.mock_server.mock_handle import EngageLabMock
    from engagelab_kit.mock_server.transport import mock_engagelab

    with mock_engagelab() as mock:
        yield EngageLabMock(mock.url, mock.control)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield  # a failing test raises here: its own failure is the one to report
    funcargs = getattr(item, "funcargs", {})
    mocks = [funcargs[name] for name in _FIXTURES if name in funcargs]
    if mocks and item.get_closest_marker(ALLOW_MARKER) is None \
            and not item.config.getoption("--engagelab-no-request-validation"):
        problems = [problem for mock in mocks for problem in mock.request_problems()]
        if problems:
            from engagelab_kit.mock_server.client_checks import InvalidRequestsSent

            pytest.fail(str(InvalidRequestsSent(problems)), pytrace=False)
    return result
