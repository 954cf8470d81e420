"""The pytest plugin as a user's project sees it: inner pytest runs in a scratch folder with no conftest.

Each inner run is a subprocess (about a second); the plugin comes from the
installed entry point, exactly as in an app's own project.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

RECORD = '''
import json, os
def record(server, name):
    pid = server.pid
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        children = []
    with open(os.environ["RECORD_FILE"], "a") as out:
        out.write(json.dumps({"test": name, "url": server.url, "pids": [pid, *map(int, children)],
                              "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}) + "\\n")
'''


def _run(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECORD_FILE": str(folder / "record.jsonl")}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _records(folder: Path) -> list[dict[str, object]]:
    path = folder / "record.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie no longer runs or holds a port


def _assert_gone(records: list[dict[str, object]], within: float = 15) -> None:
    assert records, "the inner run recorded no server"
    deadline = time.monotonic() + within
    pids = [pid for r in records for pid in r["pids"]]  # type: ignore[attr-defined]
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)], "a server process outlived its test run"
    for record in records:
        parts = urlsplit(str(record["url"]))
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(1)
            sock.connect((parts.hostname, parts.port))


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(RECORD + text)


VALIDATION = '''
import pytest, requests

def post(mock, body):
    return requests.post(mock.url + "/v1/user/contact", json=body, auth=(mock.api_key, mock.api_secret),
                         timeout=5).json()

def test_good(engagelab_mock):
    assert post(engagelab_mock, {"euid": 42, "contacts": {"email": "a@b"}})["code"] == 0

def test_bad(engagelab_mock):
    post(engagelab_mock, {"euid": "42", "contacts": {"email": "a@b"}})

@pytest.mark.engagelab_allow_invalid_requests
def test_bad_on_purpose(engagelab_mock):
    assert post(engagelab_mock, {"euid": 42, "contacts": {"e-mail": "a@b"}})["code"] == 55102

def test_bad_in_process(engagelab_transport):
    requests.post("https://ma-api.engagelab.com/v1/user/contact", json={"euid": 1, "contacts": {}},
                  auth=(engagelab_transport.api_key, engagelab_transport.api_secret), timeout=5)
'''


def test_request_validation_fails_the_test_naming_rule_code_and_request(tmp_path: Path) -> None:
    _write(tmp_path, "test_app.py", VALIDATION)
    result = _run(tmp_path, "-rf")
    assert result.returncode == 1, result.stdout
    assert "2 failed, 2 passed" in result.stdout, result.stdout
    assert "FAILED test_app.py::test_bad " in result.stdout
    assert "FAILED test_app.py::test_bad_in_process " in result.stdout
    assert "rule euid.invalid -> code 55108" in result.stdout
    assert '{"euid": "42", "contacts": {"email": "a@b"}}' in result.stdout
    assert "rule contacts.empty -> code 55103" in result.stdout
    assert "5e987ac6d2e04d95a9d8f0d1" not in result.stdout  # the secret is never shown


def test_request_validation_can_be_switched_off_for_the_run(tmp_path: Path) -> None:
    _write(tmp_path, "test_app.py", VALIDATION)
    result = _run(tmp_path, "--engagelab-no-request-validation")
    assert result.returncode == 0, result.stdout
    assert "4 passed" in result.stdout


def test_no_server_or_port_left_after_a_failing_test(tmp_path: Path) -> None:
    _write(tmp_path, "test_app.py", '''
def test_fails(engagelab_mock, engagelab_mock_server):
    record(engagelab_mock_server, "fails")
    assert False, "on purpose"
''')
    result = _run(tmp_path)
    assert result.returncode == 1 and "1 failed" in result.stdout, result.stdout
    _assert_gone(_records(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.jsonl", "test_app.py"]


def test_no_server_left_after_an_interrupted_run(tmp_path: Path) -> None:
    _write(tmp_path, "test_app.py", '''
def test_interrupted(engagelab_mock, engagelab_mock_server):
    record(engagelab_mock_server, "interrupted")
    raise KeyboardInterrupt

def test_never_runs(engagelab_mock):
    pass
''')
    result = _run(tmp_path)
    assert result.returncode == 2, result.stdout  # pytest's "interrupted"
    _assert_gone(_records(tmp_path))


def test_no_server_left_when_the_test_run_is_killed_outright(tmp_path: Path) -> None:
    # SIGKILL gives pytest no chance to clean up: the server notices its parent's death (Linux).
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    _write(tmp_path, "test_app.py", '''
import time
def test_hangs(engagelab_mock, engagelab_mock_server):
    record(engagelab_mock_server, "hangs")
    time.sleep(120)
''')
    env = {**os.environ, "RECORD_FILE": str(tmp_path / "record.jsonl")}
    inner = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _records(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        inner.send_signal(signal.SIGKILL)
        inner.wait(timeout=30)
    _assert_gone(_records(tmp_path))


def test_each_xdist_worker_has_its_own_mock(tmp_path: Path) -> None:
    tests = "".join(f'''
def test_{i}(engagelab_mock, engagelab_mock_server):
    import requests
    record(engagelab_mock_server, "{i}")
    engagelab_mock.control.seed_user(1, {{"email": "{i}@example.com"}})
    assert engagelab_mock.control.user(1) == {{"email": "{i}@example.com"}}
    engagelab_mock.journal().assert_nothing_sent()
''' for i in range(6))
    _write(tmp_path, "test_app.py", tests)
    result = _run(tmp_path, "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    records = _records(tmp_path)
    workers = {r["worker"] for r in records}
    assert workers == {"gw0", "gw1"}
    urls_by_worker = {w: {r["url"] for r in records if r["worker"] == w} for w in workers}
    assert all(len(urls) == 1 for urls in urls_by_worker.values())  # once per session (per worker)
    assert len({url for urls in urls_by_worker.values() for url in urls}) == 2  # each its own instance
    _assert_gone(records)


def test_every_plugin_option_is_prefixed(pytestconfig: pytest.Config) -> None:
    # The plugin is loaded here through its entry point, beside every other plugin of this run.
    assert pytestconfig.pluginmanager.has_plugin("engagelab_mock")
    group = pytestconfig._parser.getgroup("engagelab")
    names = [name for option in group.options for name in option.names()]
    assert names and all(name.startswith("--engagelab-") for name in names), names
