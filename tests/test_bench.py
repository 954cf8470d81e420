"""The benchmark runs end to end and reports every figure; no performance target is asserted here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.served

SERVERS = ("mock", "bare Flask")
# server, req/s, p50 ms, p99 ms, non-2xx %, errors, CPU us/req, RSS idle / load, ready s
ROW = re.compile(r"^(?P<name>mock|bare Flask)\s+(?P<rps>\d+)\s+[\d.]+\s+(?P<p99>[\d.]+)\s+[\d.]+%\s+\d+"
                 r"\s+(?P<cpu>[\d.]+)\s+[\d.]+ / (?P<rss>[\d.]+)\s+(?P<ready>[\d.]+)$", re.MULTILINE)


# wrk is apt-installed by the script on a fresh machine: that alone may take minutes.
@pytest.mark.timeout(1200)
def test_quick_benchmark_prints_every_figure_for_the_mock_and_the_reference(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--no-prism", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1100, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    headers = [line for line in result.stdout.splitlines() if line.startswith("server")]
    assert len(headers) == 2  # one table per workload: the page's example, the mix
    for column in ("req/s", "p99 ms", "CPU us/req", "RSS MB", "ready s"):
        assert column in headers[0]
    rows = list(ROW.finditer(result.stdout))
    assert sorted(m["name"] for m in rows) == sorted(SERVERS * 2), result.stdout
    for row in rows:
        assert int(row["rps"]) > 0 and float(row["cpu"]) > 0 and float(row["rss"]) > 0 and float(row["ready"]) > 0
    assert "example: mock / bare Flask: throughput" in result.stdout
    assert "mix: mock / bare Flask: throughput" in result.stdout
    figures = json.loads(out.read_text())
    for name in SERVERS:
        server = figures["servers"][name]
        for workload in ("example", "mix"):
            run = server["runs"][workload]
            assert run["load"]["rps"] > 0 and run["load"]["p99_ms"] > 0 and run["cpu_us_per_request"] > 0
        assert server["rss_mb"] > 0 and server["ready_s"] > 0
    mock_mix = figures["servers"]["mock"]["runs"]["mix"]["load"]
    # The mix is what it claims: a fifth of the mock's answers are errors, none of Flask's;
    # the example is the page's request, always answered with success.
    assert 0.15 < mock_mix["non_2xx"] / mock_mix["requests"] < 0.25
    assert figures["servers"]["bare Flask"]["runs"]["mix"]["load"]["non_2xx"] == 0
    assert figures["servers"]["mock"]["runs"]["example"]["load"]["non_2xx"] == 0
    # Every target is judged or says why not.
    assert {v["outcome"] for v in figures["verdicts"]} <= {"PASS", "FAIL", "n/a"}
