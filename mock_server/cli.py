"""``engagelab-mock``: serve the mock, or check a configuration.

Every setting can come from a TOML file (--config), an ENGAGELAB_MOCK_*
variable or a flag; flags win over the environment, which wins over the file.
"""

from __future__ import annotations

import argparse
import os
import sys

from engagelab_kit.mock_server.exceptions import ConfigError
from engagelab_kit.mock_server.settings import build
from engagelab_kit.mock_server.settings_table import SETTINGS, flag_help

CONFIG_ENV = "ENGAGELAB_MOCK_CONFIG"


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        if setting.switch is None:
            parser.add_argument(setting.flag, dest=setting.name, metavar=setting.key.upper(),
                                help=flag_help(setting))
        else:
            parser.add_argument(setting.flag, dest=setting.name, action="store_const", const=setting.switch,
                                help=flag_help(setting))


class _Version(argparse.Action):
    """``--version``, reading the distribution's metadata only when asked (it costs start-up time)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from engagelab_kit.spec.version import __version__

        print(f"{parser.prog} {__version__}")
        parser.exit()


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engagelab-mock", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the mock (defaults need no configuration)")
    check = sub.add_parser("check-config",
                           help="validate the configuration (file, environment and flags) and report every problem")
    proxy = sub.add_parser("proxy", help="validation proxy: forward to --upstream, judge the traffic")
    if "proxy" in argv:  # its options (and their imports) only when it runs or its help is asked for
        from engagelab_kit.mock_server import proxy_cli

        proxy_cli.configure(proxy)
    for p in (serve, check):
        p.add_argument("--config", help=f"TOML settings file (env {CONFIG_ENV})")
        _add_setting_flags(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    if args.command == "proxy":
        from engagelab_kit.mock_server import proxy_cli

        return proxy_cli.run(args)
    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    config = args.config or os.environ.get(CONFIG_ENV)
    try:
        settings, options = build(config, os.environ, flags, probe_host=True)
    except ConfigError as exc:
        count = len(exc.problems)
        heading = "1 problem" if count == 1 else f"{count} problems"
        print(f"engagelab-mock: configuration refused ({heading}):", file=sys.stderr)
        for line in str(exc).splitlines():
            print(f"  {line}", file=sys.stderr)
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
