"""One server's figures: cold-start time to the first good answer, then wrk loads, CPU and memory."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import wrk
from bench.console import note
from bench.mix import PROBE
from bench.procs import serving
from bench.wrk import Load

EXAMPLE, MIX = "example", "mix"  # the workloads: the vendor page's example request alone, and the mix


@dataclass(frozen=True)
class LoadPlan:
    threads: int
    connections: int
    warmup_s: int
    seconds: int
    starts: int  # cold starts timed; the last one also takes the load


@dataclass(frozen=True)
class Rig:
    """What every server is measured with."""

    plan: LoadPlan
    wrk_exe: str
    data_files: Mapping[str, Path]  # workload -> data file for bench/mix.lua
    cwd: Path
    env: Mapping[str, str]


@dataclass(frozen=True)
class Run:
    """One workload's figures: wrk's, and the server's CPU time (all its processes) per request."""

    load: Load
    cpu_us_per_request: float


@dataclass(frozen=True)
class ServerRun:
    name: str
    command: list[str]
    ready_s: float  # median over the cold starts
    ready_samples: list[float]
    rss_idle_mb: float  # ready, before any load
    rss_mb: float  # right after the load runs
    pss_mb: float
    runs: dict[str, Run]  # workload -> figures

    @property
    def load(self) -> Load:
        """The mix's figures (the first workload measured when the mix was not)."""
        return (self.runs.get(MIX) or next(iter(self.runs.values()))).load


def measure(rig: Rig, name: str, command: Callable[[int], Sequence[str]],
            check: Callable[[str], None] | None = None, workloads: Sequence[str] = (EXAMPLE, MIX),
            warmup_s: int | None = None) -> ServerRun:
    """``command(port)`` starts the server; ``check(url)`` runs on it once ready, before any load."""
    plan = rig.plan
    warmup = plan.warmup_s if warmup_s is None else warmup_s
    samples: list[float] = []
    for _ in range(plan.starts - 1):
        with serving(name, command, rig.cwd, rig.env) as server:
            samples.append(server.wait_ready(PROBE))
    runs: dict[str, Run] = {}
    with serving(name, command, rig.cwd, rig.env) as server:
        samples.append(server.wait_ready(PROBE))
        rss_idle, _ = server.memory_mb()
        if check is not None:
            check(server.url)
        note(f"  {name}: ready in {samples[-1]:.3f} s; per workload {warmup} s warm-up, {plan.seconds} s load")
        for workload in workloads:
            data, static = rig.data_files[workload], workload == EXAMPLE
            wrk.run(rig.wrk_exe, server.url, data, plan.threads, plan.connections, warmup, static)
            cpu_before = server.cpu_seconds()
            load = wrk.run(rig.wrk_exe, server.url, data, plan.threads, plan.connections, plan.seconds, static)
            cpu = server.cpu_seconds() - cpu_before
            runs[workload] = Run(load, round(cpu * 1e6 / max(load.requests, 1), 1))
        rss, pss = server.memory_mb()
        run_command = server.command
    return ServerRun(
        name=name, command=run_command, ready_s=round(statistics.median(samples), 3),
        ready_samples=[round(s, 3) for s in samples], rss_idle_mb=rss_idle, rss_mb=rss, pss_mb=pss, runs=runs,
    )
