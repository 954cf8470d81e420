"""Sends cases, applies the selected checks, and records an Outcome per case."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engagelab_kit.contract_tests import checks
from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.checks import Observation
from engagelab_kit.contract_tests.config import RunConfig
from engagelab_kit.contract_tests.drift import (
    BudgetExhausted,
    ContractDrift,
    DriftGroup,
    IdempotencyDrift,
    IntermittentDrift,
    ShapeDrift,
)
from engagelab_kit.contract_tests.fields import FIELD_TABLES
from engagelab_kit.contract_tests.http import HttpResponse
from engagelab_kit.contract_tests.precedence import entry_order_cases, precedence_cases
from engagelab_kit.contract_tests.session import Session
from engagelab_kit.contract_tests.tables import REQUEST_TABLES
from engagelab_kit.contract_tests.traceability import sentence

CONFORM, DRIFT, NOT_CHECKED = "conform", "drift", "not checked"


@dataclass
class Outcome:
    case_id: str
    rule: str
    group: str
    expected_code: int | None
    expected_status: int | None
    verdict: str = NOT_CHECKED
    observed_status: int | None = None
    observed_code: int | None = None
    drifts: list[dict[str, Any]] = field(default_factory=list)
    curl: str = ""
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # time spent sending and checking this case
    error: ContractDrift | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "error"}
        return data


def build_cases(config: RunConfig) -> list[Case]:
    factory = Factory(config, config.oracle)
    cases: list[Case] = []
    for table in (*REQUEST_TABLES, *FIELD_TABLES, precedence_cases, entry_order_cases):
        cases.extend(table(factory))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise AssertionError(f"duplicate case id {case.id}")
        seen.add(case.id)
    return cases


def skip_reason(case: Case, config: RunConfig) -> str:
    for need in case.needs:
        if getattr(config, need) is None:
            hint = {
                "credentials": "set ENGAGELAB_API_KEY and ENGAGELAB_API_SECRET",
                "deleted_project": "set ENGAGELAB_DELETED_PROJECT_CREDENTIALS=key:secret",
                "deleted_datasource": "set ENGAGELAB_DELETED_DATASOURCE_CREDENTIALS=key:secret",
            }[need]
            return f"needs {need.replace('_', ' ')} ({hint})"
    if case.writes_euid is not None:
        if not config.writes:
            return "read-safe run: success-path checks need --allow-writes and --euid"
        if not config.local and case.writes_euid != config.euid:
            return f"would write to euid {case.writes_euid}; live targets are written only at --euid"
    return ""


# After this many answers over --max-latency the run stops sending: the drift is
# established, and waiting seconds per request would only make the run crawl.
LATENCY_BREAKER = 5


class Runner:
    def __init__(self, session: Session, selected: tuple[str, ...] = ()) -> None:
        self.session = session
        self.config = session.config
        self.oracle = self.config.oracle
        self.selected = checks.select(selected)
        self.slow_answers = 0

    def blocked(self, case: Case) -> str:
        """Why this case is not sent, or "" when it is."""
        if self.slow_answers >= LATENCY_BREAKER:
            return (
                f"not sent: {self.slow_answers} answers were slower than {self.config.max_latency:g} s, "
                "so the run stopped waiting on this target"
            )
        return skip_reason(case, self.config)

    def observe(self, case: Case, response: HttpResponse, notes: list[str] | None = None) -> list[ContractDrift]:
        obs = Observation(case, response, self.oracle, self.config.max_latency, notes if notes is not None else [])
        found: list[ContractDrift] = []
        for name in self.selected:
            func = checks.REGISTRY.get(name)
            if func is None:
                continue
            try:
                func(obs)
            except ContractDrift as drift:
                found.append(drift)
        if response.elapsed > self.config.max_latency:
            self.slow_answers += 1
        return found

    def check(
        self, case: Case, retry: bool = True, notes: list[str] | None = None
    ) -> tuple[HttpResponse, list[ContractDrift]]:
        """Send and check; send once more where the run-level checks ask for it.

        Hypothesis replays failures itself, so properties pass retry=False.
        """
        response = self.session.send(case.request)
        found = self.observe(case, response, notes)
        if found and retry and "intermittency" in self.selected and self.session.remaining() > 0:
            again = self.session.send(case.request)
            if _answer(again) != _answer(response):
                found.append(
                    IntermittentDrift(
                        "intermittency",
                        _answer(response),
                        _answer(again),
                        "the same request was answered differently on a second send",
                    )
                )
        elif not found and case.writes_euid is not None and "idempotency" in self.selected:
            again = self.session.send(case.request)
            if _answer(again, True) != _answer(response, True):
                found.append(IdempotencyDrift("idempotency", _answer(response, True), _answer(again, True)))
        return response, found

    def run(self, case: Case) -> Outcome:
        started = time.perf_counter()
        outcome = self._run(case)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _run(self, case: Case) -> Outcome:
        outcome = Outcome(case.id, case.rule, case.group, case.code, case.status)
        outcome.reason = self.blocked(case)
        if outcome.reason:
            return outcome
        try:
            response, found = self.check(case, notes=outcome.notes)
        except BudgetExhausted as stop:
            outcome.reason = str(stop)
            return outcome
        except OSError as failure:  # reset, timeout, refused mid-run
            drift = ShapeDrift("response_shape", "an HTTP response", f"{type(failure).__name__}: {failure}")
            self.record(outcome, case, [drift])
            return outcome
        outcome.observed_status = response.status
        outcome.observed_code = Observation(case, response, self.oracle, 0).code()
        outcome.verdict = CONFORM
        if found:
            self.record(outcome, case, found)
        return outcome

    def record(self, outcome: Outcome, case: Case, found: list[ContractDrift]) -> None:
        """Mark the outcome drifted: each drift cites its rule, with one curl reproduction."""
        curl = self.session.curl(case.request)
        error = found[0] if len(found) == 1 else DriftGroup(found)
        error.with_curl(curl)
        # A drifted target might echo credentials back: scrub what we keep.
        error.args = (self.session.redactor.text(str(error.args[0])),)
        outcome.verdict, outcome.error, outcome.curl = DRIFT, error, curl
        outcome.drifts = [cite(d.record(), case.rule) for d in found]


def cite(record: dict[str, Any], case_rule: str) -> dict[str, Any]:
    """A drift record with the contract rule and sentence it breaks."""
    rule = checks.CITES.get(record["check"]) or case_rule
    return {**record, "rule": rule, "sentence": sentence(rule)}


def _answer(response: HttpResponse, with_message: bool = False) -> tuple[Any, ...]:
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) and with_message else None
    return (response.status, code, message)


