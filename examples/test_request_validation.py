"""Request validation: after each test, every request the client sent is judged against the spec.

A test whose client sent something the real API would reject fails, naming the
rule, the code and the request, even if the test itself asserted nothing about
it. A test that sends bad requests on purpose says so with a marker.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from engagelab_kit.mock_server import EngageLabMock


def buggy_set_email(base_url: str, auth: tuple[str, str], user_id: str, email: str) -> Any:
    # The bug: the euid goes out as a string ("42"), which the real API refuses with 55108.
    return requests.post(f"{base_url}/v1/user/contact", json={"euid": user_id, "contacts": {"email": email}},
                         auth=auth, timeout=5).json()


def good_set_email(base_url: str, auth: tuple[str, str], user_id: str, email: str) -> Any:
    return requests.post(f"{base_url}/v1/user/contact", json={"euid": int(user_id), "contacts": {"email": email}},
                         auth=auth, timeout=5).json()


def test_a_correct_client_passes(engagelab_mock: EngageLabMock) -> None:
    assert good_set_email(engagelab_mock.url, engagelab_mock.credentials.auth, "42", "a@example.com")["code"] == 0


# Without the marker this test would fail after its last line with:
#   the client sent 1 request(s) the real API would reject:
#     1. rule euid.invalid -> code 55108: euid is anything but a JSON integer literal in euid_min..euid_max ...
#        the mock answered: Invalid EUID. (euid must be an integer in 1..9223372036854775807)
#        request: POST /v1/user/contact (Content-Type: application/json) {"euid": "42", ...}
@pytest.mark.engagelab_allow_invalid_requests
def test_what_a_buggy_client_is_told(engagelab_mock: EngageLabMock) -> None:
    buggy_set_email(engagelab_mock.url, engagelab_mock.credentials.auth, "42", "a@example.com")
    [problem] = engagelab_mock.request_problems()
    assert (problem.rule, problem.code) == ("euid.invalid", 55108)
    assert problem.request.json == {"euid": "42", "contacts": {"email": "a@example.com"}}
    assert "rule euid.invalid -> code 55108" in str(problem)


def test_forced_failures_are_not_the_clients_fault(engagelab_mock: EngageLabMock) -> None:
    # Answers a test steered (faults, forced codes) are never held against the client.
    engagelab_mock.control.force_code(55105)
    assert good_set_email(engagelab_mock.url, engagelab_mock.credentials.auth, "42", "a@example.com")["code"] == 55105
    assert engagelab_mock.request_problems() == []
