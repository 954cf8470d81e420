"""Hypothesis strategies for your own property tests, drawn from the spec's rules and limits.

``valid_requests()`` draws bodies the real API accepts; ``invalid_requests()``
draws bodies that break one rule, each with the rule's id and the code the API
must answer. Here they check the reference client against the in-process mock:
whatever it is given, it sends it faithfully and reports the API's verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings

from engagelab_kit.mock_server import (
    ContactClient,
    InProcessMock,
    InvalidRequest,
    InvalidRequestError,
    invalid_requests,
    mock_engagelab,
    valid_requests,
)

KEY, SECRET = "7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1"
QUICK = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def mock() -> Iterator[InProcessMock]:
    # One in-process mock for all examples (a function-scoped fixture would not reset per example).
    with mock_engagelab() as mock:
        yield mock


@QUICK
@given(body=valid_requests())
def test_valid_requests_are_stored(mock: InProcessMock, body: dict[str, Any]) -> None:
    mock.control.reset()
    ContactClient(KEY, SECRET).set_contacts(body["euid"], body["contacts"])
    assert mock.control.user(body["euid"]) == body["contacts"]


@QUICK
@given(case=invalid_requests())
def test_invalid_requests_get_their_code(mock: InProcessMock, case: InvalidRequest) -> None:
    mock.control.reset()
    reply = requests.post(mock.url + "/v1/user/contact", data=case.content(), auth=(KEY, SECRET), timeout=5,
                          headers={"Content-Type": "application/json"})
    assert reply.json()["code"] == case.code, (case.rule, case.body)
    # The journal names the same rule the strategy broke.
    assert [e.rule for e in mock.control.journal()] == [case.rule]


@QUICK
@given(case=invalid_requests(["euid.invalid", "entry.name_unsupported", "entry.value_length"]))
def test_the_reference_client_raises_the_apis_code(mock: InProcessMock, case: InvalidRequest) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        ContactClient(KEY, SECRET).set_contacts(case.body["euid"], case.body["contacts"])
    assert raised.value.code == case.code
