"""The benchmark's command line: what to measure, in which order, and where the figures go."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import requests

from bench import floor, mix, nginx, prism, reference_app, report, resilience, suite, wiremock, wrk
from bench.console import BenchError, note
from bench.measure import EXAMPLE, MIX, LoadPlan, Rig, measure
from bench.mix import PROBE
from bench.procs import serving
from bench.report import (
    FLASK,
    FLOOR,
    MOCK,
    MOCK_WORKERS,
    NGINX,
    PRISM,
    REQUESTS_CEILING,
    RESTART,
    STALLED,
    SUITE_HTTP,
    SUITE_LOCAL,
    WIREMOCK,
    Results,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "out" / "results.json"
WRK_THREADS = 2

def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Throughput, latency, memory and start-up of the mock as `make serve` runs it, against "
                    "nginx's fixed-body ceiling, WireMock, Prism and a bare-Flask app, and the contract suite's "
                    "speed. See bench/RESULTS.md.")
    p.add_argument("--duration", type=_positive, metavar="S", help="seconds of measured load per server (default 10)")
    p.add_argument("--connections", type=_positive, metavar="N", help="wrk connections (default 32)")
    p.add_argument("--quick", action="store_true",
                   help="tiny run (1 s loads, 4 connections, one cold start); Prism and the suite only if asked")
    p.add_argument("--prism", action=argparse.BooleanOptionalAction,
                   help="measure Prism, npm-installed into bench/.prism/ if missing (default: on, off with --quick)")
    p.add_argument("--nginx", action=argparse.BooleanOptionalAction, default=True,
                   help="measure nginx returning a fixed body, the ceiling the relative targets use; "
                        "apt-installed if missing (default: on, also with --quick)")
    p.add_argument("--wiremock", action=argparse.BooleanOptionalAction,
                   help="measure WireMock, npm-installed into bench/.wiremock/ (Java from apt) if missing "
                        "(default: on, off with --quick)")
    p.add_argument("--workers", action=argparse.BooleanOptionalAction,
                   help="measure the mock with 2 workers sharing one truth (default: on, off with --quick)")
    p.add_argument("--resilience", action=argparse.BooleanOptionalAction,
                   help="measure latency among stalled clients and restart after SIGKILL "
                        "(default: on, off with --quick)")
    p.add_argument("--suite", action=argparse.BooleanOptionalAction,
                   help="measure the contract suite's speed (default: on, off with --quick)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                   help="write every figure here (default bench/out/results.json)")
    return p


def _clean_env() -> dict[str, str]:
    # Servers must run on their defaults and the suite on its default target,
    # whatever the caller's shell exports (Granian reads GRANIAN_* for the references).
    return {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGELAB_", "CONTRACT_", "GRANIAN_"))}


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None  # the parts that need it say so in their own notes


def _mock_command(port: int, *extra: str) -> list[str]:
    """``make serve``, on another port: the console script next to this interpreter."""
    return [str(Path(sys.executable).parent / "engagelab-mock"), "serve", "--host", "127.0.0.1", "--port", str(port),
            *extra]


def _mock_command_workers(workers: int, port: int) -> list[str]:
    return _mock_command(port, "--workers", str(workers))


def _mock_command_with_config(config: Path, port: int) -> list[str]:
    return _mock_command(port, "--config", str(config))


def _reference(results: Results, rig: Rig, name: str, command: Callable[[int], Sequence[str]],
               workloads: Sequence[str] = (EXAMPLE, MIX), warmup_s: int | None = None) -> None:
    """A reference server measured, or the reason it could not be in its place."""
    note(f"measuring {name}")
    try:
        results.servers[name] = measure(rig, name, command, workloads=workloads, warmup_s=warmup_s)
    except BenchError as exc:
        results.notes[name] = f"failed ({exc})"


def _prism(results: Results, rig: Rig) -> None:
    try:
        executable = prism.ensure_prism()
    except BenchError as exc:
        results.notes[PRISM] = f"not available ({exc})"
        return
    _reference(results, rig, PRISM, partial(prism.command, executable))


def _wiremock(results: Results, rig: Rig, warmup_s: int) -> None:
    try:
        java, root = wiremock.ensure_wiremock()
    except BenchError as exc:
        results.notes[WIREMOCK] = f"not available ({exc})"
        return
    _reference(results, rig, WIREMOCK, partial(wiremock.command, java, root), warmup_s=warmup_s)


def _nginx(results: Results, rig: Rig) -> None:
    """The fixed-body ceiling, on the example only: the relative throughput target is judged there."""
    try:
        found = nginx.ensure_nginx()
    except BenchError as exc:
        results.notes[NGINX] = f"not available ({exc})"
        return
    results.settings.update(nginx=found.version, nginx_worker_processes=nginx.WORKER_PROCESSES)
    with nginx.scratch() as scratch:
        _reference(results, rig, NGINX, partial(nginx.command, found, scratch), workloads=(EXAMPLE,))


def _resilience(results: Results, env: Mapping[str, str], samples: int) -> None:
    note("measuring good requests among stalled clients")
    try:
        with serving("mock among stalled clients", _mock_command, ROOT, env) as server:
            server.wait_ready(PROBE)
            results.stalled = resilience.stalled_clients(server.port, samples)
    except BenchError as exc:
        results.notes[STALLED] = f"failed ({exc})"
    note("measuring a restart after SIGKILL")
    try:
        results.restart_s = resilience.restart_after_kill(_mock_command, ROOT, env)
    except BenchError as exc:
        results.notes[RESTART] = f"failed ({exc})"


def _ceiling(results: Results, env: Mapping[str, str], seconds: int) -> None:
    note("measuring the requests-client ceiling")
    try:
        with serving("fixed body", partial(reference_app.command, sys.executable, "fixed_body"), ROOT, env) as server:
            server.wait_ready(PROBE)
            results.ceiling_rps = round(suite.client_rate(server.url, seconds), 1)
    except BenchError as exc:
        results.notes[REQUESTS_CEILING] = f"failed ({exc})"


def _suite(results: Results, env: Mapping[str, str], scratch: Path, seconds: int) -> None:
    # The suite is work in progress: whatever goes wrong here is reported, never fatal.
    note("measuring the contract suite over HTTP")
    config = scratch / "journal.toml"
    config.write_text(suite.JOURNAL_CONFIG)
    try:
        command = partial(_mock_command_with_config, config)
        with serving("mock for the suite", command, ROOT, env) as server:
            server.wait_ready(PROBE)
            results.client_vs_mock_rps = round(suite.client_rate(server.url, seconds), 1)
            results.suite_http = suite.over_http(sys.executable, ROOT, env, server.url)
    except Exception as exc:
        results.notes[SUITE_HTTP] = f"not runnable ({exc})"
    note("timing the contract suite in-process")
    try:
        results.suite_local = suite.in_process(sys.executable, ROOT, env)
    except Exception as exc:
        results.notes[SUITE_LOCAL] = f"not runnable ({exc})"


def _option(value: bool | None, quick: bool, flag: str) -> tuple[bool, str]:
    """(on or off, why off): parts that are on by default and off with --quick unless asked."""
    on = value if value is not None else not quick
    return on, f"skipped ({'--quick' if value is None else f'--no-{flag}'})"


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    quick: bool = args.quick
    connections: int = args.connections or (4 if quick else 32)
    plan = LoadPlan(
        threads=min(WRK_THREADS, connections),  # wrk refuses fewer connections than threads
        connections=connections,
        warmup_s=1 if quick else 2,
        seconds=args.duration or (1 if quick else 10),
        starts=1 if quick else 3,
    )
    with_prism, no_prism = _option(args.prism, quick, "prism")
    with_wiremock, no_wiremock = _option(args.wiremock, quick, "wiremock")
    with_workers, no_workers = _option(args.workers, quick, "workers")
    with_resilience, no_resilience = _option(args.resilience, quick, "resilience")
    with_suite, no_suite = _option(args.suite, quick, "suite")
    client_seconds = 1 if quick else 5
    wiremock_warmup = 2 if quick else wiremock.WARMUP_S
    env = _clean_env()
    results = Results(
        settings={
            **asdict(plan), "quick": quick, "prism": with_prism, "wiremock": with_wiremock,
            "wiremock_warmup_s": wiremock_warmup, "workers": with_workers, "resilience": with_resilience,
            "suite": with_suite, "client_seconds": client_seconds, "cpus": os.cpu_count(),
            # Client and servers share the machine: anything else running skews every figure.
            "load_average_at_start": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "granian": _version("granian"), "flask": _version("flask"),
            "reference_threads": reference_app.THREADS, "nginx": None,
        },
        mix=mix.describe(),
    )
    try:
        wrk_exe = wrk.ensure_wrk()
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            data_files = {EXAMPLE: Path(tmp) / "example_data.lua", MIX: Path(tmp) / "mix_data.lua"}
            data_files[EXAMPLE].write_text(mix.lua_data(example_only=True))
            data_files[MIX].write_text(mix.lua_data())
            rig = Rig(plan, wrk_exe, data_files, ROOT, env)
            note("measuring the mock (make serve)")
            results.servers[MOCK] = measure(rig, MOCK, _mock_command, check=mix.verify)
            # Right after the mock: the relative target compares the two, and the machine's speed drifts.
            if args.nginx:
                _nginx(results, rig)
            else:
                results.notes[NGINX] = "skipped (--no-nginx)"
            # What the HTTP layer alone costs: mock / floor is then the rules' share, floor / nginx the layer's.
            _reference(results, rig, FLOOR, partial(floor.command, sys.executable), workloads=(EXAMPLE,))
            if with_workers:
                note("measuring the mock with 2 workers")
                results.servers[MOCK_WORKERS] = measure(rig, MOCK_WORKERS, partial(_mock_command_workers, 2),
                                                        check=mix.verify, workloads=(EXAMPLE,))
            else:
                results.notes[MOCK_WORKERS] = no_workers
            _reference(results, rig, FLASK, partial(reference_app.command, sys.executable, "bare_flask"))
            if with_wiremock:
                _wiremock(results, rig, wiremock_warmup)
            else:
                results.notes[WIREMOCK] = no_wiremock
            if with_prism:
                _prism(results, rig)
            else:
                results.notes[PRISM] = no_prism
            if with_resilience:
                _resilience(results, env, resilience.SAMPLES)
            else:
                results.notes.update({STALLED: no_resilience, RESTART: no_resilience})
            _ceiling(results, env, client_seconds)
            if with_suite:
                _suite(results, env, Path(tmp), client_seconds)
            else:
                results.notes.update({SUITE_HTTP: no_suite, SUITE_LOCAL: no_suite})
    except (BenchError, requests.RequestException) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    results.settings["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(report.render(results))
    report.write_json(results, args.json)
    print(f"\nfigures: {args.json}")
    return 0
