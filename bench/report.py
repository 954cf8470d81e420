"""The figures of one benchmark run: targets judged, a table for people, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import EXAMPLE, MIX, ServerRun
from bench.resilience import Stalled
from bench.suite import SuiteInProcess, SuiteOverHttp
from engagelab_kit.mock_server.settings import ServeOptions

MOCK, MOCK_WORKERS, FLASK, WIREMOCK, PRISM = "mock", "mock 2 workers", "bare Flask", "WireMock", "Prism"
NGINX = "nginx ceiling"  # nginx returning the success body from its config
FLOOR = "serving floor"  # the mock's own HTTP layer (h1) answering the success body, no rules (bench/floor.py)
SUITE_HTTP, SUITE_LOCAL = "suite over HTTP", "suite in-process"  # keys of Results.notes
STALLED, RESTART = "stalled clients", "restart after SIGKILL"  # keys of Results.notes
REQUESTS_CEILING = "requests-client ceiling"  # key of Results.notes
REFERENCES = (NGINX, FLOOR, WIREMOCK, PRISM, FLASK)
WORKLOADS = {EXAMPLE: "the vendor page's example request", MIX: "the mix"}

# The throughput target, "twice WireMock, half of nginx's fixed-body ceiling": judged as the
# absolute figure and as both ratios to references measured in the same run (the machine's speed moves).
MIN_EXAMPLE_RPS = 60_000
MIN_SHARE_OF_NGINX = 0.5
MIN_EXAMPLE_TIMES_WIREMOCK = 2.0
MAX_EXAMPLE_P99_MS = 3.0
MIN_TIMES_WIREMOCK = 1.3
MIN_WORKER_SCALING = 1.0
MAX_STALLED_P99_MS = 50.0
MAX_RESTART_S = 1.0
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
    stalled: Stalled | None = None
    restart_s: float | None = None
    notes: dict[str, str] = field(default_factory=dict)  # part -> why it has no figures


@dataclass(frozen=True)
class Verdict:
    target: str
    outcome: str  # PASS, FAIL or n/a
    detail: str


def _judge(target: str, ok: bool, detail: str) -> Verdict:
    return Verdict(target, "PASS" if ok else "FAIL", detail)


def _k(rps: float) -> str:
    return f"{rps / 1000:.1f}k"


def relative(target: str, mine: float, factor: float, reference: str, theirs: float) -> Verdict:
    """PASS when throughput ``mine`` >= ``factor`` x the reference's ``theirs`` (same run), boundary included."""
    need = factor * theirs
    return _judge(target, mine >= need,
                  f"{_k(mine)} vs {_k(need)} needed ({factor:g} x {reference} {_k(theirs)}): "
                  f"{mine / theirs if theirs else float('inf'):.2f}x")


def ratios(results: Results) -> dict[str, dict[str, dict[str, float]]]:
    """Per workload, mock / reference for throughput (higher is better) and p99 latency (lower is better)."""
    mock = results.servers[MOCK]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for workload, run in mock.runs.items():
        for name in REFERENCES:
            other = results.servers.get(name)
            if other is not None and workload in other.runs:
                theirs = other.runs[workload].load
                out.setdefault(workload, {})[name] = {
                    "throughput": round(run.load.rps / theirs.rps, 2),
                    "p99": round(run.load.p99_ms / max(theirs.p99_ms, 0.001), 2)}
    return out


def worker_scaling(results: Results) -> float | None:
    """Throughput of two workers sharing one truth / one worker, on the page's example."""
    one, two = results.servers.get(MOCK), results.servers.get(MOCK_WORKERS)
    if one is None or two is None or EXAMPLE not in one.runs or EXAMPLE not in two.runs:
        return None
    return round(two.runs[EXAMPLE].load.rps / one.runs[EXAMPLE].load.rps, 2)


def suite_share(results: Results) -> float | None:
    if results.suite_http is None or not results.ceiling_rps:
        return None
    return results.suite_http.rate / results.ceiling_rps


def _optional(found: list[Verdict], target: str, figure: float | None, ok: Callable[[float], bool],
              detail: Callable[[float], str], why_not: str) -> None:
    """A verdict on a figure that may not have been measured (then n/a, saying why)."""
    if figure is None:
        found.append(Verdict(target, "n/a", why_not))
    else:
        found.append(_judge(target, ok(figure), detail(figure)))


def _versus(found: list[Verdict], results: Results, reference: str, target: str, workload: str,
            judge: tuple[float, str]) -> None:
    minimum, what = judge
    mine, theirs = results.servers[MOCK].runs.get(workload), results.servers.get(reference)
    if mine is None or theirs is None or workload not in theirs.runs:
        found.append(Verdict(target, "n/a", f"{reference} {results.notes.get(reference, 'not measured')}"))
        return
    if what == "throughput":
        found.append(relative(target, mine.load.rps, minimum, reference, theirs.runs[workload].load.rps))
    else:
        found.append(_judge(target, mine.load.p99_ms <= theirs.runs[workload].load.p99_ms,
                            f"{mine.load.p99_ms:.2f} ms vs {theirs.runs[workload].load.p99_ms:.2f} ms"))


