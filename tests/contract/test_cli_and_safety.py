"""The pytest/CLI layer, live-safety rules, redaction and a served loopback target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deviants import DEVIANTS
from werkzeug.serving import make_server

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import Credentials, RunConfig, TargetKind
from engagelab_kit.contract_tests.runner import build_cases, skip_reason
from engagelab_kit.mock_server import create_app

ROOT = Path(__file__).resolve().parents[2]
SECRET = "5e987ac6d2e04d95a9d8f0d1"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)])}
    for name in ("CONTRACT_TARGET", "ENGAGELAB_API_KEY", "ENGAGELAB_API_SECRET"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "engagelab_kit.contract_tests.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_faithful_writes_reports(tmp_path: Path) -> None:
    done = cli("--report-dir", str(tmp_path / "r"), "--max-examples", "5", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
    data = json.loads((tmp_path / "r" / "drift-report.json").read_text())
    assert data["totals"]["drift"] == 0
    assert data["rules"]["auth.project_deleted"]["verdict"] == "conform"
    assert data["codes"]["55104"]["verdict"] == "conform"
    assert "<testsuite" in (tmp_path / "r" / "junit.xml").read_text()
    assert "| 55108 | conform |" in (tmp_path / "r" / "summary.md").read_text()


def test_cli_drift_exit_code_and_redaction(tmp_path: Path) -> None:
    done = cli(
        "--report-dir",
        str(tmp_path / "r"),
        "--app",
        "deviants:drifted_app",
        "--max-examples",
        "5",
        "-k",
        "value",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout[-2000:]
    for name in ("junit.xml", "drift-report.json", "summary.md"):
        text = (tmp_path / "r" / name).read_text()
        assert SECRET not in text, name
    assert SECRET not in done.stdout
    assert "ENGAGELAB_API_SECRET" in (tmp_path / "r" / "summary.md").read_text()  # curl uses the env var


def test_list_checks_and_dry_run(tmp_path: Path) -> None:
    listed = cli("--list-checks", cwd=tmp_path)
    assert listed.returncode == 0 and "expected_code" in listed.stdout and "latency" in listed.stdout
    dry = cli("--target", "https://api.example.invalid", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout[-2000:]
    assert "read-safe" in dry.stdout and "budget: 250" in dry.stdout
    assert "curl" in dry.stdout


def test_remote_targets_are_read_safe() -> None:
    env = {"ENGAGELAB_API_KEY": "0123456789abcdef01234567", "ENGAGELAB_API_SECRET": "s3cr3t-value"}
    config = RunConfig(target="https://ma-api.engagelab.com").with_defaults(env)
    assert config.kind is TargetKind.REMOTE and not config.writes
    assert config.budget and config.rate and config.deleted_project is None
    cases = build_cases(config)
    runnable = [c for c in cases if not skip_reason(c, config)]
    assert runnable and all(c.writes_euid is None for c in runnable)
    assert all(c.code != 0 for c in runnable)
    skipped = {skip_reason(c, config) for c in cases} - {""}
    assert any("DELETED_PROJECT" in s for s in skipped)
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in repr(runnable[0].request)
    writes = RunConfig(target="https://ma-api.engagelab.com", allow_writes=True, euid=42).with_defaults(env)
    written = {c.writes_euid for c in build_cases(writes) if not skip_reason(c, writes)}
    assert written <= {None, 42} and 42 in written
    with pytest.raises(contract_tests.ConfigError):
        RunConfig(target="https://ma-api.engagelab.com", allow_writes=True).with_defaults(env)


def test_loopback_is_local() -> None:
    for url in ("http://127.0.0.1:1", "http://127.5.0.1", "http://[::1]:80", "http://localhost:9"):
        assert RunConfig(target=url).kind is TargetKind.LOOPBACK
    assert RunConfig(target="http://10.0.0.1").kind is TargetKind.REMOTE


def test_secret_redacted_from_drift_text() -> None:
    creds = Credentials("7d431e42dfa6a6d693ac2d04", SECRET)
    result = contract_tests.run(
        RunConfig(credentials=creds, seed=1, max_examples=3).with_defaults({}),
        app=DEVIANTS[4].build(create_app()),
        select=("secret-*",),
        properties=False,
    )
    assert result.drifted
    for outcome in result.drifted:
        assert outcome.error is not None and SECRET not in str(outcome.error)


@pytest.fixture()
def werkzeug_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_served_loopback_target(werkzeug_url: str) -> None:
    result = contract_tests.run(RunConfig(target=werkzeug_url, seed=7, max_examples=5).with_defaults({}))
    assert [o.case_id for o in result.drifted] == []
    assert result.session.sent > 500
    assert all(o.reason == "" for o in result.outcomes if o.verdict == "not checked" and "deleted" not in o.reason)


def test_cli_against_the_served_mock_reports_skips(tmp_path: Path, served: Any) -> None:
    """A real served target, without deleted-project credentials: skips must reach junit intact."""
    served.control("POST", "/reset")
    done = cli("--target", served.url, "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "INTERNALERROR" not in done.stdout + done.stderr
    junit = (tmp_path / "r" / "junit.xml").read_text()
    assert "<skipped" in junit and SECRET not in junit
    data = json.loads((tmp_path / "r" / "drift-report.json").read_text())
    assert data["totals"]["drift"] == 0
    assert data["rules"]["auth.project_deleted"]["verdict"] == "not checked"
