"""What the validation proxy adds to each call: latency through it versus straight to the upstream.

Serves the mock (`engagelab-mock serve`, as `make serve` does) and the proxy in
front of it (`engagelab-mock proxy`), both on loopback, then sends the same
requests both ways from one keep-alive client, alternating call by call so that
both see the same machine load. Prints p50/p99 of each way and of the per-call
difference (proxy minus direct). Both processes are stopped by their PIDs.

    .venv/bin/python bench/proxy_overhead.py [--requests N] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engagelab_kit.mock_server.served_mock import terminate

ROOT = Path(__file__).resolve().parent.parent
AUTH = "Basic N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ=="
# A success (a write) and a rejection by a later rule, as an application's traffic mixes them.
BODIES = (
    b'{"euid":10362473,"contacts":{"mobile_phone":"18023456879","email":"12@gmail.com"}}',
    b'{"euid":"10362473","contacts":{"email":"12@gmail.com"}}',
)


class Process:
    def __init__(self, *args: str) -> None:
        self.health = "/__mock/proxy/summary" if args[0] == "proxy" else "/__mock/health"
        self.log = Path(tempfile.mkstemp(prefix="bench-proxy-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "engagelab_kit.mock_server.cli", *args],
                                         stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"serving on (http://\S+)", self.log.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                self._ready(deadline)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise SystemExit(f"{args[0]} did not start: {self.log.read_text(errors='replace')}")

    def _ready(self, deadline: float) -> None:
        """Granian prints its URL once bound; its worker answers a moment later."""
        while time.monotonic() < deadline:
            try:
                conn = _connection(self.url)
                conn.request("GET", self.health)
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        terminate(self.proc, timeout=20)
        self.log.unlink(missing_ok=True)


def _connection(url: str) -> http.client.HTTPConnection:
    host, port = url.split("//", 1)[1].split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def _call(conn: http.client.HTTPConnection, body: bytes) -> float:
    started = time.perf_counter()
    conn.request("POST", "/v1/user/contact", body, {"Authorization": AUTH, "Content-Type": "application/json"})
    reply = conn.getresponse()
    reply.read()
    elapsed = time.perf_counter() - started
    if reply.status not in (200, 400):
        raise SystemExit(f"unexpected answer {reply.status}")
    return elapsed


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def measure(requests: int) -> dict[str, float]:
    mock = Process("serve", "--port", "0")
    proxy = Process("proxy", "--upstream", mock.url, "--port", "0", "--quiet")
    try:
        direct, through = _connection(mock.url), _connection(proxy.url)
        for i in range(min(200, requests)):  # warm-up: connections, caches, the judge's first imports
            _call(direct, BODIES[i % 2])
            _call(through, BODIES[i % 2])
        d_times, p_times = [], []
        for i in range(requests):
            body = BODIES[i % 2]
            if i % 2:  # alternate which goes first, so neither always follows the other
                d_times.append(_call(direct, body))
                p_times.append(_call(through, body))
            else:
                p_times.append(_call(through, body))
                d_times.append(_call(direct, body))
        added = [p - d for p, d in zip(p_times, d_times, strict=True)]
        return {
            "requests": requests,
            "direct_p50_ms": _pct(d_times, 0.5),
            "direct_p99_ms": _pct(d_times, 0.99),
            "proxy_p50_ms": _pct(p_times, 0.5),
            "proxy_p99_ms": _pct(p_times, 0.99),
            "added_p50_ms": statistics.median(added) * 1000,
            "added_p99_ms": _pct(added, 0.99),
        }
    finally:
        proxy.stop()
        mock.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="calls each way (default 3000)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]  # client, mock and proxy share the machine: anything else running skews it
    figures = {**measure(max(args.requests, 10)), "load_average_at_start": round(load, 2), "cpus": os.cpu_count() or 0}
    print(f"validation proxy overhead, loopback, {figures['requests']} sequential calls each way (keep-alive); "
          f"load average at start {load:.2f} on {os.cpu_count()} CPUs")
    print(f"{'':10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, key in (("direct", "direct"), ("proxy", "proxy"), ("added", "added")):
        print(f"{name:10}{figures[f'{key}_p50_ms']:>10.3f}{figures[f'{key}_p99_ms']:>10.3f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