@dataclass(frozen=True)
class Share:
    """A throughput target relative to a reference measured in the same run."""

    label: str  # for the summary line
    reference: str  # server name
    factor: float


SHARES = (Share("half of nginx's ceiling", NGINX, MIN_SHARE_OF_NGINX),
          Share("twice WireMock", WIREMOCK, MIN_EXAMPLE_TIMES_WIREMOCK))


def _reference_rps(results: Results, reference: str, workload: str) -> float | None:
    server = results.servers.get(reference)
    run = server.runs.get(workload) if server is not None else None
    return run.load.rps if run is not None else None


def throughput_verdicts(results: Results) -> list[Verdict]:
    """The example's throughput target three ways: absolute, then each of ``SHARES``.
    None hides another: a fast machine can pass the first and fail the ratios, a slow one the reverse."""
    example = results.servers[MOCK].runs.get(EXAMPLE)
    if example is None:
        return []
    rps = example.load.rps
    found = [_judge(f"example >= {MIN_EXAMPLE_RPS} req/s (absolute)", rps >= MIN_EXAMPLE_RPS, f"{_k(rps)} req/s")]
    for share in SHARES:
        target = f"example >= {share.factor:g}x {share.reference} (same run)"
        theirs = _reference_rps(results, share.reference, EXAMPLE)
        if theirs is None:
            found.append(Verdict(target, "n/a",
                                 f"{share.reference} {results.notes.get(share.reference, 'not measured')}"))
        else:
            found.append(relative(target, rps, share.factor, share.reference, theirs))
    return found


def throughput_summary(results: Results) -> str | None:
    """One line, e.g. ``60.0k req/s absolute: FAIL (41.2k); half of nginx's ceiling (38.0k of 76.1k): PASS``."""
    found = throughput_verdicts(results)
    if not found:
        return None
    absolute, *shares = found
    rps = results.servers[MOCK].runs[EXAMPLE].load.rps
    parts = [f"{MIN_EXAMPLE_RPS // 1000}k req/s absolute: {absolute.outcome} ({_k(rps)})"]
    for share, verdict in zip(SHARES, shares, strict=True):
        theirs = _reference_rps(results, share.reference, EXAMPLE)
        if theirs is None:
            parts.append(f"{share.label}: n/a ({verdict.detail})")
        else:
            parts.append(f"{share.label} ({_k(share.factor * theirs)} of {_k(theirs)}): {verdict.outcome}")
    return "example throughput: " + "; ".join(parts)


def verdicts(results: Results) -> list[Verdict]:
    mock = results.servers[MOCK]
    found = throughput_verdicts(results)
    example = mock.runs.get(EXAMPLE)
    if example is not None:
        found.append(_judge(f"example p99 <= {MAX_EXAMPLE_P99_MS:g} ms", example.load.p99_ms <= MAX_EXAMPLE_P99_MS,
                            f"{example.load.p99_ms:.2f} ms"))
    _versus(found, results, WIREMOCK, f"mix >= {MIN_TIMES_WIREMOCK:g}x WireMock", MIX,
            (MIN_TIMES_WIREMOCK, "throughput"))
    _optional(found, f"2 workers >= {MIN_WORKER_SCALING:g}x one (example)", worker_scaling(results),
              lambda x: x >= MIN_WORKER_SCALING, lambda x: f"{x:.2f}x",
              f"{MOCK_WORKERS} {results.notes.get(MOCK_WORKERS, 'not measured')}")
    stalled = results.stalled
    _optional(found, f"p99 among stalled < {MAX_STALLED_P99_MS:g} ms", stalled.p99_ms if stalled else None,
              lambda x: x < MAX_STALLED_P99_MS,
              lambda x: f"{x:.2f} ms ({stalled.stalled} stalled + {stalled.idle} idle)" if stalled else "",
              results.notes.get(STALLED, "not measured"))
    _optional(found, f"restart after SIGKILL <= {MAX_RESTART_S:g} s", results.restart_s,
              lambda x: x <= MAX_RESTART_S, lambda x: f"{x:.3f} s (a cold start in this run: {mock.ready_s:.3f} s)",
              results.notes.get(RESTART, "not measured"))
    _versus(found, results, PRISM, f"mix >= {MIN_TIMES_PRISM:g}x Prism", MIX, (MIN_TIMES_PRISM, "throughput"))
    _versus(found, results, PRISM, "mix p99 <= Prism's", MIX, (0, "p99"))
    found.append(_judge(f"ready <= {MAX_READY_S:g} s", mock.ready_s <= MAX_READY_S,
                        f"{mock.ready_s:.3f} s (median of {len(mock.ready_samples)})"))
    # RSS decides (the figure); PSS beside it splits the pages forked workers share.
    found.append(_judge(f"RSS <= {MAX_RSS_MB:g} MB", mock.rss_mb <= MAX_RSS_MB,
                        f"{mock.rss_mb:.1f} MB after load (PSS {mock.pss_mb:.1f} MB)"))
    _optional(found, f"suite over HTTP >= {MIN_SHARE_OF_CEILING:.0%} of ceiling", suite_share(results),
              lambda x: x >= MIN_SHARE_OF_CEILING, lambda x: f"{x:.0%}",
              f"contract suite {results.notes.get(SUITE_HTTP, 'not measured')}")
    local = results.suite_local
    _optional(found, f"in-process suite < {MAX_SUITE_WALL_S:g} s", local.wall_s if local else None,
              lambda x: x < MAX_SUITE_WALL_S, lambda x: f"{x:.1f} s",
              f"contract suite {results.notes.get(SUITE_LOCAL, 'not measured')}")
    return found


