"""``engagelab-mock``: serve the mock, or check a configuration file."""

from __future__ import annotations

import argparse
import os
import sys

from engagelab_kit.mock_server.exceptions import ConfigError
from engagelab_kit.mock_server.settings import build
from engagelab_kit.spec.version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engagelab-mock", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the mock (defaults need no configuration)")
    check = sub.add_parser("check-config", help="validate a configuration file and print the result")
    from engagelab_kit.mock_server import proxy_cli

    proxy_cli.configure(sub.add_parser("proxy", help="validation proxy: forward to --upstream, judge the traffic"))
    for p in (serve, check):
        p.add_argument("--config", help="TOML settings file (env ENGAGELAB_MOCK_CONFIG)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--state", dest="state_file", help="persist state to this SQLite file")
    serve.add_argument("--workers", help="worker processes (default 1)")
    serve.add_argument("--threads", help="threads per worker (default 1)")
    serve.add_argument("--latency-ms", help="base latency added to every business request")
    serve.add_argument("--strict-euid", action="store_const", const=True, help="only known euids are valid")
    serve.add_argument("--contact-types", help="comma-separated supported contact types")
    serve.add_argument("--control-token", help="require this X-Mock-Token on the control API")
    serve.add_argument("--no-control", dest="control_enabled", action="store_const", const=False,
                       help="switch the control API and X-Mock-Force-Code off")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "proxy":
        from engagelab_kit.mock_server import proxy_cli

        return proxy_cli.run(args)
    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    config = args.config or os.environ.get("ENGAGELAB_MOCK_CONFIG")
    try:
        settings, options = build(config, os.environ, flags)
    except ConfigError as exc:
        print(f"engagelab-mock: configuration refused: {exc}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(f"{config or 'defaults'}: ok ({len(settings.projects)} projects)")
        return 0
    from engagelab_kit.mock_server.serve import serve

    try:
        return serve(settings, options)
    except ConfigError as exc:
        print(f"engagelab-mock: cannot serve: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
