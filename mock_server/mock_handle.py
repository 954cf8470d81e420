"""What the ``engagelab_mock`` and ``engagelab_transport`` fixtures hand a test: one mock, everything to use it.

The same ``EngageLabMock`` fronts a served mock (``url`` is a loopback address)
and an in-process one (``url`` is EngageLab's own base URL, answered through
the patched transport); ``control`` steers either.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engagelab_kit.mock_server.client_checks import FailureMatrix, RequestProblem, failure_matrix, request_problems
from engagelab_kit.mock_server.control_client import Journal, MockControl
from engagelab_kit.mock_server.settings import DEFAULT_PROJECTS

# The journal's times are kept to the millisecond.
_CLOCK_GRAIN = 0.002


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str = field(repr=False)

    @property
    def auth(self) -> tuple[str, str]:
        """For ``requests``: ``auth=creds.auth``."""
        return (self.api_key, self.api_secret)

    @property
    def header(self) -> str:
        """The ``Authorization`` header value."""
        return "Basic " + base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode("ascii")


ACTIVE_PROJECT, DELETED_PROJECT, DELETED_DATASOURCE = (Credentials(p.key, p.secret) for p in DEFAULT_PROJECTS)


@dataclass
class EngageLabMock:
    """One mock for one test: its URL, the built-in credentials and the control client."""

    url: str
    control: MockControl
    credentials: Credentials = ACTIVE_PROJECT
    # Credentials the mock answers 50034 (project deleted) and 50074 (data source deleted).
    deleted_project: Credentials = DELETED_PROJECT
    deleted_datasource: Credentials = DELETED_DATASOURCE
    # Requests that arrived before this moment belong to an earlier test: a request held by a latency
    # fault past its client's timeout is recorded when it finishes, perhaps after the next reset.
    since: float = 0.0

    @property
    def api_key(self) -> str:
        return self.credentials.api_key

    @property
    def api_secret(self) -> str:
        return self.credentials.api_secret

    @property
    def contact_url(self) -> str:
        return f"{self.url}/v1/user/contact"

    def journal(self, *, euid: int | None = None, code: int | None = None) -> Journal:
        """What the mock received in this test (oldest first)."""
        entries = self.control.journal(euid=euid, code=code)
        return Journal([e for e in entries if e.started >= self.since - _CLOCK_GRAIN])

    def request_problems(self) -> list[RequestProblem]:
        """Requests sent in this test that the real API would reject, judged by the spec's rules."""
        return request_problems(self.journal())

    def failure_matrix(self, call: Callable[[], Any], *, timeout: float, codes: Sequence[int] | None = None,
                       transient: bool = True) -> FailureMatrix:
        """Run ``call`` once per documented error code and fault; see ``client_checks.failure_matrix``."""
        return failure_matrix(call, self.control, timeout=timeout, codes=codes, transient=transient)