def _server_rows(results: Results, workload: str) -> list[str]:
    header = f"{'server':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'errors':>8}{'CPU us/req':>12}" \
             f"{'RSS MB idle/load':>18}{'PSS MB':>8}{'ready s':>9}"
    rows = [f"{workload}: {WORKLOADS[workload]}", header]
    for name, server in results.servers.items():
        run = server.runs.get(workload)
        if run is None:
            continue
        load = run.load
        rows.append(
            f"{name:<16}{load.rps:>9.0f}{load.p50_ms:>9.2f}{load.p99_ms:>9.2f}"
            f"{load.non_2xx / max(load.requests, 1):>9.1%}{load.socket_errors + load.timeouts:>8}"
            f"{run.cpu_us_per_request:>12.1f}{f'{server.rss_idle_mb:.1f} / {server.rss_mb:.1f}':>18}"
            f"{server.pss_mb:>8.1f}{server.ready_s:>9.3f}"
        )
    rows.extend(f"{name:<16}{results.notes[name]}" for name in (MOCK_WORKERS, *REFERENCES)
                if name in results.notes and workload == EXAMPLE)
    return rows


def _client_rows(results: Results) -> list[str]:
    rows = []
    if results.ceiling_rps is None:
        rows.append(f"{REQUESTS_CEILING}: {results.notes.get(REQUESTS_CEILING, 'not measured')}")
    else:
        line = f"{REQUESTS_CEILING} (1 thread, fixed-body WSGI on Granian): {results.ceiling_rps:.0f} calls/s"
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
        f"{s['warmup_s']} s warm-up (WireMock {s['wiremock_warmup_s']} s) + {s['seconds']} s per server and workload, "
        f"{s['cpus']} CPUs shared by client and servers (load average {s['load_average_at_start']} at start, "
        f"{s.get('load_average_at_end', '?')} at end)",
        f"servers: mock = `engagelab-mock serve` on its defaults ({_SERVE.workers} worker); "
        f"bare Flask = Granian {s['granian'] or '(not installed)'} WSGI, 1 worker, {s['reference_threads']} threads; "
        + (f"{NGINX} = nginx {s['nginx']}, worker_processes {s['nginx_worker_processes']}, `return 200` "
           "of the success body, access_log off, keep-alive" if s.get("nginx") else f"{NGINX}: not measured"),
        f"mix: {results.mix}",
    ]
    for workload in WORKLOADS:
        lines.extend(["", *_server_rows(results, workload)])
    lines.append("")
    for workload, against in ratios(results).items():
        lines.extend(f"{workload}: mock / {name}: throughput {r['throughput']:.2f}x, p99 {r['p99']:.2f}x"
                     for name, r in against.items())
    scaling = worker_scaling(results)
    if scaling is not None:
        lines.append(f"example: mock 2 workers / 1 worker (one shared truth): throughput {scaling:.2f}x")
    if results.stalled is not None:
        st = results.stalled
        lines.append(f"good requests among {st.stalled} stalled uploads + {st.idle} idle keep-alive connections: "
                     f"{st.samples} on new connections, p50 {st.p50_ms:.2f} ms, p99 {st.p99_ms:.2f} ms, "
                     f"max {st.max_ms:.2f} ms")
    if results.restart_s is not None:
        lines.append("SIGKILL of the serving process to a restart answering on the same port: "
                     f"{results.restart_s:.3f} s")
    lines.extend(["", *_client_rows(results), ""])
    summary = throughput_summary(results)
    if summary is not None:
        lines.extend([summary, ""])
    lines.append("targets:")
    lines.extend(f"  {v.outcome:<5} {v.target:<44} {v.detail}" for v in verdicts(results))
    return "\n".join(lines)


def write_json(results: Results, path: Path) -> None:
    document = {
        **asdict(results),
        "ratios": ratios(results),
        "worker_scaling": worker_scaling(results),
        "suite_share_of_ceiling": suite_share(results),
        "example_throughput": throughput_summary(results),
        "verdicts": [asdict(v) for v in verdicts(results)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
