"""The benchmark's parts that decide verdicts, unit-tested; then one quick run end to end that reports
every figure. No performance target is asserted here: the figures are whatever the machine gives."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench import nginx, reference_app
from bench.measure import EXAMPLE, MIX, Run, ServerRun
from bench.procs import kib_field
from bench.report import (
    FLOOR,
    MOCK,
    NGINX,
    WIREMOCK,
    Results,
    relative,
    throughput_summary,
    throughput_verdicts,
    verdicts,
)
from bench.wrk import Load
from tests.conftest import ROOT

SUCCESS = '{"code":0,"message":"success"}'


def _directives(conf: str) -> list[str]:
    """The config's statements (up to each ``;``, ``{`` or ``}`` outside quotes), comments dropped,
    whitespace collapsed."""
    text = re.sub(r"#[^\n]*", "", conf)
    return [" ".join(part.split()) for part in re.findall(r"((?:'[^']*'|[^;{}'])+)[;{}]", text) if part.strip()]


def test_nginx_config_serves_the_success_body_on_loopback_with_one_worker_and_no_access_log(tmp_path: Path) -> None:
    statements = _directives(nginx.config(18123, tmp_path))
    for expected in ("daemon off", "master_process on", f"worker_processes {nginx.WORKER_PROCESSES}",
                     "access_log off", "default_type application/json", "listen 127.0.0.1:18123",
                     "location = /v1/user/contact", f"return 200 '{SUCCESS}'"):
        assert expected in statements, (expected, statements)
    assert nginx.WORKER_PROCESSES == 1
    # Keep-alive stays on, and is not cut every 1000 requests as by nginx's default.
    keepalive = next(s for s in statements if s.startswith("keepalive_requests "))
    assert int(keepalive.split()[1]) >= 10**6
    assert not any(s.startswith("keepalive_timeout 0") for s in statements)


def test_nginx_config_writes_only_under_its_own_prefix(tmp_path: Path) -> None:
    statements = _directives(nginx.config(18123, tmp_path))
    writers = [s for s in statements if s.startswith(("pid ", "error_log ")) or "_temp_path " in s]
    assert len(writers) == 7  # pid, error_log, five temp paths: nginx's defaults would be under /var
    for statement in writers:
        assert statement.split()[1].startswith(f"{tmp_path}/"), statement


def test_nginx_command_gets_a_directory_of_its_own_per_port_and_runs_unprivileged() -> None:
    found = nginx.Nginx("/usr/sbin/nginx", "1.0")
    with nginx.scratch() as scratch:
        assert scratch.stat().st_mode & 0o777 == 0o711
        first, second = nginx.command(found, scratch, 18001), nginx.command(found, scratch, 18002)
        conf = Path(first[first.index("-c") + 1])
        assert conf.parent == scratch / "port-18001" and "listen 127.0.0.1:18001" in conf.read_text()
        assert Path(second[second.index("-c") + 1]).parent == scratch / "port-18002"
        assert first[first.index("-p") + 1] == str(conf.parent)
        if os.geteuid() == 0:
            # setpriv execs nginx with nobody's IDs: the PID held is nginx's, its master is not root.
            nobody = pwd.getpwnam("nobody")
            assert Path(first[0]).name == "setpriv" and f"--reuid={nobody.pw_uid}" in first
            assert conf.parent.stat().st_uid == nobody.pw_uid
        else:
            assert first[0] == found.executable
    assert not scratch.exists()


def _server(name: str, rps: float, workloads: tuple[str, ...] = (EXAMPLE,)) -> ServerRun:
    load = Load(requests=int(rps * 10), seconds=10.0, rps=rps, p50_ms=0.5, p90_ms=1.0, p99_ms=2.0, max_ms=5.0,
                mean_ms=0.6, non_2xx=0, socket_errors=0, timeouts=0)
    return ServerRun(name=name, command=[name], ready_s=0.2, ready_samples=[0.2], rss_idle_mb=60.0, rss_mb=90.0,
                     pss_mb=70.0, runs={w: Run(load, 30.0) for w in workloads})


def _results(mock_rps: float, nginx_rps: float | None, wiremock_rps: float | None) -> Results:
    results = Results(settings={}, mix="")
    results.servers[MOCK] = _server(MOCK, mock_rps, (EXAMPLE, MIX))
    for name, rps in ((NGINX, nginx_rps), (WIREMOCK, wiremock_rps)):
        if rps is None:
            results.notes[name] = "skipped (--no-thing)"
        else:
            results.servers[name] = _server(name, rps)
    return results


@pytest.mark.parametrize(("mine", "factor", "theirs", "outcome"), [
    (38_000.0, 0.5, 76_000.0, "PASS"),  # exactly half: the boundary passes
    (37_999.9, 0.5, 76_000.0, "FAIL"),
    (56_400.0, 2.0, 28_200.0, "PASS"),  # exactly twice
    (56_399.9, 2.0, 28_200.0, "FAIL"),
    (1_300.0, 1.3, 1_000.0, "PASS"),
])
def test_relative_verdict_passes_from_the_boundary_up(mine: float, factor: float, theirs: float,
                                                      outcome: str) -> None:
    verdict = relative("t", mine, factor, "ref", theirs)
    assert verdict.outcome == outcome
    assert f"{factor * theirs / 1000:.1f}k needed" in verdict.detail


def test_throughput_target_is_judged_absolute_and_relative_and_shows_both() -> None:
    # A slow machine: the absolute figure fails while both ratios of the definition hold.
    results = _results(mock_rps=41_200, nginx_rps=76_100, wiremock_rps=20_000)
    absolute, half_nginx, twice_wiremock = throughput_verdicts(results)
    assert (absolute.outcome, half_nginx.outcome, twice_wiremock.outcome) == ("FAIL", "PASS", "PASS")
    assert "nginx" in half_nginx.target and "WireMock" in twice_wiremock.target
    summary = throughput_summary(results)
    assert summary == ("example throughput: 60k req/s absolute: FAIL (41.2k); "
                       "half of nginx's ceiling (38.0k of 76.1k): PASS; twice WireMock (40.0k of 20.0k): PASS")
    # The three are among the targets the run prints.
    assert [v.target for v in verdicts(results)[:3]] == [absolute.target, half_nginx.target, twice_wiremock.target]


def test_throughput_target_fails_relative_on_a_fast_machine_and_says_why_a_reference_is_missing() -> None:
    fast = throughput_verdicts(_results(mock_rps=61_000, nginx_rps=130_000, wiremock_rps=None))
    assert [v.outcome for v in fast] == ["PASS", "FAIL", "n/a"]
    assert fast[2].detail == "WireMock skipped (--no-thing)"
    summary = throughput_summary(_results(mock_rps=61_000, nginx_rps=130_000, wiremock_rps=None))
    assert summary is not None and summary.endswith("twice WireMock: n/a (WireMock skipped (--no-thing))")
    assert "60k req/s absolute: PASS (61.0k); half of nginx's ceiling (65.0k of 130.0k): FAIL" in summary


SMAPS_ROLLUP = """\
560bb5a80000-7ffccd6cc000 ---p 00000000 00:00 0                          [rollup]
Rss:                1768 kB
Pss_Dirty:           116 kB
Pss_Anon:            111 kB
Pss:                 297 kB
Pss_File:            181 kB
Shared_Clean:       1608 kB
"""


def test_pss_is_read_from_its_own_line_of_smaps_rollup() -> None:
    assert kib_field(SMAPS_ROLLUP, "Pss") == 297  # not Pss_Dirty or Pss_Anon, listed before it
    assert kib_field(SMAPS_ROLLUP, "Rss") == 1768
    assert kib_field(SMAPS_ROLLUP, "Swap") == 0
    live = Path("/proc/self/smaps_rollup").read_text()
    assert 0 < kib_field(live, "Pss") <= kib_field(live, "Rss")


def test_the_bench_serves_its_references_without_the_mocks_serving_code() -> None:
    # The mock's serving layer is being replaced; the references must not move with it.
    command = reference_app.command(sys.executable, "bare_flask", 18003)
    assert command[1:3] == ["-m", "granian"] and "wsgi" in command and command[-1] == "bench.reference_app:bare_flask"
    probe = ("import sys, bench.cli; "
             "print(sorted(m for m in sys.modules if m.startswith(('granian', 'engagelab_kit.mock_server.'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    for module in ("granian", "engagelab_kit.mock_server.serve", "engagelab_kit.mock_server.rsgi",
                   "engagelab_kit.mock_server.lifecycle"):
        assert f"'{module}'" not in loaded.stdout, loaded.stdout


SERVERS = ("mock", "bare Flask")
# server, req/s, p50 ms, p99 ms, non-2xx %, errors, CPU us/req, RSS idle / load, PSS, ready s
ROW = re.compile(r"^(?P<name>mock|bare Flask|nginx ceiling|serving floor)\s+(?P<rps>\d+)\s+[\d.]+\s+(?P<p99>[\d.]+)"
                 r"\s+[\d.]+%"
                 r"\s+\d+\s+(?P<cpu>[\d.]+)\s+[\d.]+ / (?P<rss>[\d.]+)\s+(?P<pss>[\d.]+)\s+(?P<ready>[\d.]+)$",
                 re.MULTILINE)


@pytest.mark.served
# wrk is apt-installed by the script on a fresh machine: that alone may take minutes.
@pytest.mark.timeout(1200)
def test_quick_benchmark_prints_every_figure_for_the_mock_and_the_references(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--no-prism", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1100, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    headers = [line for line in result.stdout.splitlines() if line.startswith("server ")]
    assert len(headers) == 2  # one table per workload: the page's example, the mix
    for column in ("req/s", "p99 ms", "CPU us/req", "RSS MB", "PSS MB", "ready s"):
        assert column in headers[0]
    rows = list(ROW.finditer(result.stdout))
    # nginx, the ceiling, on the example only: the relative target is judged there.
    assert sorted(m["name"] for m in rows) == sorted([*SERVERS, *SERVERS, NGINX, FLOOR]), result.stdout
    for row in rows:
        assert int(row["rps"]) > 0 and float(row["cpu"]) > 0 and float(row["ready"]) > 0
        assert 0 < float(row["pss"]) <= float(row["rss"])
    assert "example: mock / bare Flask: throughput" in result.stdout
    assert "mix: mock / bare Flask: throughput" in result.stdout
    assert "example: mock / nginx ceiling: throughput" in result.stdout
    assert "example: mock / serving floor: throughput" in result.stdout
    assert "worker_processes 1" in result.stdout
    summary = next(line for line in result.stdout.splitlines() if line.startswith("example throughput: "))
    assert re.search(r"60k req/s absolute: (PASS|FAIL) \(\d+\.\dk\); half of nginx's ceiling "
                     r"\(\d+\.\dk of \d+\.\dk\): (PASS|FAIL); twice WireMock: n/a", summary), summary
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
    assert figures["servers"][NGINX]["runs"]["example"]["load"]["non_2xx"] == 0
    assert figures["settings"]["nginx_worker_processes"] == 1
    by_target = {v["target"]: v["outcome"] for v in figures["verdicts"]}
    assert by_target["example >= 0.5x nginx ceiling (same run)"] in {"PASS", "FAIL"}
    # Every target is judged or says why not.
    assert {v["outcome"] for v in figures["verdicts"]} <= {"PASS", "FAIL", "n/a"}


def _first_request(static: bool, data: Path) -> tuple[str, dict[str, str], bytes]:
    """What wrk sends first for the example workload: its request line, headers and body."""
    from bench import wrk

    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        while not seen:  # wrk opens (and closes at once) a connection before its load's
            conn, _ = listener.accept()
            with conn:
                data = more = conn.recv(65536)
                while more and (b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data)):
                    more = conn.recv(65536)
                    data += more
                if data:
                    seen.append(data)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with contextlib.suppress(Exception):  # wrk reports the closed connections: only what it sent counts
        wrk.run(wrk.ensure_wrk(), url, data, 1, 1, 1, static)
    thread.join(10)
    listener.close()
    head, body = seen[0].split(b"\r\n\r\n", 1)
    line, *fields = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
    assert headers["host"] == url.removeprefix("http://")
    return line, {**headers, "host": "(the target)"}, body


def _length(data: bytes) -> int:
    found = re.search(rb"(?i)content-length:\s*(\d+)", data)
    return int(found.group(1)) if found else 0


@pytest.mark.served
@pytest.mark.timeout(600)
def test_wrk_sends_the_same_example_request_built_once_as_built_per_request(tmp_path: Path) -> None:
    from bench import mix

    data = tmp_path / "example.lua"
    data.write_text(mix.lua_data(example_only=True))
    static, dynamic = _first_request(True, data), _first_request(False, data)
    assert static == dynamic
    assert static[0] == f"POST {mix.PATH} HTTP/1.1" and "host" in static[1] and "authorization" in static[1]
    assert json.loads(static[2]) == json.loads(mix.PROBE.body)
