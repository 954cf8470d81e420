"""`engagelab-contract`: the suite for people who do not write pytest.

Every option of the pytest plugin is accepted as is (see --help); this adds
JUnit XML next to the drift report and maps the result to an exit code:
0 no drift, 1 drift found, 2 usage or configuration error, 3 internal error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from engagelab_kit.spec.version import __version__

PACKAGE_DIR = Path(__file__).resolve().parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagelab-contract",
        description="Contract-test a POST /v1/user/contact target against the spec.",
        epilog="Other options (--checks, --allow-writes, --euid, --budget, --rate, --max-latency, --seed, "
        "--max-examples, --profile, --dry-run, --list-checks, --app) are passed to the pytest plugin.",
    )
    parser.add_argument("--target", help="base URL; default: the in-process mock")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--report-dir", type=Path, help="junit.xml, drift-report.json, summary.md go here")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, rest = _parser().parse_known_args(argv)
    pytest_args = [
        str(PACKAGE_DIR),
        "--rootdir",
        str(PACKAGE_DIR),
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::DeprecationWarning",
        "-rs" if args.verbose else "-q",
        *rest,
    ]
    if args.target:
        pytest_args += ["--target", args.target]
    if args.report_dir:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        pytest_args += ["--report-dir", str(args.report_dir), "--junitxml", str(args.report_dir / "junit.xml")]
    if args.verbose:
        pytest_args.append("-v")
    code = int(pytest.main(pytest_args))
    if code in (0, 5):
        return 0
    return {1: 1, 4: 2}.get(code, 3)


if __name__ == "__main__":
    sys.exit(main())
