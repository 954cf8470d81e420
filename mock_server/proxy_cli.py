"""``engagelab-mock proxy``: the validation proxy's options, start-up and clean shutdown."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

# Only the options are loaded with `engagelab-mock`'s parser; the proxy (and the contract suite
# it judges with) load when it runs, so `engagelab-mock serve` starts as fast as before.
if TYPE_CHECKING:
    from engagelab_kit.mock_server.proxy_server import ProxyServer

DEFAULT_PORT = 8081
GRACE = 5.0  # seconds in-flight exchanges get to finish at shutdown


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--upstream", required=True, help="base URL of the real API (or any target) to forward to")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    parser.add_argument("--report-dir", type=Path,
                        help="drift-report.json, summary.md, report.html: at shutdown and on POST /__mock/proxy/report")
    parser.add_argument("--baseline", type=Path, help="a previous drift-report.json: its root causes count as known")
    parser.add_argument("--upstream-ca", help="CA bundle for an HTTPS upstream (default: the system trust store)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to connect and between upstream bytes")
    parser.add_argument("--har", type=Path, help="also record the exchanges here, as redacted HAR 1.2")
    parser.add_argument("--har-max-bytes", type=int, default=10 * 1024 * 1024, help="size cap of the HAR log")
    parser.add_argument("--profile", type=Path, help="contract profile (contact types, statuses), as the suite's")
    parser.add_argument("--checks", default="", help="comma-separated response checks (default: all)")
    parser.add_argument("--max-latency", type=float, default=2.0, help="flag upstream answers slower than this (s)")
    parser.add_argument("--quiet", action="store_true", help="do not print each new root cause of drift")


def build(args: argparse.Namespace, out: TextIO) -> ProxyServer:
    """The server for these options; ValueError/ConfigError/OSError say which option is wrong."""
    from engagelab_kit.contract_tests.config import Profile
    from engagelab_kit.mock_server.proxy_har import HarRecorder
    from engagelab_kit.mock_server.proxy_judge import Judge
    from engagelab_kit.mock_server.proxy_report import Ledger, baseline_keys
    from engagelab_kit.mock_server.proxy_server import ProxyServer
    from engagelab_kit.mock_server.proxy_wire import Upstream

    if args.timeout <= 0 or args.max_latency <= 0 or args.har_max_bytes < 1024:
        raise ValueError("--timeout and --max-latency must be positive, --har-max-bytes at least 1024")
    if args.upstream_ca and not Path(args.upstream_ca).is_file():
        raise ValueError(f"--upstream-ca {args.upstream_ca}: no such file")
    upstream = Upstream.parse(args.upstream, args.upstream_ca)
    upstream.tls()  # a bad CA file is refused now, not at the first request
    profile = Profile.load(args.profile) if args.profile else Profile()
    selected = tuple(c.strip() for c in args.checks.split(",") if c.strip())
    judge = Judge(upstream.url, profile, selected, args.max_latency)
    baseline = baseline_keys(args.baseline) if args.baseline else None
    ledger = Ledger(upstream.url, baseline, str(args.baseline or ""))
    har = HarRecorder(args.har, args.har_max_bytes, upstream.url) if args.har else None

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    return ProxyServer(upstream, judge, ledger, args.timeout, har, args.report_dir, None if args.quiet else say)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        proxy = build(args, out)
    except (ValueError, OSError) as exc:  # the suite's ConfigError is a ValueError
        print(f"engagelab-mock proxy: refused: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(proxy, args.host, args.port, out))
    except OSError as exc:
        print(f"engagelab-mock proxy: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2


async def _serve(proxy: ProxyServer, host: str, port: int, out: TextIO) -> int:
    server = await asyncio.start_server(proxy.handle, host, port, limit=65536)
    bound = server.sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    out.write(
        f"engagelab-mock proxy serving on http://{shown}:{bound} -> {proxy.upstream.url}\n"
        f"  live counts: http://{shown}:{bound}/__mock/proxy/summary\n"
        f"  reports: {proxy.report_dir or 'none (no --report-dir)'}\n"
    )
    out.flush()
    if host not in ("127.0.0.1", "::1", "localhost"):
        # Whoever reaches it sends through it, with whatever credentials they hold: say so once.
        print(f"engagelab-mock proxy: listening on {host}, beyond loopback: anyone who can reach it can use it",
              file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for task in proxy.active - proxy.busy:  # idle keep-alive connections: nothing in flight
        task.cancel()
    if proxy.busy:
        await asyncio.wait(set(proxy.busy), timeout=GRACE)
    for task in list(proxy.active):
        task.cancel()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 1.0)
    for path in proxy.write_reports():
        out.write(f"engagelab-mock proxy: wrote {path}\n")
    summary = proxy.ledger.summary()
    out.write(f"engagelab-mock proxy: stopped; {summary}\n")
    out.flush()
    return 0
