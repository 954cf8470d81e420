"""The figures of one benchmark run: targets judged, a table for people, JSON for machines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import ServerRun
from bench.suite import SuiteInProcess, SuiteOverHttp
from engagelab_kit.mock_server.settings import ServeOptions

MOCK, FLASK, PRISM = "mock", "bare Flask", "Prism"
SUITE_HTTP, SUITE_LOCAL = "suite over HTTP", "suite in-process"  # keys of Results.notes

MIN_TIMES_PRISM = 2.0
MAX_READY_S = 0.3
MAX_RSS_MB = 100.0
MIN_SHARE_OF_CEILING = 0.70
MAX_SUITE_WALL_S = 60.0


@dataclass
class Results:
    settings: dict[str, Any]
    mix: str
    servers: dict[str, ServerRun] = field(default_factory=dict)
    ceiling_rps: float | None = None  # requests.Session against the fixed-body app
    client_vs_mock_rps: float | None = None  # requests.Session against the mock
    suite_http: SuiteOverHttp | None = None
    suite_local: SuiteInProcess | None = None
    notes: dict[str, str] = field(default_factory=dict)  # part -> why it has no figures


@dataclass(frozen=True)
class Verdict:
    target: str
    outcome: str  # PASS, FAIL or n/a
    detail: str


def _judge(target: str, ok: bool, detail: str) -> Verdict:
    return Verdict(target, "PASS" if ok else "FAIL", detail)


def ratios(results: Results) -> dict[str, dict[str, float]]:
    """mock / reference, for throughput (higher is better) and p99 latency (lower is better)."""
    mock = results.servers[MOCK].load
    out: dict[str, dict[str, float]] = {}
    for name, run in results.servers.items():
        if name != MOCK:
            out[name] = {"throughput": round(mock.rps / run.load.rps, 2),
                         "p99": round(mock.p99_ms / run.load.p99_ms, 2)}
    return out


def suite_share(results: Results) -> float | None:
    if results.suite_http is None or not results.ceiling_rps:
        return None
    return results.suite_http.rate / results.ceiling_rps


def verdicts(results: Results) -> list[Verdict]:
    mock = results.servers[MOCK]
    prism = results.servers.get(PRISM)
    why_no_prism = results.notes.get(PRISM, "not measured")
    found: list[Verdict] = []
    if prism is not None:
        times = mock.load.rps / prism.load.rps
        found.append(_judge(f"throughput >= {MIN_TIMES_PRISM:g}x Prism", times >= MIN_TIMES_PRISM, f"{times:.1f}x"))
        found.append(_judge("p99 <= Prism's", mock.load.p99_ms <= prism.load.p99_ms,
                            f"{mock.load.p99_ms:.2f} ms vs {prism.load.p99_ms:.2f} ms"))
    else:
        found.append(Verdict(f"throughput >= {MIN_TIMES_PRISM:g}x Prism", "n/a", f"Prism {why_no_prism}"))
        found.append(Verdict("p99 <= Prism's", "n/a", f"Prism {why_no_prism}"))
    found.append(_judge(f"ready <= {MAX_READY_S:g} s", mock.ready_s <= MAX_READY_S,
                        f"{mock.ready_s:.3f} s (median of {len(mock.ready_samples)})"))
    found.append(_judge(f"RSS <= {MAX_RSS_MB:g} MB", mock.rss_mb <= MAX_RSS_MB, f"{mock.rss_mb:.1f} MB after load"))
    share = suite_share(results)
    target = f"suite over HTTP >= {MIN_SHARE_OF_CEILING:.0%} of ceiling"
    if share is None:
        found.append(Verdict(target, "n/a", f"contract suite {results.notes.get(SUITE_HTTP, 'not measured')}"))
    else:
        found.append(_judge(target, share >= MIN_SHARE_OF_CEILING, f"{share:.0%}"))
    local = results.suite_local
    target = f"in-process suite < {MAX_SUITE_WALL_S:g} s"
    if local is None:
        found.append(Verdict(target, "n/a", f"contract suite {results.notes.get(SUITE_LOCAL, 'not measured')}"))
    else:
        found.append(_judge(target, local.wall_s < MAX_SUITE_WALL_S, f"{local.wall_s:.1f} s"))
    return found


def _server_rows(results: Results) -> list[str]:
    header = f"{'server':<12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'errors':>8}" \
             f"{'RSS MB idle/load':>18}{'ready s':>9}"
    rows = [header]
    for name, run in results.servers.items():
        load = run.load
        rows.append(
            f"{name:<12}{load.rps:>10.0f}{load.p50_ms:>9.2f}{load.p99_ms:>9.2f}"
            f"{load.non_2xx / max(load.requests, 1):>9.1%}{load.socket_errors + load.timeouts:>8}"
            f"{f'{run.rss_idle_mb:.1f} / {run.rss_mb:.1f}':>18}{run.ready_s:>9.3f}"
        )
    if PRISM in results.notes:
        rows.append(f"{PRISM:<12}{results.notes[PRISM]}")
    return rows


def _client_rows(results: Results) -> list[str]:
    rows = []
    if results.ceiling_rps is not None:
        line = f"requests-client ceiling (1 thread, fixed-body WSGI on Granian): {results.ceiling_rps:.0f} calls/s"
        if results.client_vs_mock_rps is not None:
            line += f"; against the mock: {results.client_vs_mock_rps:.0f} calls/s"
        rows.append(line)
    http, local, share = results.suite_http, results.suite_local, suite_share(results)
    if http is not None:
        rows.append(
            f"contract suite over HTTP: {http.requests} requests in {http.span_s:.2f} s = {http.rate:.0f} req/s"
            + (f" = {share:.0%} of the ceiling" if share is not None else "")
            + f" (mock busy {http.busy_s:.2f} s; pytest {http.wall_s:.1f} s, exit {http.exit_code})")
    else:
        rows.append(f"contract suite over HTTP: {results.notes.get(SUITE_HTTP, 'not measured')}")
    if local is not None:
        rows.append(f"contract suite in-process: {local.tests} tests in {local.wall_s:.1f} s "
                    f"({', '.join(f'{n} {k}' for k, n in local.outcomes.items())}; exit {local.exit_code})")
    else:
        rows.append(f"contract suite in-process: {results.notes.get(SUITE_LOCAL, 'not measured')}")
    return rows


_SERVE = ServeOptions()


def render(results: Results) -> str:
    s = results.settings
    lines = [
        f"benchmark: wrk -t{s['threads']} -c{s['connections']}, "
        f"{s['warmup_s']} s warm-up + {s['seconds']} s per server, "
        f"{s['cpus']} CPUs shared by client and servers (load average {s['load_average_at_start']} at start); "
        f"servers: {_SERVE.workers} worker(s), {_SERVE.threads} threads each (the mock's defaults)",
        f"mix: {results.mix}",
        "",
        *_server_rows(results),
        "",
    ]
    lines.extend(f"mock / {name}: throughput {r['throughput']:.2f}x, p99 {r['p99']:.2f}x"
                 for name, r in ratios(results).items())
    lines.extend(["", *_client_rows(results), "", "targets:"])
    lines.extend(f"  {v.outcome:<5} {v.target:<40} {v.detail}" for v in verdicts(results))
    return "\n".join(lines)


def write_json(results: Results, path: Path) -> None:
    document = {
        **asdict(results),
        "ratios": ratios(results),
        "suite_share_of_ceiling": suite_share(results),
        "verdicts": [asdict(v) for v in verdicts(results)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
