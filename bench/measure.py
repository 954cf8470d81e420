"""One server's figures: cold-start time to the first good answer, then wrk load, then memory."""

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
    data_file: Path  # the mix, for bench/mix.lua
    cwd: Path
    env: Mapping[str, str]


@dataclass(frozen=True)
class ServerRun:
    name: str
    command: list[str]
    ready_s: float  # median over the cold starts
    ready_samples: list[float]
    rss_idle_mb: float  # ready, before any load
    rss_mb: float  # right after the load run
    pss_mb: float
    load: Load


def measure(rig: Rig, name: str, command: Callable[[int], Sequence[str]],
            check: Callable[[str], None] | None = None) -> ServerRun:
    """``command(port)`` starts the server; ``check(url)`` runs on it once ready, before any load."""
    plan = rig.plan
    samples: list[float] = []
    for _ in range(plan.starts - 1):
        with serving(name, command, rig.cwd, rig.env) as server:
            samples.append(server.wait_ready(PROBE))
    with serving(name, command, rig.cwd, rig.env) as server:
        samples.append(server.wait_ready(PROBE))
        rss_idle, _ = server.memory_mb()
        if check is not None:
            check(server.url)
        note(f"  {name}: ready in {samples[-1]:.3f} s; {plan.warmup_s} s warm-up, {plan.seconds} s load")
        wrk.run(rig.wrk_exe, server.url, rig.data_file, plan.threads, plan.connections, plan.warmup_s)
        load = wrk.run(rig.wrk_exe, server.url, rig.data_file, plan.threads, plan.connections, plan.seconds)
        rss, pss = server.memory_mb()
        run_command = server.command
    return ServerRun(
        name=name, command=run_command, ready_s=round(statistics.median(samples), 3),
        ready_samples=[round(s, 3) for s in samples], rss_idle_mb=rss_idle, rss_mb=rss, pss_mb=pss, load=load,
    )
