"""Programmatic entry point: run the suite without pytest, get outcomes back."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.config import RunConfig
from engagelab_kit.contract_tests.http import WsgiApp
from engagelab_kit.contract_tests.properties import PROPERTIES, Property, generate, run_property
from engagelab_kit.contract_tests.runner import DRIFT, Outcome, Runner, build_cases
from engagelab_kit.contract_tests.session import Session, open_session


@dataclass
class ContractRun:
    """One run against one target; pytest items and the API both go through it."""

    config: RunConfig
    session: Session
    runner: Runner
    factory: Factory
    outcomes: list[Outcome] = field(default_factory=list)
    _ready: dict[str, Outcome] = field(default_factory=dict)

    @classmethod
    def open(cls, config: RunConfig, app: WsgiApp | None = None) -> ContractRun:
        session = open_session(config, app)
        return cls(config, session, Runner(session, config.checks), Factory(config, config.oracle))

    def cases(self) -> list[Case]:
        return build_cases(self.config)

    def prefetch(self, cases: Iterable[Case], properties: Iterable[Property] = ()) -> None:
        """Send and check these now, in one tight loop; run_case and run_property then only report.

        Under pytest this keeps per-item overhead out of the sending, so the HTTP
        path runs close to the client's own speed.
        """
        # Examples are drawn before anything is sent, so the sending is one contiguous loop.
        drawn = [(prop, generate(prop, self.factory)) for prop in properties]
        for case in cases:
            self._ready[case.id] = self.runner.run(case)
        for prop, examples in drawn:
            self._ready[f"property/{prop.name}"] = run_property(prop, self.runner, self.factory, examples)

    def run_case(self, case: Case) -> Outcome:
        outcome = self._ready.pop(case.id, None) or self.runner.run(case)
        self.outcomes.append(outcome)
        return outcome

    def run_property(self, prop: Property) -> Outcome:
        outcome = self._ready.pop(f"property/{prop.name}", None) or run_property(prop, self.runner, self.factory)
        self.outcomes.append(outcome)
        return outcome

    @property
    def drifted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == DRIFT]

    def close(self) -> None:
        self.session.close()


def run(
    config: RunConfig, app: WsgiApp | None = None, select: Iterable[str] = ("*",), properties: bool = True
) -> ContractRun:
    """Run the cases whose id matches one of the `select` globs, then the properties."""
    contract = ContractRun.open(config, app)
    patterns = tuple(select)
    try:
        for case in contract.cases():
            if any(fnmatch.fnmatchcase(case.id, p) for p in patterns):
                contract.run_case(case)
        if properties:
            for prop in PROPERTIES:
                if any(fnmatch.fnmatchcase(f"property/{prop.name}", p) for p in patterns):
                    contract.run_property(prop)
    finally:
        contract.close()
    return contract


def plan(config: RunConfig) -> list[str]:
    """The dry run: every request the run would send, as redacted curl lines."""
    from engagelab_kit.contract_tests.runner import skip_reason

    session = open_session(config)
    lines = [f"# {config.banner()}"]
    for case in build_cases(config):
        reason = skip_reason(case, config)
        lines.append(
            f"# {case.id}: " + (f"skipped ({reason})" if reason else f"expects code {case.code}, HTTP {case.status}")
        )
        if not reason:
            lines.append(session.curl(case.request))
    for prop in PROPERTIES:
        lines.append(
            f"# property/{prop.name}: up to {config.max_examples} generated requests (+ shrinking). {prop.doc}"
        )
    return lines
