"""The ``engagelab_mock`` fixture: a real served mock, reset before each test, no conftest needed.

Installing the kit registers the pytest plugin; any test can ask for the fixture.
"""

from __future__ import annotations

import pytest
import requests

from engagelab_kit.mock_server import EngageLabMock

EXAMPLE = {"euid": 10362473, "contacts": {"mobile_phone": "18023456879", "email": "12@gmail.com"}}


def test_the_vendor_example_succeeds(engagelab_mock: EngageLabMock) -> None:
    reply = requests.post(f"{engagelab_mock.url}/v1/user/contact", json=EXAMPLE,
                          auth=(engagelab_mock.api_key, engagelab_mock.api_secret), timeout=5)
    assert reply.json() == {"code": 0, "message": "success"}
    # What the mock stored, and what it was sent.
    assert engagelab_mock.control.user(10362473) == EXAMPLE["contacts"]
    engagelab_mock.journal().assert_called_once_with(EXAMPLE)


def test_seeded_users_and_the_journal(engagelab_mock: EngageLabMock) -> None:
    engagelab_mock.control.seed_user(7, {"email": "old@example.com", "mobile_phone": "100"})
    requests.post(engagelab_mock.contact_url, json={"euid": 7, "contacts": {"email": "new@example.com"}},
                  auth=engagelab_mock.credentials.auth, timeout=5)
    # Contacts not sent are kept.
    assert engagelab_mock.control.user(7) == {"email": "new@example.com", "mobile_phone": "100"}
    journal = engagelab_mock.journal()
    journal.assert_count(1, euid=7)
    journal.assert_sent(euid=7, contacts={"email": "new@example.com"})
    assert journal.contacts_sent(7) == [{"email": "new@example.com"}]


def test_faults_steer_the_next_requests(engagelab_mock: EngageLabMock) -> None:
    control = engagelab_mock.control
    control.force_code(55108, times=2)
    control.internal_error()  # then one -1 (HTTP 500)
    answers = [requests.post(engagelab_mock.contact_url, json=EXAMPLE, auth=engagelab_mock.credentials.auth,
                             timeout=5) for _ in range(4)]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(400, 55108), (400, 55108), (500, -1), (200, 0)]
    assert [entry.code for entry in engagelab_mock.journal()] == [55108, 55108, -1, 0]


def test_dropped_connection_and_latency(engagelab_mock: EngageLabMock) -> None:
    engagelab_mock.control.drop_connection()
    engagelab_mock.control.add_latency(600)
    # Cut mid-answer: requests reports a connection or a chunked-encoding error, depending on timing.
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.post(engagelab_mock.contact_url, json=EXAMPLE, auth=engagelab_mock.credentials.auth, timeout=5)
    with pytest.raises(requests.Timeout):
        requests.post(engagelab_mock.contact_url, json=EXAMPLE, auth=engagelab_mock.credentials.auth, timeout=0.2)


def test_deleted_project_and_data_source(engagelab_mock: EngageLabMock) -> None:
    # Credentials are the test's choice: request validation does not hold them against the client.
    codes = [requests.post(engagelab_mock.contact_url, json=EXAMPLE, auth=creds.auth, timeout=5).json()["code"]
             for creds in (engagelab_mock.deleted_project, engagelab_mock.deleted_datasource)]
    assert codes == [50034, 50074]
