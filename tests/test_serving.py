"""The real CLI, served: startup output, signals, workers sharing one truth, persistence, drops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.cases import CONTACT, EXAMPLE, JSON_HEADERS, basic
from tests.conftest import ROOT, Served

pytestmark = pytest.mark.served

OTHER_KEY, OTHER_SECRET = "0123456789abcdef01234567", "not-the-page-secret-9f8e"
CONFIG = f"""
[[projects]]
name = "mine"
key = "{OTHER_KEY}"
secret = "{OTHER_SECRET}"
"""


def _post(server: Served, body: object = EXAMPLE, headers: dict[str, str] | None = None) -> requests.Response:
    return server.session.post(server.url + CONTACT, data=json.dumps(body), headers=headers or JSON_HEADERS,
                               timeout=10)


def test_startup_prints_url_key_and_curl_but_never_the_secret(tmp_path: Path) -> None:
    config = tmp_path / "mock.toml"
    config.write_text(CONFIG)
    server = Served("--config", str(config))
    try:
        headers = {"Content-Type": "application/json", "Authorization": basic(f"{OTHER_KEY}:{OTHER_SECRET}")}
        assert _post(server, headers=headers).json() == {"code": 0, "message": "success"}
        _post(server, headers={**headers, "Authorization": basic(f"{OTHER_KEY}:wrong")})
        output = server._output()
        assert server.url in output and OTHER_KEY in output and "curl" in output
    finally:
        assert server.stop() == 0
    assert OTHER_SECRET not in output
    assert basic(f"{OTHER_KEY}:{OTHER_SECRET}")[6:] not in output


def test_default_banner_curl_runs_as_printed(served: Served) -> None:
    line = next(x for x in served._output().splitlines() if "curl" in x)
    command = line.split("try: ", 1)[1]
    env = {**os.environ, "ENGAGELAB_API_SECRET": "5e987ac6d2e04d95a9d8f0d1"}
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=10, check=True, env=env)
    assert json.loads(result.stdout) == {"code": 0, "message": "success"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly(sig: signal.Signals) -> None:
    server = Served()
    server.proc.send_signal(sig)
    assert server.proc.wait(timeout=10) == 0
    server.stop()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[rules]\nmax_contacts = 0\n", "rules.max_contacts: must be at least 1"),
        ("[rules]\ncontact_types = []\n", "rules.contact_types"),
        ("[rules]\nbogus = 1\n", "rules.bogus: unknown key"),
        ("[[projects]]\nkey = 'k'\n", "projects[0].secret"),
        ("[[projects]]\nkey = 'k'\nsecret = 's'\nstatus = 'gone'\n", "projects[0].status"),
        ("[statuses]\n55104 = 400\n", "statuses.55104: not a documented code"),
        ("[server]\nport = 'eighty'\n", "server.port: expected an integer"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_naming_file_key_and_problem(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = subprocess.run([sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--config", str(config)],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert str(config) in result.stderr and needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--port", "99999"],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2 and "--port" in result.stderr


def test_two_workers_share_faults_journal_and_state() -> None:
    server = Served("--workers", "2")
    try:
        fault = server.control("POST", "/faults", {"code": -1, "times": 3}).json
        assert fault["code"] == -1
        codes = [_post(server).json()["code"] for _ in range(6)]
        assert codes == [-1, -1, -1, 0, 0, 0]
        # Fresh connections spread over both workers; each must see the other's writes.
        for i in range(20):
            with requests.Session() as fresh:
                body = json.dumps({"euid": 500 + i, "contacts": {"email": f"e{i}"}})
                assert fresh.post(server.url + CONTACT, data=body, headers=JSON_HEADERS, timeout=10).ok
        for i in range(20):
            with requests.Session() as fresh:
                got = fresh.get(f"{server.url}/__mock/users/{500 + i}", timeout=10).json()
                assert got["contacts"] == {"email": f"e{i}"}
        journal = server.control("GET", "/journal?limit=1000").json["entries"]
        assert len([e for e in journal if e["path"] == CONTACT]) == 26
    finally:
        assert server.stop() == 0


def test_state_file_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    server = Served("--state", str(state))
    try:
        assert _post(server, {"euid": 31, "contacts": {"email": "kept"}}).json()["code"] == 0
        server.control("POST", "/faults", {"code": -1, "times": 5})
    finally:
        assert server.stop() == 0
    server = Served("--state", str(state))
    try:
        assert server.control("GET", "/users/31").json["contacts"] == {"email": "kept"}
        assert server.control("GET", "/faults").json["faults"] == []
        assert _post(server, {"euid": 31, "contacts": {"mobile_phone": "1"}}).json()["code"] == 0
        assert server.control("GET", "/users/31").json["contacts"] == {"email": "kept", "mobile_phone": "1"}
    finally:
        assert server.stop() == 0


def test_drop_fault_cuts_the_connection_and_server_survives(served: Served) -> None:
    served.control("POST", "/reset")
    served.control("POST", "/faults", {"drop": True})
    with pytest.raises(requests.exceptions.RequestException):
        requests.post(served.url + CONTACT, data=json.dumps(EXAMPLE), headers=JSON_HEADERS, timeout=10)
    assert _post(served).json()["code"] == 0
    entries = served.control("GET", "/journal").json["entries"]
    assert entries[0]["dropped"] is True and entries[0]["code"] is None
    assert "Traceback" not in served._output()


def test_ready_quickly() -> None:
    started = time.monotonic()
    server = Served()
    try:
        # Generous bound: this is a smoke check, the figure itself comes from bench/.
        assert time.monotonic() - started < 5
    finally:
        server.stop()


def test_unusable_state_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_text("plain text, not SQLite " * 100)
    command = [sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--port", "0", "--state", str(bad)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert str(bad) in result.stderr and "Traceback" not in result.stderr


def test_keep_alive_survives_over_size_bodies(served: Served) -> None:
    """An over-size body is drained (or the connection closed), so the next request on it works."""
    session = requests.Session()
    for size in (1024 * 1024 + 1, 2 * 1024 * 1024, 70 * 1024 * 1024):
        for headers in ({"Content-Type": "application/json"}, JSON_HEADERS):
            reply = session.post(served.url + CONTACT, data=b" " * size, headers=headers, timeout=30)
            assert reply.status_code in (401, 413)
            ok = session.post(served.url + CONTACT, data=json.dumps(EXAMPLE), headers=JSON_HEADERS, timeout=10)
            assert ok.json()["code"] == 0


def test_port_in_use_is_refused_before_claiming_to_serve(served: Served) -> None:
    port = served.url.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--port", port],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert "serving on" not in result.stdout
    assert "Address already in use" in result.stderr and "Traceback" not in result.stderr


def test_a_stalled_client_does_not_block_others(served: Served) -> None:
    import socket

    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as stalled:
        stalled.sendall(b"POST /v1/user/contact HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100\r\n\r\n{\"euid\": 1")
        time.sleep(0.2)
        started = time.monotonic()
        reply = requests.post(served.url + CONTACT, data=json.dumps(EXAMPLE), headers=JSON_HEADERS, timeout=10)
        assert reply.json()["code"] == 0
        assert time.monotonic() - started < 5


def test_state_file_survives_a_killed_worker(tmp_path: Path) -> None:
    """A worker killed outright (no clean shutdown) loses nothing acknowledged: the supervisor replaces it."""
    server = Served("--state", str(tmp_path / "state.db"))
    try:
        assert _post(server, {"euid": 41, "contacts": {"email": "acked"}}).json()["code"] == 0
        children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
        assert children, "the worker runs as a child of the serving process"
        for child in children:
            os.kill(int(child), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = requests.get(f"{server.url}/__mock/users/41", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "no worker came back"
                time.sleep(0.1)
        assert reply.json()["contacts"] == {"email": "acked"}
    finally:
        assert server.stop() == 0
