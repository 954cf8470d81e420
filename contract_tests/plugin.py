"""pytest integration: options, one parametrized item per case, reports at the end."""

from __future__ import annotations

import os
import random
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from engagelab_kit.contract_tests import checks, report, writers
from engagelab_kit.contract_tests.api import ContractRun, plan
from engagelab_kit.contract_tests.config import ENV_TARGET, Profile, RunConfig
from engagelab_kit.contract_tests.discovery import mock_credentials
from engagelab_kit.contract_tests.drift import ConfigError
from engagelab_kit.contract_tests.properties import PROPERTIES
from engagelab_kit.contract_tests.session import load_app

RUN_KEY = pytest.StashKey[ContractRun]()
CONFIG_KEY = pytest.StashKey[RunConfig]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("contract", "EngageLab contact API contract suite")
    g.addoption("--target", help=f"base URL of the target (env {ENV_TARGET}); default: in-process mock")
    g.addoption("--report-dir", help="write drift-report.json and summary.md here")
    g.addoption("--checks", default="", help="comma-separated check names (default: all)")
    g.addoption("--list-checks", action="store_true", help="list the checks and exit")
    g.addoption("--allow-writes", action="store_true", help="live targets: run success-path checks (needs --euid)")
    g.addoption("--euid", type=int, help="the only euid written on a live target")
    g.addoption("--budget", type=int, help="maximum number of requests (live default 250)")
    g.addoption("--rate", type=float, help="maximum requests per second (live default 5)")
    # Defaults live in RunConfig alone, so the CLI, pytest and the Python API agree.
    g.addoption("--max-latency", type=float, default=RunConfig.max_latency, help="flag answers slower than this (s)")
    g.addoption("--request-timeout", type=float, default=RunConfig.timeout, help="per-request timeout (seconds)")
    g.addoption("--max-examples", type=int, default=RunConfig.max_examples, help="hypothesis examples per property")
    g.addoption("--seed", type=int, help="hypothesis seed (printed; reuse it to reproduce)")
    g.addoption("--dry-run", action="store_true", help="list the requests that would be sent, send nothing")
    g.addoption("--profile", help="target profile (TOML or JSON): contact_types, http_status, rule_status")
    g.addoption("--app", help="in-process target: a WSGI app or factory as module:attr (default mock_server)")


def config_from_options(config: pytest.Config) -> RunConfig:
    opt = config.getoption
    profile_path = opt("--profile")
    run = RunConfig(
        target=opt("--target") or os.environ.get(ENV_TARGET) or None,
        profile=Profile.load(Path(profile_path)) if profile_path else Profile(),
        allow_writes=bool(opt("--allow-writes")),
        euid=opt("--euid"),
        budget=opt("--budget"),
        rate=opt("--rate"),
        max_latency=opt("--max-latency"),
        timeout=opt("--request-timeout"),
        checks=checks.select(tuple(c.strip() for c in (opt("--checks") or "").split(",") if c.strip())),
        max_examples=opt("--max-examples"),
        seed=opt("--seed") if opt("--seed") is not None else random.randrange(2**32),
        dry_run=bool(opt("--dry-run")),
        report_dir=Path(opt("--report-dir")) if opt("--report-dir") else None,
        app_factory=opt("--app"),
    )
    return mock_credentials(run.with_defaults())


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--list-checks", default=False):
        for name, doc in checks.describe().items():
            print(f"{name:20} {doc}")
        pytest.exit("listed checks", returncode=0)
    try:
        run_config = config_from_options(config)
    except (ConfigError, OSError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[CONFIG_KEY] = run_config
    if run_config.dry_run:
        print("\n".join(plan(run_config)))
        pytest.exit("dry run: nothing was sent", returncode=0)


def pytest_report_header(config: pytest.Config) -> str:
    return f"contract: {config.stash[CONFIG_KEY].banner()}"


def _run(config: pytest.Config) -> ContractRun:
    if RUN_KEY not in config.stash:
        run_config = config.stash[CONFIG_KEY]
        app = load_app(run_config.app_factory) if run_config.target is None else None
        config.stash[RUN_KEY] = ContractRun.open(run_config, app)
    return config.stash[RUN_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run_config = metafunc.config.stash[CONFIG_KEY]
    if "contract_case" in metafunc.fixturenames:
        from engagelab_kit.contract_tests.runner import build_cases

        cases = build_cases(run_config)
        metafunc.parametrize("contract_case", cases, ids=[c.id for c in cases])
    if "contract_property" in metafunc.fixturenames:
        metafunc.parametrize("contract_property", PROPERTIES, ids=[p.name for p in PROPERTIES])


@pytest.fixture(scope="session")
def contract_run(request: pytest.FixtureRequest) -> ContractRun:
    run = _run(request.config)
    items = request.session.items
    run.prefetch(_selected(items, "contract_case"), _selected(items, "contract_property"))
    return run


def _selected(items: list[pytest.Item], param: str) -> list[Any]:
    """The cases or properties pytest kept after selection (-k, --deselect): only those are sent."""
    chosen = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and param in callspec.params:
            chosen.append(callspec.params[param])
    return chosen


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    rep = yield
    run = item.config.stash.get(RUN_KEY, None)
    if run is not None and rep.longrepr is not None and run.session.redactor.secrets:
        # Last line of defence: nothing with a secret reaches the terminal or junit.
        redact = run.session.redactor.text
        if isinstance(rep.longrepr, tuple):
            # A skip's (path, line, reason): junit insists on the tuple.
            path, line, reason = rep.longrepr
            rep.longrepr = (path, line, redact(reason))
        else:
            rep.longrepr = redact(str(rep.longrepr))
    return rep


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(RUN_KEY, None)
    if run is None:
        return
    run_config = session.config.stash[CONFIG_KEY]
    if run_config.report_dir is not None:
        writers.write_reports(report.build(run), run_config.report_dir, run.session.redactor.text)
    run.close()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    data = report.build(run)
    terminalreporter.section("contract summary")
    terminalreporter.write_line(data["banner"])
    terminalreporter.write_line(f"verdict: {writers.verdict_line(data)}")
    for group in data["drift_groups"][:20]:
        terminalreporter.write_line(
            f"  {group['rule']}: {group['check']} expected {writers.text(group['expected'])}, observed "
            f"{writers.text(group['observed'])} ({group['count']}x)"
        )
