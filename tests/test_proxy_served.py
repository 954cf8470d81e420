"""`engagelab-mock proxy` as users run it: in front of the served mock, the whole contract table and the
suite's properties pass through with zero findings; reports at shutdown; options refused clearly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from proxy_harness import AUTH, DELETED, SECRET

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import RunConfig

if TYPE_CHECKING:
    from tests.conftest import Served

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.served


class ServedProxy:
    def __init__(self, *args: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix="proxy-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engagelab_kit.mock_server.cli", "proxy", "--port", "0", *args],
                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = re.search(r"serving on (http://\S+)", self.output())
            if match:
                self.url = match.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"proxy did not start: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def summary(self) -> dict[str, int]:
        data: dict[str, int] = requests.get(f"{self.url}/__mock/proxy/summary", timeout=5).json()
        return data

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def test_whole_contract_table_through_the_proxy_has_zero_findings(served: Served, tmp_path: Path) -> None:
    proxy = ServedProxy("--upstream", served.url, "--report-dir", str(tmp_path / "rep"), "--har",
                        str(tmp_path / "ev.har"))
    try:
        assert proxy.url.startswith("http://127.0.0.1:")  # loopback unless told otherwise
        config = RunConfig(target=proxy.url, seed=7, max_examples=10).with_defaults(DELETED)
        result = contract_tests.run(config)
        assert result.drifted == []
        sent = result.session.sent
        assert sent > 600 and not [o for o in result.outcomes if o.verdict == "not checked" and "needs" in o.reason]
        deadline = time.monotonic() + 5
        while proxy.summary()["exchanges"] < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        summary = proxy.summary()
        assert {k: type(summary[k]) for k in ("exchanges", "drift", "client_errors")} == dict.fromkeys(
            ("exchanges", "drift", "client_errors"), int)
        assert (summary["exchanges"], summary["drift"], summary["upstream_failures"]) == (sent, 0, 0)
        assert summary["client_errors"] > 500  # most of the table is requests the spec rejects
        on_demand = requests.post(f"{proxy.url}/__mock/proxy/report", timeout=10).json()
        assert str(tmp_path / "rep" / "drift-report.json") in on_demand["written"]
    finally:
        code = proxy.stop()
    assert code == 0, proxy.output()
    data = json.loads((tmp_path / "rep" / "drift-report.json").read_text())
    assert data["proxy"]["drift"] == 0 and data["drifts"] == [] and data["groups"] == []
    covered = {rule for rule, r in data["rules"].items() if r["verdict"] == "conform"}
    assert covered >= {"route.path", "route.method", "auth.header", "auth.key_format", "body.size", "body.json",
                       "euid.invalid", "contacts.count", "entry.value_length", "success"}
    for path in [tmp_path / "ev.har", *(tmp_path / "rep").iterdir()]:
        text = path.read_text()
        assert SECRET not in text and AUTH.split()[1] not in text, path
    assert SECRET not in proxy.output()


def test_sigint_writes_the_report_and_exits_zero(served: Served, tmp_path: Path) -> None:
    proxy = ServedProxy("--upstream", served.url, "--report-dir", str(tmp_path))
    try:
        answer = requests.get(f"{proxy.url}/v1/user/contact", headers={"Authorization": AUTH}, timeout=5)
        assert answer.status_code == 405
    finally:
        code = proxy.stop(signal.SIGINT)
    assert code == 0
    data = json.loads((tmp_path / "drift-report.json").read_text())
    assert (data["proxy"]["exchanges"], data["proxy"]["client_errors"]) == (1, 1)
    assert {"summary.md", "report.html"} <= set(os.listdir(tmp_path))


@pytest.mark.parametrize(("args", "needle"), [
    (["--upstream", "ftp://example.com"], "http(s) base URL"),
    (["--upstream", "https://example.com", "--upstream-ca", "/nonexistent.pem"], "no such file"),
    (["--upstream", "http://127.0.0.1:9", "--timeout", "0"], "must be positive"),
])
def test_bad_options_are_refused(args: list[str], needle: str) -> None:
    done = subprocess.run([sys.executable, "-m", "engagelab_kit.mock_server.cli", "proxy", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert done.returncode == 2 and needle in done.stderr


def test_a_held_port_is_refused(served: Served) -> None:
    port = served.url.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "engagelab_kit.mock_server.cli", "proxy", "--upstream", served.url,
                           "--port", port], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert done.returncode == 2 and "cannot listen" in done.stderr
