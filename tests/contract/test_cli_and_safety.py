"""The pytest/CLI layer, live-safety rules, redaction and a served loopback target."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faithful
import pytest
from deviants import DEVIANTS
from werkzeug.serving import make_server

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import Credentials, RunConfig, TargetKind
from engagelab_kit.contract_tests.api import prioritise
from engagelab_kit.contract_tests.runner import build_cases, skip_reason
from engagelab_kit.mock_server import create_app

ROOT = Path(__file__).resolve().parents[2]
SECRET = "5e987ac6d2e04d95a9d8f0d1"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)])}
    for name in ("CONTRACT_TARGET", "ENGAGELAB_API_KEY", "ENGAGELAB_API_SECRET"):
        base.pop(name, None)
    env = {**base, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "engagelab_kit.contract_tests.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_faithful_writes_reports(tmp_path: Path) -> None:
    """The documented live invocation, against the stdlib implementation: complete, no drift, exit 0."""
    with faithful.serve() as url:
        done = cli(
            "--target",
            url,
            "--allow-writes",
            "--euid",
            "77",
            "--report-dir",
            str(tmp_path / "r"),
            "--max-examples",
            "5",
            cwd=tmp_path,
            env=faithful.environment(),
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    data = json.loads((tmp_path / "r" / "drift-report.json").read_text())
    assert data["drift_groups"] == [] and data["coverage"]["complete"]
    assert data["rules"]["auth.project_deleted"]["verdict"] == "conform"
    assert data["rules"]["auth.status_hidden"]["verdict"] == "conform"
    assert data["notes"], "the 404/405 codes the faithful implementation picked are noted"
    junit = (tmp_path / "r" / "junit.xml").read_text()
    times = [float(t) for t in re.findall(r'<testcase [^>]*time="([0-9.]+)"', junit)]
    assert len(times) > 500 and all(t > 0 for t in times) and len(set(times)) > 50
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "conforms" in summary
    for repr_text in ("{'", "['", "None", "[]"):
        assert repr_text not in summary, repr_text
    assert faithful.SECRET not in done.stdout + done.stderr + summary


def test_cli_drift_exit_code_and_redaction(tmp_path: Path) -> None:
    done = cli(
        "--report-dir",
        str(tmp_path / "r"),
        "--app",
        "deviants:drifted_app",
        "--max-examples",
        "5",
        "--select",
        "value*",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    for name in ("junit.xml", "drift-report.json", "summary.md", "report.html"):
        text = (tmp_path / "r" / name).read_text()
        assert SECRET not in text, name
    assert SECRET not in done.stdout + done.stderr
    data = json.loads((tmp_path / "r" / "drift-report.json").read_text())
    group = data["drift_groups"][0]
    assert group["count"] >= 2 and group["sentence"] and group["reproduction"].startswith("curl ")
    assert len(data["drift_groups"]) < data["drift_count"]  # one entry per root cause
    assert "ENGAGELAB_API_SECRET" in (tmp_path / "r" / "summary.md").read_text()  # curl uses the env var


def test_unreachable_target_is_one_line_exit_3(tmp_path: Path) -> None:
    with faithful.serve() as plain_http:
        tls_to_plain = plain_http.replace("http://", "https://")  # a TLS handshake with a plain HTTP server
        targets = ("http://127.0.0.1:9", "http://no-such-host.invalid", tls_to_plain)
        for target in targets:
            _assert_unreachable(target, tmp_path)


def _assert_unreachable(target: str, tmp_path: Path) -> None:
    started = time.monotonic()
    done = cli("--target", target, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert time.monotonic() - started < 20
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and target in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_small_budget_is_incomplete_never_conform(tmp_path: Path) -> None:
    with faithful.serve() as url:
        done = cli(
            "--target",
            url,
            "--budget",
            "5",
            "--report-dir",
            str(tmp_path / "r"),
            cwd=tmp_path,
            env=faithful.environment(),
        )
        dry = cli("--target", url, "--budget", "5", "--dry-run", cwd=tmp_path, env=faithful.environment())
    assert done.returncode == 4, done.stdout[-2000:]
    assert "INCOMPLETE" in done.stdout
    data = json.loads((tmp_path / "r" / "drift-report.json").read_text())
    assert data["requests_sent"] == 5 and not data["coverage"]["complete"]
    assert "does NOT fit the budget of 5" in dry.stdout and dry.returncode == 0


def test_budget_touches_one_case_per_rule_first() -> None:
    config = RunConfig(target="https://ma-api.engagelab.com", budget=30).with_defaults(
        {"ENGAGELAB_API_KEY": "0123456789abcdef01234567", "ENGAGELAB_API_SECRET": "s3cr3t-value"}
    )
    ordered = prioritise(build_cases(config))
    rules = [c.rule for c in ordered]
    head = rules[: len(set(rules))]
    assert len(set(head)) == len(head), "every rule once before any rule twice"


def test_help_version_and_unknown_option(tmp_path: Path) -> None:
    helped = cli("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for option in (
        "--target",
        "--report-dir",
        "--allow-writes",
        "--euid",
        "--budget",
        "--rate",
        "--checks",
        "--select",
        "--list-checks",
        "--list-rules",
        "--max-latency",
        "--request-timeout",
        "--max-examples",
        "--seed",
        "--profile",
        "--baseline",
        "--fail-on",
        "--write-profile",
        "--dry-run",
        "--app",
        "--version",
    ):
        assert option in helped.stdout, option
    version = cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("engagelab-contract ")
    unknown = cli("--frobnicate", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "engagelab-contract: error: unrecognized arguments: --frobnicate" in unknown.stderr
    assert "pytest" not in unknown.stderr.lower()


def test_list_checks_rules_and_dry_run(tmp_path: Path) -> None:
    listed = cli("--list-checks", cwd=tmp_path)
    assert listed.returncode == 0 and "expected_code" in listed.stdout and "no_cors" in listed.stdout
    assert "Exit:" not in listed.stdout + listed.stderr
    rules = cli("--list-rules", cwd=tmp_path)
    assert rules.returncode == 0 and "| `auth.status_hidden` |" in rules.stdout and "Totals:" in rules.stdout
    dry = cli("--target", "https://api.example.invalid", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout[-2000:]
    assert "read-safe" in dry.stdout and "budget: 250" in dry.stdout and "budget of 250" in dry.stdout
    assert "curl" in dry.stdout


def test_baseline_and_profile(tmp_path: Path) -> None:
    first = cli(
        "--app",
        "deviants:drifted_app",
        "--select",
        "value-257*",
        "--report-dir",
        str(tmp_path / "a"),
        "--write-profile",
        str(tmp_path / "accepted.toml"),
        cwd=tmp_path,
    )
    assert first.returncode == 1
    again = cli(
        "--app",
        "deviants:drifted_app",
        "--select",
        "value-257*",
        "--report-dir",
        str(tmp_path / "b"),
        "--baseline",
        str(tmp_path / "a" / "drift-report.json"),
        "--fail-on",
        "new",
        cwd=tmp_path,
    )
    data = json.loads((tmp_path / "b" / "drift-report.json").read_text())
    assert {g["status"] for g in data["drift_groups"]} == {"unchanged"}
    assert again.returncode == 4  # nothing new, but --select made it incomplete
    fresh = cli(
        "--select",
        "value-257*",
        "--report-dir",
        str(tmp_path / "c"),
        "--baseline",
        str(tmp_path / "a" / "drift-report.json"),
        cwd=tmp_path,
    )
    gone = json.loads((tmp_path / "c" / "drift-report.json").read_text())["gone"]
    assert gone and all(g["status"] == "gone" for g in gone) and fresh.returncode == 4
    accepted = cli(
        "--app",
        "deviants:drifted_app",
        "--select",
        "value-257*",
        "--profile",
        str(tmp_path / "accepted.toml"),
        cwd=tmp_path,
    )
    assert accepted.returncode == 4, accepted.stdout[-2000:]


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
    with faithful.in_thread(make_server("127.0.0.1", 0, create_app(), threaded=True)) as url:
        yield url


def test_served_loopback_target(werkzeug_url: str) -> None:
    result = contract_tests.run(RunConfig(target=werkzeug_url, seed=7, max_examples=5).with_defaults({}))
    assert [o.case_id for o in result.drifted] == []
    assert result.session.sent > 500


def test_cli_against_make_serve_checks_everything(tmp_path: Path, served: Any) -> None:
    """`make serve` with no flags: the demo deleted-project and deleted-data-source credentials are
    discovered from the mock's control API, so no rule is left unverified for want of them."""
    served.control("POST", "/reset")
    done = cli("--target", served.url, "--report-dir", str(tmp_path / "r"), "--max-examples", "5", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    data = json.loads((tmp_path / "r" / "drift-report.json").read_text())
    assert data["coverage"]["rules_not_verified"] == {} and data["coverage"]["rules_partly_verified"] == {}
    for rule in ("auth.project_deleted", "auth.datasource_deleted", "auth.status_hidden"):
        assert data["rules"][rule]["verdict"] == "conform", rule
    assert data["drift_groups"] == []
    assert "deleted-project-secret" not in (tmp_path / "r" / "summary.md").read_text()


def test_mock_lists_its_credentials_only_with_the_token() -> None:
    from engagelab_kit.mock_server.settings import Settings

    client = create_app(Settings(control_token="t0ken")).test_client()
    assert client.get("/__mock/credentials").status_code == 401
    listed = client.get("/__mock/credentials", headers={"X-Mock-Token": "t0ken"}).get_json()["projects"]
    assert {p["status"] for p in listed} == {"active", "project_deleted", "datasource_deleted"}
    assert all(p["key"] and p["secret"] for p in listed)
