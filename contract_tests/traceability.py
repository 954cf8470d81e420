"""The contract, sentence by sentence: each rule the suite knows, the sentence it cites, and
whether it can be seen from outside. ``engagelab-contract --list-rules`` prints the table
with the cases and checks that verify each rule (generated from the case tables).

Rule ids of ``spec/errors.json`` are used as they are; the sentences of contact-api.md that
the error table does not carry (response shape, CORS, what a 40050 may reveal, ...) get ids
of their own here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from engagelab_kit import spec


@dataclass(frozen=True)
class ContractRule:
    id: str
    sentence: str  # quoted (or closely paraphrased) from contact-api.md
    observable: bool = True
    why_not: str = ""  # for rules that cannot be seen from outside, or are mock options
    counts: bool = True  # False: a mock option, not part of the default contract


# Sentences for the rules of errors.json, keyed by rule id.
_ERROR_TABLE_SENTENCES = {
    "route.path": "Unknown paths: HTTP 404, JSON body, non-zero code. Trailing slash, repeated slashes, dot "
    "segments, ';' parameters, case changes are unknown paths; the query string is ignored for routing.",
    "route.method": "Any other method on that path: HTTP 405, JSON body, non-zero code. HEAD and OPTIONS on the "
    "endpoint -> 405 (HEAD without a body).",
    "auth.header": "header missing, scheme not Basic (case-insensitive), payload not valid base64, not UTF-8, no "
    "colon, empty key or empty secret -> 40050; one or more spaces after the scheme; canonical, padded base64; "
    "key and secret split at the first colon.",
    "auth.key_format": "key not of the project-key form (default: 24 lowercase hex chars) -> 50031",
    "auth.key_unknown": "well-formed key that no configured project has -> 50034",
    "auth.secret": "known key, wrong secret -> 40050, whatever the project's or data source's status",
    "auth.project_deleted": "well-formed key whose project is marked deleted -> 50034",
    "auth.datasource_deleted": "key whose API data source is marked deleted -> 50074",
    "body.size": "body size is limited (default 1 MiB; larger -> HTTP 413); step 3 runs size limit first; "
    "unauthenticated requests are answered by step 2 whatever their size.",
    "body.content_type": "Content-Type must be application/json (charset parameter allowed, case-insensitive); "
    "a charset other than UTF-8, application/*+json and other media types -> 55004.",
    "body.utf8": "body must be UTF-8 (no byte-order mark) -> otherwise 55004",
    "body.json": "JSON means RFC 8259: no NaN/Infinity, no raw control characters in strings, no lone "
    "surrogates, nesting deeper than 32 -> 55004; duplicate keys: the last one wins (and counts once); the text "
    "rules hold for the whole body text, including a value a later duplicate key overrides.",
    "body.object": "the top level must be an object -> otherwise 55004; unknown top-level fields are ignored.",
    "euid.missing": 'euid missing, null, or "" -> 40007',
    "euid.invalid": "anything but a JSON integer literal in 1..9223372036854775807 -> 55108; 1.0, 1e3 -> 55108; "
    "an integer literal of any length outside the range -> 55108, never a crash.",
    "euid.unknown": "optional strict mode: an euid the mock has not been told about -> 55108",
    "contacts.type": "contacts missing, null, or not an object -> 55004",
    "contacts.empty": "contacts is the empty object {} -> 55103",
    "contacts.count": "more than 100 entries -> 55101 (100 passes; count is checked before entries)",
    "entry.name_invalid": "name empty, longer than 64 characters, or not matching ^[A-Za-z_][A-Za-z0-9_]*$ as a "
    "whole string -> 55102",
    "entry.name_unsupported": "name well-formed but not a supported contact type -> 55106",
    "entry.value_type": "value not a string and not null -> 55004",
    "entry.value_null": "value null -> 55103",
    "entry.value_blank": "value empty or only whitespace (Unicode White_Space) -> 55107",
    "entry.value_length": "value longer than 256 characters (Unicode code points; 256 accepted) -> 55105; values "
    "are otherwise opaque.",
    "success": 'Success: the given contacts are merged into that user\'s stored contacts -> 0, "success". '
    "Repeating the same request gives the same result.",
}

# Sentences of contact-api.md that are not rows of the error table.
EXTRA_RULES: tuple[ContractRule, ...] = (
    ContractRule(
        "route.percent_encoded",
        "Percent-encoded spellings of the path itself are ambiguous: either 404 "
        "or exactly the endpoint's own answer is correct.",
    ),
    ContractRule("route.no_cors", "No CORS: this API is server-to-server."),
    ContractRule("entry.order", "Each entry, in request order, first failure wins."),
    ContractRule("auth.no_echo", "secrets are compared in constant time and never logged or echoed."),
    ContractRule(
        "auth.status_hidden",
        "known key, wrong secret -> 40050, whatever the project's or data source's "
        "status: a key's status is only revealed to its secret's holder.",
    ),
    ContractRule(
        "response.shape",
        "Every response body is a JSON object with an integer code and a non-empty "
        "string message; the message may carry a short detail after the documented description. No other "
        "fields. Never an HTML error page, anywhere.",
    ),
    ContractRule(
        "response.status",
        "HTTP status by default: 200 for code 0; 401 for 40050, 50031, 50034, 50074; "
        "400 for 40007, 55004 and the 551xx codes; 413 for an over-size body; 500 for -1.",
    ),
    ContractRule(
        "response.no_55104",
        "55104 is not documented anywhere: it must never be emitted, and a target that returns it is drift.",
    ),
    ContractRule("response.no_internal_error", "-1 (internal error) is only produced by deliberate fault injection."),
    ContractRule(
        "success.merge",
        "the given contacts are merged into that user's stored contacts (per project and euid; keys not sent are kept)",
        observable=False,
        why_not="the API has no read call: stored contacts cannot be seen from outside",
    ),
    ContractRule(
        "reject.no_change",
        "A rejected request changes nothing: the mock is all-or-nothing.",
        observable=False,
        why_not="the API has no read call: stored contacts cannot be seen from outside",
    ),
    ContractRule(
        "auth.constant_time",
        "secrets are compared in constant time",
        observable=False,
        why_not="a timing side channel needs thousands of samples; out of a capped run's reach",
    ),
)

_MOCK_OPTIONS = {"euid.unknown": "strict-euid mode is a mock option, off by default: not part of the contract"}


def contract_rules() -> tuple[ContractRule, ...]:
    """Every rule: the error table's (in precedence order), then the other sentences."""
    table = tuple(
        ContractRule(
            r.id,
            _ERROR_TABLE_SENTENCES.get(r.id, r.when),
            observable=r.id not in _MOCK_OPTIONS,
            why_not=_MOCK_OPTIONS.get(r.id, ""),
            counts=r.id not in _MOCK_OPTIONS,
        )
        for r in spec.load().rules
    )
    return (*table, *EXTRA_RULES)


