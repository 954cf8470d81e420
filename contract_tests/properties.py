"""Hypothesis properties: generated requests, checked like the table cases.

Strategies come from the request JSON Schema (hypothesis-jsonschema) for the
success path and from the rules' data (white space, patterns, limits) for the
failure paths. Expected codes are computed by the Oracle, never by a target.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hypothesis
import hypothesis.errors
from hypothesis import strategies as st

from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.config import RunConfig
from engagelab_kit.contract_tests.drift import (
    BudgetExhausted,
    ContractDrift,
    DriftGroup,
    IntermittentDrift,
)
from engagelab_kit.contract_tests.http import HttpRequest
from engagelab_kit.contract_tests.runner import CONFORM, DRIFT, NOT_CHECKED, Outcome, Runner, cite
from engagelab_kit.contract_tests.tables import guarded

Strategy = Callable[[Factory], st.SearchStrategy[Case]]


@dataclass(frozen=True)
class Property:
    name: str
    rule: str
    strategy: Strategy
    doc: str
    # Shrinking schema-generated documents costs minutes of CPU on a target that fails them all:
    # such a property reports the first drifting example as drawn.
    shrink: bool = True


def _valid(f: Factory) -> st.SearchStrategy[Case]:
    """Whole request objects from the request schema, unknown top-level fields included."""
    # Imported here: at import time it reads hypothesis' character tables, which
    # hypothesis warns against while pytest is still loading plugins.
    from hypothesis_jsonschema import from_schema

    # Each field's values come from its own subschema; the two objects are put together here, because
    # hypothesis-jsonschema's object strategy drives Hypothesis internals that changed in 6.170.10.
    schema = copy.deepcopy(f.oracle.spec.schemas["contact-request"])
    euid_schema: dict[str, Any] = schema["properties"]["euid"]
    if not f.config.local:
        euid_schema = {"const": f.euid}  # live: writes only at --euid
    contacts_schema = schema["properties"]["contacts"]
    contacts = st.dictionaries(
        st.sampled_from(list(f.types)),
        from_schema(contacts_schema["additionalProperties"]),
        min_size=contacts_schema["minProperties"],
        max_size=min(contacts_schema["maxProperties"], len(f.types)),
    )
    ignored = st.dictionaries(  # unknown top-level fields, kept small
        from_schema({"type": "string", "maxLength": 16}).filter(lambda k: k not in schema["properties"]),
        _json_values(),
        max_size=2,
    )

    def build(euid: Any, entries: dict[str, Any], extra: dict[str, Any]) -> Case:
        draft = f.base().but(euid=euid, entries=tuple(entries.items()), extra=tuple(extra.items()))
        return f.case("property/valid", "success", draft, code=0)

    return st.builds(build, from_schema(euid_schema), contacts, ignored)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=5)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=6,
    )


def _invalid_euid(f: Factory) -> st.SearchStrategy[Case]:
    top = f.oracle.spec.limits.euid_max
    values = (st.integers(max_value=0) | st.integers(min_value=top + 1) | _json_values()).filter(
        lambda v: v is None or v == "" or not (type(v) is int and 1 <= v <= top)
    )
    return values.filter(lambda v: v is not None and v != "").map(
        lambda v: f.case("property/invalid-euid", "euid.invalid", f.base().but(euid=v))
    )


def _blank_values(f: Factory) -> st.SearchStrategy[Case]:
    spaces = sorted(f.oracle.spec.white_space)
    return st.text(alphabet=spaces, max_size=300).map(
        lambda v: f.case("property/blank-value", "entry.value_blank", f.base().with_entry(0, value=v))
    )


def _value_lengths(f: Factory) -> st.SearchStrategy[Case]:
    width = f.oracle.spec.limits.max_value_length
    spare = next((t for t in f.types[1:]), None)

    def build(value: str) -> Case:
        later = "entry.value_null" if spare else "entry.name_unsupported"
        code = f.oracle.rule_code("entry.value_length" if len(value) > width else later)
        draft = f.base().with_entry(0, value=value)
        draft = draft.but(entries=(*draft.entries, (spare or "zz_not_a_contact_type", None)))
        return f.case("property/value-length", "entry.value_length", draft, code=code)

    lengths = st.integers(1, width + 40)
    return lengths.flatmap(lambda n: st.text(min_size=n, max_size=n)).filter(lambda v: not f.oracle.blank(v)).map(build)


def _names(f: Factory) -> st.SearchStrategy[Case]:
    names = st.text(max_size=80) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,70}", fullmatch=True)

    def build(name: str) -> Case:
        rule = f.oracle.name_rule(name, f.types)
        hypothesis.assume(rule is not None)
        return f.case("property/contact-name", rule or "", f.base().with_entry(0, name=name))

    return names.map(build)


def _junk_bodies(f: Factory) -> st.SearchStrategy[Case]:
    def build(body: bytes) -> Case:
        try:
            parsed = json.loads(body.decode("utf-8"), parse_constant=float)
        except (UnicodeDecodeError, ValueError, RecursionError):
            parsed = None
        hypothesis.assume(not isinstance(parsed, dict))
        return f.case("property/junk-body", "body.object", guarded(f, f.base()).but(raw_body=body))

    non_objects = _json_values().filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode())
    return (st.binary(max_size=64) | non_objects).map(build)


def _auth_fuzz(f: Factory) -> st.SearchStrategy[Case]:
    known = frozenset(c.key for c in (f.config.credentials, f.config.deleted_project, f.config.deleted_datasource) if c)
    keys = st.from_regex(r"[0-9a-f]{24}", fullmatch=True) | st.text(max_size=30)
    structured = st.tuples(keys, st.text(max_size=20)).map(lambda ks: f"{ks[0]}:{ks[1]}".encode())

    def build(payload: bytes) -> Case:
        rule = f.oracle.auth_rule(payload, known)
        hypothesis.assume(rule is not None)
        header = "Basic " + base64.b64encode(payload).decode()
        return f.case("property/authorization", rule or "", guarded(f, f.base()).but(authorization=header), needs=())

    return (st.binary(max_size=40) | structured).map(build)


PROPERTIES: tuple[Property, ...] = (
    Property(
        "valid_requests_succeed", "success", _valid, "Schema-generated valid requests get code 0 (twice).", shrink=False
    ),
    Property(
        "invalid_euid_rejected", "euid.invalid", _invalid_euid, "Any euid that is not an in-range integer gets 55108."
    ),
    Property("blank_values_rejected", "entry.value_blank", _blank_values, "Values of White_Space only get 55107."),
    Property(
        "value_length_boundary", "entry.value_length", _value_lengths, "Non-blank values: 55105 above 256 code points."
    ),
    Property(
        "contact_names_checked", "entry.name_invalid", _names, "Arbitrary names get 55102 or 55106 as the pattern says."
    ),
    Property(
        "junk_bodies_rejected",
        "body.object",
        _junk_bodies,
        "Bytes that are not a JSON object get 55004, never a crash.",
    ),
    Property("authorization_fuzz", "auth.header", _auth_fuzz, "Arbitrary Basic credentials get 40050, 50031 or 50034."),
)


def _settings(config: RunConfig, phases: tuple[hypothesis.Phase, ...] = tuple(hypothesis.Phase)) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=config.max_examples,
        database=None,
        deadline=None,
        print_blob=False,
        phases=phases,
        suppress_health_check=list(hypothesis.HealthCheck),
    )


def generate(prop: Property, factory: Factory) -> list[Case]:
    """The examples hypothesis draws for this seed, drawn without sending anything."""
    drawn: list[Case] = []

    @hypothesis.seed(factory.config.seed)
    @_settings(factory.config, (hypothesis.Phase.generate,))
    @hypothesis.given(prop.strategy(factory))
    def collect(case: Case) -> None:
        drawn.append(case)

    collect()
    return drawn


# New requests hypothesis may send while shrinking one drift: a target that fails
# everything would otherwise be sent thousands of shrink candidates.
SHRINK_SENDS = 60

Answers = dict[HttpRequest, list[ContractDrift]]


def _send_drawn(drawn: list[Case], runner: Runner, answers: Answers) -> tuple[Case | None, str]:
    """Send pre-drawn examples back to back, noting each answer: (first drifting case, reason some were not sent)."""
    for case in drawn:
        reason = runner.blocked(case)
        if reason:
            return None, reason
        try:
            _, found = runner.check(case, retry=False)
        except BudgetExhausted as stop:
            return None, str(stop)
        answers[case.request] = found
        if found:
            return case, ""
    return None, ""


class _Replay:
    """Hypothesis replaying and shrinking one drifting property, answers kept in memory."""

    def __init__(self, prop: Property, runner: Runner, factory: Factory, answers: Answers) -> None:
        self.prop, self.runner, self.factory, self.answers = prop, runner, factory, answers
        self.failing: list[Case] = []
        self.budget_hit: list[str] = []
        self.sends = 0

    def probe(self, case: Case) -> None:
        """One example: answered from memory, or sent while the shrinking allowance lasts."""
        found = self.answers.get(case.request)
        if found is None:
            found = self._send(case)
            if found is None:
                return
        if found:
            self.failing.append(case)
            raise found[0] if len(found) == 1 else DriftGroup(found)

    def _send(self, case: Case) -> list[ContractDrift] | None:
        reason = self.runner.blocked(case)
        if reason:
            self.budget_hit.append(reason)
            return None
        if self.sends >= SHRINK_SENDS:
            return None  # out of shrinking allowance: the smallest drift so far stands
        self.sends += 1
        try:
            _, found = self.runner.check(case, retry=False)
        except BudgetExhausted as stop:
            self.budget_hit.append(str(stop))
            return None
        self.answers[case.request] = found
        return found

    def run(self) -> ContractDrift | None:
        """The drift hypothesis settles on (None when it no longer sees one)."""

        @hypothesis.seed(self.runner.config.seed)
        @_settings(self.runner.config)
        @hypothesis.given(self.prop.strategy(self.factory))
        def test(case: Case) -> None:
            self.probe(case)

        try:
            test()
        except ContractDrift as drift:
            return drift
        except hypothesis.errors.FlakyFailure as flaky:
            return IntermittentDrift(self.prop.name, "the same answer on replay", "a different answer", str(flaky))
        return None


def run_property(prop: Property, runner: Runner, factory: Factory, drawn: list[Case] | None = None) -> Outcome:
    """Check a property. With ``drawn`` (from generate()), those are sent first, back to back;
    hypothesis itself, which replays and shrinks, runs only when one of them drifts, and
    replays what was already answered from memory."""
    outcome = Outcome(f"property/{prop.name}", prop.rule, "property", None, None)
    answers: Answers = {}
    first: Case | None = None
    if drawn is not None:
        first, reason = _send_drawn(drawn, runner, answers)
        if first is None:
            outcome.verdict, outcome.reason = (NOT_CHECKED, reason) if reason else (CONFORM, "")
            return outcome
    replay = _Replay(prop, runner, factory, answers)
    replay.failing.extend([first] if first is not None else [])
    error = replay.run() if prop.shrink or first is None else None
    if error is None and first is not None:
        # Hypothesis did not meet the drifting example again: report it as it was.
        seen = answers[first.request]
        error = seen[0] if len(seen) == 1 else DriftGroup(seen)
    if error is not None:
        _record(outcome, error, runner, replay.failing[-1] if replay.failing else None)
    elif replay.budget_hit:
        outcome.verdict, outcome.reason = NOT_CHECKED, replay.budget_hit[0]
    else:
        outcome.verdict = CONFORM
    return outcome


def _record(outcome: Outcome, error: ContractDrift, runner: Runner, failing: Case | None) -> None:
    """The drift on the outcome, with a curl line for the smallest failing example and the seed."""
    if failing is not None:
        runner.record(outcome, failing, error.drifts if isinstance(error, DriftGroup) else [error])
    else:
        outcome.verdict, outcome.error = DRIFT, error
        outcome.drifts = [cite(error.record(), outcome.rule)]
    assert outcome.error is not None
    seed = runner.config.seed
    label = failing.id if failing else "?"
    outcome.error.args = (
        runner.session.redactor.text(f"{outcome.error.args[0]}\nhypothesis seed: {seed}; failing case: {label}"),
    )
