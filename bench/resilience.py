"""The hardening figures: a good request's latency among stalled and idle clients, and the time from
SIGKILL of the serving process to a restarted mock answering on the same port."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.console import BenchError
from bench.mix import PROBE
from bench.procs import ServerProcess, free_port

STALLED = 100
IDLE = 100
SAMPLES = 200


@dataclass(frozen=True)
class Stalled:
    stalled: int
    idle: int
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def stalled_clients(port: int, samples: int = SAMPLES) -> Stalled:
    """Good requests, each on a new connection, while STALLED uploads sit mid-body and IDLE
    keep-alive connections say nothing."""
    with ExitStack() as stack:
        for _ in range(STALLED):
            sock = stack.enter_context(_connect(port))
            sock.sendall(PROBE.head() + PROBE.body[:10])
        for _ in range(IDLE):
            sock = stack.enter_context(_connect(port))
            sock.sendall(PROBE.head() + PROBE.body)
            if not sock.recv(65536).startswith(b"HTTP/1.1 200"):
                raise BenchError("an idle keep-alive connection's first request failed")
        time.sleep(0.2)
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("POST", PROBE.path, PROBE.body, PROBE.headers)
                reply = conn.getresponse()
                reply.read()
            except (OSError, http.client.HTTPException) as exc:
                raise BenchError(f"a good request among stalled clients failed: {exc}") from None
            finally:
                conn.close()
            if reply.status != 200:
                raise BenchError(f"a good request among stalled clients got HTTP {reply.status}")
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return Stalled(STALLED, IDLE, samples, round(statistics.median(times), 2),
                   round(times[int(len(times) * 0.99) - 1], 2), round(times[-1], 2))


def restart_after_kill(command: Callable[[int], Sequence[str]], cwd: Path, env: Mapping[str, str]) -> float:
    """Seconds from SIGKILL of a serving mock to a new one answering the example on the same port."""
    port = free_port()
    first = ServerProcess("mock (to be killed)", command(port), port, cwd, env)
    try:
        first.wait_ready(PROBE)
        first.memory_mb()  # records its workers, so that stop() can reap any survivor by PID
        os.kill(first.proc.pid, signal.SIGKILL)
        killed = time.perf_counter()
        first.proc.wait(timeout=10)
        second = ServerProcess("mock (restarted)", command(port), port, cwd, env)
        try:
            # wait_ready times from Popen; the figure that matters runs from the kill.
            deadline = killed + 30
            while True:
                try:
                    second.wait_ready(PROBE, timeout=2)
                    break
                except BenchError:
                    if time.perf_counter() > deadline:
                        raise
                    # The port was still held: start again, as a CI job's retry would.
                    second.stop()
                    second = ServerProcess("mock (restarted)", command(port), port, cwd, env)
            return round(time.perf_counter() - killed, 3)
        finally:
            second.stop()
    finally:
        first.stop()