def sentence(rule_id: str) -> str:
    return next((r.sentence for r in contract_rules() if r.id == rule_id), "")


@dataclass(frozen=True)
class Trace:
    rule: ContractRule
    cases: tuple[str, ...]
    checks: tuple[str, ...]


def trace(case_rules: Iterable[tuple[str, str]], check_rules: dict[str, str]) -> list[Trace]:
    """Rule -> the cases (id, rule) and checks (name -> rule) that verify it."""
    cases: dict[str, list[str]] = defaultdict(list)
    for case_id, rule in case_rules:
        cases[rule].append(case_id)
    checks: dict[str, list[str]] = defaultdict(list)
    for name, rule in check_rules.items():
        checks[rule].append(name)
    return [Trace(r, tuple(cases.get(r.id, ())), tuple(checks.get(r.id, ()))) for r in contract_rules()]


def markdown(traces: list[Trace]) -> str:
    verified = sum(1 for t in traces if t.rule.counts and t.rule.observable and (t.cases or t.checks))
    unobservable = [t for t in traces if not t.rule.observable]
    lines = [
        "| rule | contract sentence | cases | checks | verified |",
        "|---|---|---|---|---|",
    ]
    for t in traces:
        shown = ", ".join(f"`{c}`" for c in t.cases[:4]) + (f" and {len(t.cases) - 4} more" if len(t.cases) > 4 else "")
        state = "yes" if t.rule.observable and (t.cases or t.checks) else f"not observable: {t.rule.why_not}"
        lines.append(
            f"| `{t.rule.id}` | {t.rule.sentence.replace('|', '/')} | {len(t.cases)}: {shown or '-'} "
            f"| {', '.join(f'`{c}`' for c in t.checks) or '-'} | {state} |"
        )
    lines += [
        "",
        f"Totals: {len(traces)} rules; {verified} verified by the suite; {len(unobservable)} not observable "
        f"from outside or mock options ({', '.join(t.rule.id for t in unobservable)}).",
    ]
    return "\n".join(lines) + "\n"
