"""Sends cases, applies the selected checks, and records an Outcome per case."""

from __future__ import annotations

import base64
import binascii
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
from engagelab_kit.contract_tests.http import HttpResponse, header_text
from engagelab_kit.contract_tests.precedence import entry_order_cases, precedence_cases
from engagelab_kit.contract_tests.routes import ROUTE_TABLES
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
    for table in (*ROUTE_TABLES, *REQUEST_TABLES, *FIELD_TABLES, precedence_cases, entry_order_cases):
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
# Drifting requests re-sent to tell a steady drift from an intermittent one: enough to see the
# difference, few enough that a target failing everything is not sent everything twice.
RESEND_LIMIT = 40


class Runner:
    def __init__(self, session: Session, selected: tuple[str, ...] = ()) -> None:
        self.session = session
        self.config = session.config
        self.oracle = self.config.oracle
        self.selected = checks.select(selected)
        self.slow_answers = 0
        self._resends = 0
        self.compared: dict[str, list[tuple[Case, HttpResponse]]] = {}

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
    ) -> tuple[HttpResponse | None, list[ContractDrift]]:
        """Send and check; send once more where the run-level checks ask for it.

        Hypothesis replays failures itself, so properties pass retry=False.
        """
        try:
            response = self.session.send(case.request)
        except OSError as failure:  # reset, timeout, refused mid-run: no HTTP answer at all
            return None, [ShapeDrift("response_shape", "an HTTP response", f"{type(failure).__name__}: {failure}")]
        found = self.observe(case, response, notes)
        if case.compare:
            self.compared.setdefault(case.compare, []).append((case, response))
        if (
            found
            and retry
            and self._resends < RESEND_LIMIT
            and "intermittency" in self.selected
            and self.session.remaining() > 0
        ):
            self._resends += 1
            again = self._resend(case)
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
            again = self._resend(case)
            if _answer(again, True) != _answer(response, True):
                found.append(IdempotencyDrift("idempotency", _answer(response, True), _answer(again, True)))
        return response, found

    def _resend(self, case: Case) -> HttpResponse:
        try:
            return self.session.send(case.request)
        except OSError:
            return HttpResponse(0, {}, b"", 0.0)

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
        if response is None:
            self.record(outcome, case, found)
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


# Headers whose values or presence vary per answer, whatever was asked.
_VOLATILE = frozenset({"date", "content-length", "connection", "keep-alive", "x-request-id", "server"})


def comparable(case: Case, response: HttpResponse) -> tuple[Any, ...]:
    """An answer with the sent key masked: what a caller can learn from it."""
    token = header_text(case.request.header("Authorization") or "").rpartition(" ")[2]
    key = _decoded_key(token)
    status, code, message = _answer(response, with_message=True)
    if isinstance(message, str) and key:
        message = message.replace(key, "<key>")
    names = tuple(sorted(n.lower() for n in response.headers if n.lower() not in _VOLATILE))
    return status, code, message, names


def _decoded_key(token: str) -> str:
    try:
        return base64.b64decode(token).decode("utf-8").partition(":")[0]
    except (ValueError, binascii.Error):
        return ""


def compare_groups(runner: Runner) -> list[Outcome]:
    """Run-level check: cases of one compare group must be answered alike."""
    outcomes = []
    for group, answers in runner.compared.items():
        started = time.perf_counter()
        first_case = answers[0][0]
        outcome = Outcome(f"compare/{group}", first_case.rule, "compare", first_case.code, first_case.status)
        seen = {c.id: comparable(c, r) for c, r in answers}
        outcome.verdict = CONFORM
        if len(set(seen.values())) > 1 and "wrong_secret_alike" in runner.selected:
            distinct = "; ".join(f"{cid}: {_shown(v)}" for cid, v in seen.items())
            drift = ContractDrift("wrong_secret_alike", "the same answer for every key", distinct)
            odd = next(c for c, r in answers if comparable(c, r) != seen[first_case.id])
            runner.record(outcome, odd, [drift])
        outcome.seconds = time.perf_counter() - started
        outcomes.append(outcome)
    return outcomes


def _shown(answer: tuple[Any, ...]) -> str:
    status, code, message, names = answer
    return f"HTTP {status}, code {code}, message {message!s}, headers {', '.join(names)}"


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
