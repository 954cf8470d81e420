"""Programmatic entry point: run the suite without pytest, get outcomes back."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.config import RunConfig
from engagelab_kit.contract_tests.http import WsgiApp
from engagelab_kit.contract_tests.properties import PROPERTIES, Property, generate, run_property
from engagelab_kit.contract_tests.runner import DRIFT, Outcome, Runner, build_cases, compare_groups
from engagelab_kit.contract_tests.session import Session, open_session


@dataclass
class ContractRun:
    """One run against one target; pytest items and the API both go through it."""

    config: RunConfig
    session: Session
    runner: Runner
    factory: Factory
    outcomes: list[Outcome] = field(default_factory=list)
    progress: Callable[[ContractRun, Outcome], None] | None = None
    _ready: dict[str, Outcome] = field(default_factory=dict)

    @classmethod
    def open(cls, config: RunConfig, app: WsgiApp | None = None) -> ContractRun:
        session = open_session(config, app)
        return cls(config, session, Runner(session, config.checks), Factory(config, config.oracle))

    def cases(self) -> list[Case]:
        return prioritise(build_cases(self.config))

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
            started = time.perf_counter()
            outcome = run_property(prop, self.runner, self.factory, examples)
            outcome.seconds = time.perf_counter() - started
            self._ready[f"property/{prop.name}"] = outcome

    def run_case(self, case: Case) -> Outcome:
        ready = self._ready.pop(case.id, None)
        return self._keep(ready if ready is not None else self.runner.run(case))

    def run_property(self, prop: Property) -> Outcome:
        ready = self._ready.pop(f"property/{prop.name}", None)
        if ready is not None:
            return self._keep(ready)
        started = time.perf_counter()
        outcome = run_property(prop, self.runner, self.factory, generate(prop, self.factory))
        outcome.seconds = time.perf_counter() - started
        return self._keep(outcome)

    def _keep(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        if self.progress is not None:
            self.progress(self, outcome)
        return outcome

    def finish(self) -> list[Outcome]:
        """The run-level comparisons, once every case was answered."""
        found = compare_groups(self.runner)
        self.outcomes.extend(found)
        return found

    @property
    def drifted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == DRIFT]

    def close(self) -> None:
        self.session.close()


def prioritise(cases: list[Case]) -> list[Case]:
    """The order a budget is spent in: one case per rule first, then the other table cases
    (boundaries and variants), then precedence pairs; properties come after all cases."""
    first: list[Case] = []
    seen: set[str] = set()
    for case in cases:
        if case.rule not in seen:
            seen.add(case.rule)
            first.append(case)
    chosen = {c.id for c in first}
    rest = [c for c in cases if c.id not in chosen]
    return first + [c for c in rest if c.group != "precedence"] + [c for c in rest if c.group == "precedence"]


def run(
    config: RunConfig,
    app: WsgiApp | None = None,
    select: Iterable[str] = ("*",),
    properties: bool = True,
    progress: Callable[[ContractRun, Outcome], None] | None = None,
) -> ContractRun:
    """Run the cases whose id matches one of the `select` globs, then the properties."""
    contract = ContractRun.open(config, app)
    contract.progress = progress
    patterns = tuple(select)
    try:
        for case in contract.cases():
            if any(fnmatch.fnmatchcase(case.id, p) for p in patterns):
                contract.run_case(case)
        if properties:
            for prop in PROPERTIES:
                if any(fnmatch.fnmatchcase(f"property/{prop.name}", p) for p in patterns):
                    contract.run_property(prop)
        contract.finish()
    finally:
        contract.close()
    return contract


def plan_size(config: RunConfig) -> tuple[int, int]:
    """(requests the cases need, requests the properties may need) for this config."""
    from engagelab_kit.contract_tests.runner import skip_reason

    runnable = [c for c in build_cases(config) if not skip_reason(c, config)]
    cases = len(runnable) + sum(1 for c in runnable if c.writes_euid is not None)  # successes are sent twice
    return cases, len(PROPERTIES) * config.max_examples * 2


def fit_line(config: RunConfig) -> str:
    """Whether the plan fits the budget, in one line."""
    cases, props = plan_size(config)
    total = cases + props
    if config.budget is None:
        return f"plan: about {total} requests ({cases} for the cases, up to {props} for the properties); no budget"
    if total <= config.budget:
        return f"plan: about {total} requests; fits the budget of {config.budget}"
    return (
        f"plan: about {total} requests ({cases} for the cases, up to {props} for the properties); does NOT fit the "
        f"budget of {config.budget}: one case per rule is sent first, then boundaries, then precedence pairs, "
        "then properties; the rest is reported as not checked and the run exits 4"
    )


def plan(config: RunConfig) -> list[str]:
    """The dry run: every request the run would send, in budget order, as redacted curl lines."""
    from engagelab_kit.contract_tests.runner import skip_reason

    session = open_session(config)
    lines = [f"# {config.banner()}", f"# {fit_line(config)}"]
    for case in prioritise(build_cases(config)):
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
    lines.append(f"# {fit_line(config)}")
    return lines
