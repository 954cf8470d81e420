"""Runnable examples: how a project that calls EngageLab would test against this mock.

Run them with ``pytest examples``. The first drives the mock in-process (no
network); the second serves it the way CI would and steers it over HTTP, by hand.
The pytest plugin's ``engagelab_mock`` fixture does all of that for you: see
test_fixture.py.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from engagelab_kit.mock_server import create_app

KEY, SECRET = "7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1"
AUTH = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()


def set_contacts(session: requests.Session, base_url: str, euid: int, **contacts: str) -> dict[str, object]:
    """The code under test: a tiny client of POST /v1/user/contact."""
    response = session.post(f"{base_url}/v1/user/contact", json={"euid": euid, "contacts": contacts},
                            headers={"Authorization": AUTH}, timeout=5)
    result: dict[str, object] = response.json()
    return result


def test_in_process() -> None:
    client = create_app().test_client()
    reply = client.post("/v1/user/contact", json={"euid": 1, "contacts": {"email": "a@example.com"}},
                        headers={"Authorization": AUTH})
    assert reply.get_json() == {"code": 0, "message": "success"}
    assert client.get("/__mock/users/1").get_json()["contacts"] == {"email": "a@example.com"}


@pytest.fixture
def mock_url() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    match = re.search(r"serving on (\S+)", proc.stdout.readline())
    assert match, "the mock prints its URL first"
    url = match.group(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/__mock/health", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.02)
    yield url
    proc.send_signal(signal.SIGTERM)  # stopped by its own PID
    proc.wait(timeout=10)
    proc.stdout.close()


def test_served_with_a_fault(mock_url: str) -> None:
    with requests.Session() as session:
        assert set_contacts(session, mock_url, 42, email="a@example.com")["code"] == 0
        # Make the next request fail as the real API might, and check the client copes.
        session.post(f"{mock_url}/__mock/faults", json={"code": -1, "times": 1})
        assert set_contacts(session, mock_url, 42, email="b@example.com")["code"] == -1
        journal = session.get(f"{mock_url}/__mock/journal", params={"euid": 42}).json()["entries"]
        assert [e["code"] for e in journal] == [0, -1]
        assert json.loads(journal[0]["body"])["contacts"] == {"email": "a@example.com"}
