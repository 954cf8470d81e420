"""The in-process transport: code that calls https://ma-api.engagelab.com reaches the mock with no socket.

Three ways, from least to most explicit: the ``engagelab_transport`` fixture,
the ``mock_engagelab()`` context manager (patches every ``requests`` session, as
``responses`` does), and a ``MockTransport`` mounted on one session.
"""

from __future__ import annotations

import pytest
import requests

from engagelab_kit.mock_server import ContactClient, EngageLabMock, InvalidRequestError, MockTransport, mock_engagelab

KEY, SECRET = "7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1"


def test_fixture(engagelab_transport: EngageLabMock) -> None:
    # The client under test uses the real base URL; nothing leaves the process.
    client = ContactClient(KEY, SECRET)
    client.set_contacts(42, {"email": "a@example.com"})
    assert engagelab_transport.control.user(42) == {"email": "a@example.com"}
    engagelab_transport.journal().assert_count(1, euid=42)


def test_faults_work_in_process(engagelab_transport: EngageLabMock) -> None:
    engagelab_transport.control.internal_error(times=1)
    client = ContactClient(KEY, SECRET, backoff=0)
    client.set_contacts(42, {"email": "a@example.com"})  # the reference client retries -1 once and succeeds
    assert [e.code for e in engagelab_transport.journal()] == [-1, 0]


def test_context_manager() -> None:
    with mock_engagelab() as mock:
        reply = requests.post("https://ma-api.engagelab.com/v1/user/contact", auth=(KEY, SECRET), timeout=5,
                              json={"euid": 1, "contacts": {"email": "x@example.com"}})
        assert reply.json()["code"] == 0
        assert mock.control.user(1) == {"email": "x@example.com"}


@pytest.mark.engagelab_allow_invalid_requests
def test_mounted_on_one_session() -> None:
    session = requests.Session()
    session.mount("https://ma-api.engagelab.com/", MockTransport())
    client = ContactClient(KEY, SECRET, session=session)
    with pytest.raises(InvalidRequestError) as raised:
        client.set_contacts(0, {"email": "x@example.com"})
    assert raised.value.code == 55108
