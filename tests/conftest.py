"""Targets for the project's own tests: the same tests run in-process and against a served mock.

``target`` is parametrised: ``inprocess`` drives the WSGI app through
Werkzeug's client, ``served`` talks HTTP to ``engagelab-mock serve`` in a
subprocess on loopback, started once per session and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

from engagelab_kit.mock_server import HttpRequest, MockService, Settings, create_app
from engagelab_kit.mock_server.served_mock import terminate

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes
    json: Any = field(default=None)

    @property
    def code(self) -> Any:
        return self.json.get("code") if isinstance(self.json, dict) else None


def _reply(status: int, headers: dict[str, str], raw: bytes) -> Reply:
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Reply(status, {k.lower(): v for k, v in headers.items()}, raw, parsed)


class Target(Protocol):
    name: str

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply: ...

    def control(self, method: str, path: str, payload: Any = None) -> Reply: ...


class InProcess:
    name = "inprocess"

    def __init__(self, settings: Settings | None = None) -> None:
        self.app = create_app(settings)
        self.client = self.app.test_client()

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        response = self.client.open(path, method=method, data=body, headers=headers or {})
        return _reply(response.status_code, dict(response.headers), response.get_data())

    def control(self, method: str, path: str, payload: Any = None) -> Reply:
        response = self.client.open(f"/__mock{path}", method=method, json=payload)
        return _reply(response.status_code, dict(response.headers), response.get_data())


class Rules(InProcess):
    """No HTTP at all: ``MockService.handle`` called with a plain request."""

    name = "rules"

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        if path.startswith("/__mock/"):
            return super().request(method, path, body, headers)
        service: MockService = self.app.extensions["engagelab_mock"]
        path, _, query = path.partition("?")
        plain = HttpRequest(method, path, {k.lower(): v for k, v in (headers or {}).items()}, body, query)
        response = service.handle(plain)
        raw = b"" if response.omit_body else json.dumps(response.payload).encode()
        headers = {"content-type": "application/json", **{k.lower(): v for k, v in response.headers.items()}}
        return Reply(response.status, headers, raw, response.payload)


class Served:
    """A mock served by the real CLI on a free loopback port."""

    name = "served"

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="mock-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--port", "0", *args],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})},
        )
        self.url = self._wait_for_url()
        self.session = requests.Session()
        self._wait_ready()

    def _output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = re.search(r"serving on (http://\S+)", self._output())
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError(f"mock exited early: {self._output()}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("mock did not print its URL")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.session.get(f"{self.url}/__mock/health", timeout=1).status_code in (200, 401, 404):
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mock not ready: {self._output()}")

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        response = self.session.request(method, self.url + path, data=body, headers=headers or {}, timeout=10)
        return _reply(response.status_code, dict(response.headers), response.content)

    def control(self, method: str, path: str, payload: Any = None) -> Reply:
        response = self.session.request(method, f"{self.url}/__mock{path}", json=payload, timeout=10)
        return _reply(response.status_code, dict(response.headers), response.content)

    def stop(self) -> int:
        terminate(self.proc)
        self.log.close()
        os.unlink(self.log.name)
        return self.proc.returncode


@pytest.fixture(scope="session")
def served() -> Iterator[Served]:
    server = Served()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def served_workers() -> Iterator[Served]:
    """Two workers sharing one SQLite store."""
    server = Served("--workers", "2")
    yield server
    server.stop()


@pytest.fixture(params=["rules", "inprocess", "served", "served_workers"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "rules":
        return Rules()
    if request.param == "inprocess":
        return InProcess()
    server: Served = request.getfixturevalue(request.param)
    assert server.control("POST", "/reset").status == 200
    return server
