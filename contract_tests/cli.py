"""`engagelab-contract`: contract-test a POST /v1/user/contact target, for people and CI jobs.

Exit codes: 0 the target conforms and every planned check ran; 1 drift (see --fail-on);
2 usage or configuration error; 3 target unreachable (DNS, TCP, TLS) or internal error;
4 no drift found but the run is incomplete (budget spent, --checks subset, credentials
missing, cases not selected): never reported as conforming.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from engagelab_kit.contract_tests import baseline, checks, report, writers
from engagelab_kit.contract_tests.api import ContractRun, fit_line, plan
from engagelab_kit.contract_tests.api import run as run_suite
from engagelab_kit.contract_tests.config import ENV_TARGET, Profile, RunConfig
from engagelab_kit.contract_tests.discovery import mock_credentials, unreachable
from engagelab_kit.contract_tests.drift import ConfigError
from engagelab_kit.contract_tests.runner import DRIFT, Outcome, build_cases
from engagelab_kit.contract_tests.session import load_app
from engagelab_kit.contract_tests.traceability import markdown as rules_markdown
from engagelab_kit.contract_tests.traceability import trace
from engagelab_kit.spec.version import __version__

PROG = "engagelab-contract"
EXIT_OK, EXIT_DRIFT, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INCOMPLETE = 0, 1, 2, 3, 4


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Contract-test a POST /v1/user/contact target against the spec (contact-api.md).",
        epilog="Credentials: ENGAGELAB_API_KEY / ENGAGELAB_API_SECRET; ENGAGELAB_DELETED_PROJECT_CREDENTIALS and "
        "ENGAGELAB_DELETED_DATASOURCE_CREDENTIALS (key:secret). Exit codes: 0 conforms and complete, 1 drift, "
        "2 usage error, 3 target unreachable or internal error, 4 no drift but incomplete.",
    )
    add = p.add_argument
    add("--version", action="version", version=f"{PROG} {__version__}")
    add("--target", metavar="URL", help=f"base URL of the target (env {ENV_TARGET}); default: the in-process mock")
    add(
        "--report-dir",
        metavar="DIR",
        type=Path,
        help="write report.html, drift-report.json, summary.md and junit.xml here",
    )
    add("--allow-writes", action="store_true", help="live targets: also run success-path checks (needs --euid)")
    add("--euid", type=int, metavar="N", help="the only euid written on a live target")
    add("--budget", type=int, metavar="N", help="maximum number of requests (live default 250)")
    add("--rate", type=float, metavar="R", help="maximum requests per second (live default 5)")
    add(
        "--checks",
        default="",
        metavar="A,B",
        help="run only these checks (see --list-checks); the run is then incomplete",
    )
    add(
        "--select",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only the cases whose id matches (repeatable); the run is then incomplete",
    )
    add("--list-checks", action="store_true", help="list the checks and exit")
    add("--list-rules", action="store_true", help="print the traceability table (rule -> cases, checks) and exit")
    add(
        "--max-latency",
        type=float,
        default=RunConfig.max_latency,
        metavar="S",
        help="note answers slower than this many seconds (a note, never drift)",
    )
    add("--request-timeout", type=float, default=RunConfig.timeout, metavar="S", help="per-request timeout")
    add("--max-examples", type=int, default=RunConfig.max_examples, metavar="N", help="examples per property")
    add("--seed", type=int, metavar="N", help="seed of the generated requests (printed; reuse it to reproduce)")
    add(
        "--profile",
        metavar="FILE",
        help="target profile (TOML or JSON): contact_types, http_status, rule_status, accepted drift groups",
    )
    add(
        "--baseline",
        metavar="PREVIOUS.json",
        type=Path,
        help="an earlier drift-report.json: mark each drift group new, gone or unchanged",
    )
    add(
        "--fail-on",
        choices=("new", "any"),
        default="any",
        help="exit 1 on any drift (default) or only on drift that is new since --baseline",
    )
    add(
        "--write-profile",
        metavar="FILE",
        type=Path,
        help="write a profile accepting every drift group found (use it with --profile next time)",
    )
    add(
        "--dry-run",
        action="store_true",
        help="print the plan (curl lines) and whether it fits the budget; send nothing",
    )
    add("--app", metavar="MODULE:ATTR", help="in-process target: a WSGI app or factory (default: the mock)")
    add("-v", "--verbose", action="store_true", help="one line per case")
    return p


def config_from(args: argparse.Namespace) -> RunConfig:
    profile = Profile.load(Path(args.profile)) if args.profile else Profile()
    selected = tuple(c.strip() for c in args.checks.split(",") if c.strip())
    return RunConfig(
        target=args.target or os.environ.get(ENV_TARGET) or None,
        profile=profile,
        allow_writes=args.allow_writes,
        euid=args.euid,
        budget=args.budget,
        rate=args.rate,
        max_latency=args.max_latency,
        timeout=args.request_timeout,
        checks=checks.select(selected),
        max_examples=args.max_examples,
        seed=args.seed if args.seed is not None else random.randrange(2**32),
        dry_run=args.dry_run,
        report_dir=args.report_dir,
        app_factory=args.app,
    ).with_defaults()


class Progress:
    """A live line on a terminal; a plain line every 100 cases in CI logs."""

    def __init__(self, stream: TextIO, verbose: bool) -> None:
        self.stream, self.verbose = stream, verbose
        self.tty = stream.isatty()
        self.drifts = 0

    def __call__(self, run: ContractRun, outcome: Outcome) -> None:
        self.drifts += outcome.verdict == DRIFT
        budget = f"/{run.config.budget}" if run.config.budget else ""
        line = f"requests {run.session.sent}{budget}; cases {len(run.outcomes)}; drifts {self.drifts}"
        if self.verbose:
            self.stream.write(f"{outcome.verdict:12} {outcome.case_id}\n")
        elif self.tty:
            self.stream.write(f"\r{line}  ")
        elif len(run.outcomes) % 100 == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and not self.verbose:
            self.stream.write("\n")


def exit_code(data: dict[str, object], fail_on: str) -> int:
    if baseline.failing(data, fail_on):
        return EXIT_DRIFT
    coverage = data["coverage"]
    assert isinstance(coverage, dict)
    return EXIT_OK if coverage["complete"] else EXIT_INCOMPLETE


def planned_cases(config: RunConfig, run: ContractRun) -> int:
    from engagelab_kit.contract_tests.properties import PROPERTIES

    return len(build_cases(config)) + len(PROPERTIES) + sum(1 for o in run.outcomes if o.group == "compare")


def rules_table(config: RunConfig) -> str:
    """The traceability table (Markdown): every rule, the cases and checks that verify it."""
    cases = [(c.id, c.rule) for c in build_cases(config)]
    from engagelab_kit.contract_tests.properties import PROPERTIES

    cases += [(f"property/{p.name}", p.rule) for p in PROPERTIES]
    cited = {name: rule for name, rule in checks.CITES.items() if rule}
    return rules_markdown(trace(cases, cited))


def main(argv: Sequence[str] | None = None) -> int:
    warnings.simplefilter("ignore")  # library warnings are not the user's business
    args = parser().parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{PROG}: interrupted\n")
        return EXIT_UNREACHABLE
    except Exception as error:  # one line, never a traceback on a user's screen
        sys.stderr.write(f"{PROG}: internal error: {type(error).__name__}: {error}\n")
        return EXIT_UNREACHABLE


def _main(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.list_checks:
        for name, doc in checks.describe().items():
            out.write(f"{name:20} {doc}\n")
        return EXIT_OK
    try:
        config = mock_credentials(config_from(args))
        previous = baseline.load(args.baseline) if args.baseline else None
    except (ConfigError, OSError, ValueError) as error:
        sys.stderr.write(f"{PROG}: error: {error}\n")
        return EXIT_USAGE
    if args.list_rules:
        out.write(rules_table(config))
        return EXIT_OK
    if config.dry_run:
        out.write("\n".join(plan(config)) + "\n")
        return EXIT_OK
    if config.target:
        problem = unreachable(config.target)
        if problem:
            sys.stderr.write(f"{PROG}: cannot reach {config.target}: {problem}\n")
            return EXIT_UNREACHABLE
    out.write(f"{config.banner()}\n{fit_line(config)}\n")
    progress = Progress(sys.stderr, args.verbose)
    app = load_app(config.app_factory) if config.target is None else None
    run = run_suite(config, app, select=tuple(args.select) or ("*",), progress=progress)
    progress.done()
    data = report.build(run, planned=planned_cases(config, run))
    if args.select:
        data["coverage"]["complete"] = False
    baseline.mark(data, previous, config.profile.accepted)
    if args.report_dir:
        writers.write_reports(data, args.report_dir, run.session.redactor.text)
    if args.write_profile:
        args.write_profile.write_text(baseline.profile_text(data), "utf-8")
    for line in _closing_lines(data):
        out.write(run.session.redactor.text(line) + "\n")
    return exit_code(data, args.fail_on)


def _closing_lines(data: dict[str, object]) -> list[str]:
    lines = [f"verdict: {writers.verdict_line(data)}"]
    coverage = data["coverage"]
    assert isinstance(coverage, dict)
    lines.append(
        f"rules verified: {coverage['rules_verified']} of {coverage['rules_counted']}; cases run: "
        f"{coverage['cases_run']} of {coverage['cases_planned']}"
    )
    for rule, why in {**coverage["rules_not_verified"], **coverage["rules_partly_verified"]}.items():
        lines.append(f"  not verified: {rule}: {why}")
    groups = data["drift_groups"]
    assert isinstance(groups, list)
    for g in groups[:20]:
        status = f" [{g['status']}]" if g.get("status") else ""
        lines.append(
            f"  DRIFT{status} {g['rule']}: {g['check']} expected {writers.text(g['expected'])}, observed "
            f"{writers.text(g['observed'])} ({g['count']}x)\n    {g['reproduction']}"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
