"""The contract suite's speed: its request rate over HTTP against what one requests.Session can do at all,
and its wall time against the in-process mock."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

from bench.console import BenchError
from bench.mix import PROBE

# The mock keeps the last 10000 journal entries by default; the suite may send more.
JOURNAL_SIZE = 200_000
JOURNAL_CONFIG = f"[control]\njournal_size = {JOURNAL_SIZE}\n"
_JOURNAL_READ_LIMIT = 100_000  # the control API's maximum
_OUTCOMES = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)\b")
_SUITE_TIMEOUT = 900
Completed = subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class SuiteOverHttp:
    requests: int  # business requests in the mock's journal
    span_s: float  # first to last journal entry
    rate: float  # requests per second over that span
    busy_s: float  # the mock's own handling time, summed over the journal
    wall_s: float  # the whole pytest process
    exit_code: int


@dataclass(frozen=True)
class SuiteInProcess:
    wall_s: float
    tests: int
    outcomes: dict[str, int]
    exit_code: int


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # as the suite's own transport: no proxy or netrc look-ups per call
    return session


def client_rate(base_url: str, seconds: float) -> float:
    """Sequential POSTs per second from one ``requests.Session`` (the suite's HTTP client)."""
    url = base_url + PROBE.path
    with _session() as session:
        for _ in range(50):  # connection and code paths warm before timing
            session.post(url, data=PROBE.body, headers=PROBE.headers, timeout=10)
        calls = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            session.post(url, data=PROBE.body, headers=PROBE.headers, timeout=10)
            calls += 1
    return calls / elapsed


def _pytest(python: str, root: Path, env: Mapping[str, str], *extra: str) -> tuple[Completed, float]:
    command = [python, "-m", "pytest", "contract_tests", "-q", "-p", "no:cacheprovider", *extra]
    started = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=root, env=dict(env), capture_output=True, text=True,
                                timeout=_SUITE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"`pytest contract_tests` ran over {_SUITE_TIMEOUT} s") from None
    wall = time.perf_counter() - started
    if result.returncode in (2, 4, 5):  # interrupted, usage error, nothing collected
        lines = [x.strip() for x in (result.stderr + result.stdout).splitlines() if x.strip()] or ["no output"]
        reason = next((x for x in reversed(lines) if "error" in x.lower()), lines[-1])
        raise BenchError(f"pytest exit {result.returncode}: {reason[:300]}")
    return result, wall


def over_http(python: str, root: Path, env: Mapping[str, str], mock_url: str) -> SuiteOverHttp:
    """Run the suite against a served mock (started with ``JOURNAL_CONFIG``) and count what it sent."""
    with _session() as session:
        session.post(f"{mock_url}/__mock/reset", timeout=10).raise_for_status()
        result, wall = _pytest(python, root, env, "--target", mock_url)
        reply = session.get(f"{mock_url}/__mock/journal", params={"limit": _JOURNAL_READ_LIMIT}, timeout=60)
        reply.raise_for_status()
    entries = reply.json()["entries"]
    if len(entries) < 2:
        raise BenchError(f"the suite sent {len(entries)} requests to the mock (pytest exit {result.returncode})")
    if len(entries) >= _JOURNAL_READ_LIMIT:
        raise BenchError(f"the suite sent over {_JOURNAL_READ_LIMIT} requests: the journal cannot count them")
    span = (datetime.fromisoformat(entries[-1]["time"]) - datetime.fromisoformat(entries[0]["time"])).total_seconds()
    return SuiteOverHttp(
        requests=len(entries),
        span_s=round(span, 3),
        # n entries stamped over the span are n - 1 intervals; the ms stamps make a 0 span possible.
        rate=round((len(entries) - 1) / max(span, 0.001), 1),
        busy_s=round(sum(e["duration_ms"] for e in entries) / 1000, 3),
        wall_s=round(wall, 2),
        exit_code=result.returncode,
    )


def in_process(python: str, root: Path, env: Mapping[str, str]) -> SuiteInProcess:
    """The default suite, no --target: wall time of the whole pytest process, and its test count."""
    result, wall = _pytest(python, root, env)
    summary = next((line for line in reversed(result.stdout.splitlines()) if _OUTCOMES.search(line)), "")
    outcomes = {kind.rstrip("s") if kind.startswith("error") else kind: int(n)
                for n, kind in _OUTCOMES.findall(summary)}
    if not outcomes:
        raise BenchError(f"no test summary in pytest's output (exit {result.returncode})")
    return SuiteInProcess(round(wall, 2), sum(outcomes.values()), outcomes, result.returncode)
