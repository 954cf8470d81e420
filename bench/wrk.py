"""wrk: found (or installed with apt on a fresh root machine), driven with the mix script, its figures read back."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.console import BenchError
from bench.installs import executable
from bench.mix import LUA_SCRIPT

_MARKER = "BENCH_RESULT "


@dataclass(frozen=True)
class Load:
    """One wrk run's figures; latencies in milliseconds."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    non_2xx: int
    socket_errors: int
    timeouts: int


def ensure_wrk() -> str:
    """The wrk executable; installed with apt-get when missing (CI machines start without it)."""
    return executable("wrk", "wrk")


def run(wrk: str, url: str, data_file: Path, threads: int, connections: int, seconds: int,
        static: bool = False) -> Load:
    """``static``: the data holds one request (the example workload), which wrk then builds once
    per thread instead of calling the script for each request (see mix.lua)."""
    command = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
        "-s", str(LUA_SCRIPT), url, str(data_file), str(threads),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False,
                                env={**os.environ, "BENCH_STATIC": "1" if static else "0"})
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish a {seconds} s run against {url}") from None
    line = next((x for x in result.stdout.splitlines() if x.startswith(_MARKER)), None)
    if result.returncode or line is None:
        raise BenchError(f"wrk failed ({result.returncode}) against {url}: {(result.stderr or result.stdout)[-500:]}")
    raw = json.loads(line[len(_MARKER):])
    seconds_run = raw["duration_us"] / 1e6
    return Load(
        requests=raw["requests"],
        seconds=round(seconds_run, 3),
        rps=round(raw["requests"] / seconds_run, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
        non_2xx=raw["non_2xx"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"],
        timeouts=raw["timeouts"],
    )
