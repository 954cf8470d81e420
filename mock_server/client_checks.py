"""Checks of a *client's* behaviour: what it sent (request validation) and what it does on failure.

Request validation reads the mock's journal: every answer the rules gave
carries the id of the spec rule that refused the request (``errors.json``), so
a rejected request is reported with that rule, its code and the request
itself. Answers a test steered (faults, ``X-Mock-Force-Code``) are not the
client's doing and are skipped, and so, by default, are the rules about which
credentials or euids the test chose (a deleted project, a wrong secret).

The failure matrix runs a client call once per documented error code and per
transport fault and tabulates what the client did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from engagelab_kit import spec
from engagelab_kit.mock_server.control_client import Journal, MockControl, Received, Rows

_SPEC = spec.load()
_WHEN = {r.id: r.when for r in (*_SPEC.rules, *_SPEC.register_rules)}
# Which key, secret, project or (strict mode) euid a request names is the test's choice, not the client's.
ACCOUNT_RULES = frozenset({
    "auth.key_format", "auth.key_unknown", "auth.secret", "auth.project_deleted", "auth.datasource_deleted",
    "euid.unknown",
})


@dataclass(frozen=True)
class RequestProblem:
    """A request the real API would reject: the rule that refuses it, its code, and the request."""

    rule: str
    code: int
    request: Received

    @property
    def when(self) -> str:
        return _WHEN.get(self.rule, "")

    def __str__(self) -> str:
        return (f"rule {self.rule} -> code {self.code}: {self.when}\n"
                f"    the mock answered: {self.request.message}\n"
                f"    request: {self.request.describe()}")


def request_problems(journal: Journal, *, include_account_rules: bool = False) -> list[RequestProblem]:
    """Every request in ``journal`` that the spec's rules refused, in the order sent."""
    problems = []
    for entry in journal:
        if entry.steered or entry.code in (None, 0) or entry.rule is None:
            continue
        if entry.rule in ACCOUNT_RULES and not include_account_rules:
            continue
        problems.append(RequestProblem(entry.rule, entry.code, entry))
    return problems


class InvalidRequestsSent(AssertionError):
    def __init__(self, problems: Sequence[RequestProblem]) -> None:
        listing = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        super().__init__(f"the client sent {len(problems)} request(s) the real API would reject:\n{listing}")
        self.problems = list(problems)


def assert_valid_requests(journal: Journal, *, include_account_rules: bool = False) -> None:
    problems = request_problems(journal, include_account_rules=include_account_rules)
    if problems:
        raise InvalidRequestsSent(problems)


# -- the failure matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    code: int | None = None
    drop: bool = False
    latency: bool = False
    # None: every attempt misbehaves; 1: only the first, so a retry can succeed.
    times: int | None = None


def scenarios(codes: Sequence[int] | None = None, transient: bool = True) -> list[Scenario]:
    """Each documented error code on every attempt, then latency, a dropped connection, and (``transient``)
    a single -1 and a single drop that a retry can get past."""
    chosen = sorted(_SPEC.documented_codes - {0}, key=lambda c: (c == -1, c)) if codes is None else list(codes)
    out = [Scenario(f"code {c}", code=c) for c in chosen]
    out += [Scenario("latency past timeout", latency=True), Scenario("dropped connection", drop=True)]
    if transient:
        out += [Scenario("-1 once, then ok", code=-1, times=1), Scenario("drop once, then ok", drop=True, times=1)]
    return out


@dataclass(frozen=True)
class MatrixRow:
    scenario: str
    returned: str | None
    raised: str | None
    # The exception's text, and its ``code`` attribute when it carries an API code.
    error: str | None
    error_code: int | None
    attempts: int
    answers: tuple[int | None, ...]
    seconds: float

    @property
    def outcome(self) -> str:
        if self.raised is None:
            return f"returned {self.returned}"
        if self.error_code is not None:
            return f"raised {self.raised}({self.error_code})"
        return f"raised {self.raised}: {self.error}" if self.error else f"raised {self.raised}"


class FailureMatrix(Rows[MatrixRow]):
    """What the client did per scenario; ``str()`` is a readable table, ``rows``/``as_dicts()`` the data."""

    def row(self, scenario: str) -> MatrixRow:
        for row in self.rows:
            if row.scenario == scenario:
                return row
        raise KeyError(scenario)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [asdict(row) for row in self.rows]

    def __str__(self) -> str:
        head = ("scenario", "client", "attempts", "mock answered", "seconds")
        lines = [(r.scenario, _clip(r.outcome, 60), str(r.attempts),
                  " ".join("drop" if a is None else str(a) for a in r.answers) or "-", f"{r.seconds:.2f}")
                 for r in self.rows]
        widths = [max(len(x[i]) for x in (head, *lines)) for i in range(len(head))]
        fmt = " | ".join(f"{{:{w}}}" for w in widths)
        rule = "-+-".join("-" * w for w in widths)
        return "\n".join([fmt.format(*head), rule, *(fmt.format(*x) for x in lines)])


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def failure_matrix(call: Callable[[], Any], control: MockControl, *, timeout: float,
                   codes: Sequence[int] | None = None, transient: bool = True,
                   path: str | None = None) -> FailureMatrix:
    """Run ``call`` (the client doing one request, or what wraps it) once per scenario.

    ``timeout`` is the client's read timeout in seconds; the latency scenario answers
    that plus a quarter of a second late. Faults apply to ``path`` (default the contact
    endpoint). Faults and the journal are cleared before each scenario and after the
    last; stored users are left alone.
    """
    rows = []
    delay_ms = timeout * 1000 + 250
    try:
        for scenario in scenarios(codes, transient):
            control.clear_faults()
            control.clear_journal()
            control.add_fault(code=scenario.code, drop=scenario.drop, times=scenario.times, path=path,
                              latency_ms=delay_ms if scenario.latency else 0)
            rows.append(_run(scenario, call))
            if scenario.latency:
                time.sleep(delay_ms / 1000)  # the abandoned attempts finish and reach the journal
            journal = control.journal().filter(path=path or _SPEC.contact_path)
            answers = tuple(None if e.dropped else e.code for e in journal)
            rows[-1] = replace(rows[-1], attempts=len(answers), answers=answers)
    finally:
        control.clear_faults()
    return FailureMatrix(rows)


def _run(scenario: Scenario, call: Callable[[], Any]) -> MatrixRow:
    started = time.perf_counter()
    returned = raised = error = error_code = None
    try:
        returned = _clip(repr(call()), 120)
    except Exception as exc:
        raised, error = type(exc).__name__, _clip(str(exc), 200)
        code = getattr(exc, "code", None)
        error_code = code if type(code) is int else None
    return MatrixRow(scenario.name, returned, raised, error, error_code, 0, (),
                     round(time.perf_counter() - started, 3))

