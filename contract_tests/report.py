"""The run as report data: verdict per rule and code, coverage, drift groups, notes.

``build(run)`` gathers it from a finished run; ``group_drifts(records)`` and
``group_notes(records)`` work on plain records, so a caller that judges exchanges
itself (a validation proxy) can build the same report from its own records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from engagelab_kit.contract_tests.api import ContractRun
from engagelab_kit.contract_tests.checks import CITES
from engagelab_kit.contract_tests.runner import CONFORM, DRIFT, NOT_CHECKED, Outcome
from engagelab_kit.contract_tests.traceability import contract_rules
from engagelab_kit.spec.version import __version__

NOT_OBSERVABLE = "not observable"


def _verdict(outcomes: list[Outcome]) -> str:
    verdicts = {o.verdict for o in outcomes}
    return DRIFT if DRIFT in verdicts else CONFORM if CONFORM in verdicts else NOT_CHECKED


def drift_records(outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
    """One record per drift seen: the rule it breaks, what was expected and seen, and where."""
    records = []
    for o in outcomes:
        for d in o.drifts:
            records.append({**d, "case_id": o.case_id, "curl": o.curl})
    return records


def group_key(record: Mapping[str, Any]) -> str:
    """A root cause: the rule, the check, and the behaviour (expected vs observed)."""
    return f"{record['rule']} | {record['check']} | expected {record['expected']} | observed {record['observed']}"


def group_drifts(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Drift records folded into one entry per root cause, with a count and one reproduction."""
    groups: dict[str, dict[str, Any]] = {}
    for r in records:
        key = group_key(r)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "key": key,
                "rule": r["rule"],
                "sentence": r.get("sentence", ""),
                "check": r["check"],
                "kind": r.get("kind", "drift"),
                "expected": r["expected"],
                "observed": r["observed"],
                "count": 0,
                "cases": [],
                "detail": r.get("detail", ""),
                "reproduction": r.get("curl", ""),
                "example_case": r.get("case_id", ""),
            }
        group["count"] += 1
        if len(group["cases"]) < 20:
            group["cases"].append(r.get("case_id", ""))
    return sorted(groups.values(), key=lambda g: (-g["count"], g["key"]))


def group_notes(notes: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """(case id, note) pairs folded by text: what the contract leaves open, as seen."""
    folded: dict[str, dict[str, Any]] = {}
    for case_id, text in notes:
        entry = folded.setdefault(text, {"note": text, "count": 0, "example_case": case_id})
        entry["count"] += 1
    return sorted(folded.values(), key=lambda n: -n["count"])


def _rules_section(run: ContractRun, by_rule: Mapping[str, list[Outcome]]) -> dict[str, Any]:
    """Verdict per contract rule: drift when a drift cites it; conform when a case of it, or a check
    citing it, ran without drift; otherwise not checked (with the reasons)."""
    oracle = run.config.oracle
    cited: dict[str, list[str]] = defaultdict(list)
    for o in run.outcomes:
        for d in o.drifts:
            cited[d["rule"]].append(o.case_id)
    answered = any(o.observed_status is not None for o in run.outcomes)
    by_check = {rule for name, rule in CITES.items() if rule and name in run.runner.selected}
    rules = {}
    for rule in contract_rules():
        outs = by_rule.get(rule.id, [])
        ran = any(o.verdict != NOT_CHECKED for o in outs) or (rule.id in by_check and answered)
        verdict = DRIFT if cited.get(rule.id) else CONFORM if ran else NOT_CHECKED
        reasons = sorted({o.reason for o in outs if o.reason}) or ["no case of this run verifies it"]
        if not rule.observable:
            verdict = NOT_OBSERVABLE
        code = _rule_code(rule.id)
        rules[rule.id] = {
            "verdict": verdict,
            "sentence": rule.sentence,
            "counts": rule.counts,
            "code": code,
            "expected_status": oracle.status(rule.id, code) if code is not None else None,
            "cases": len(outs),
            "conform": sum(1 for o in outs if o.verdict == CONFORM),
            "drifted": sorted(set(cited.get(rule.id, []))),
            "not_checked": sum(1 for o in outs if o.verdict == NOT_CHECKED),
            "why_not": rule.why_not
            if verdict == NOT_OBSERVABLE
            else "; ".join(reasons)
            if verdict == NOT_CHECKED
            else "",
        }
    return rules


def _rule_code(rule_id: str) -> int | None:
    from engagelab_kit import spec

    try:
        return spec.load().rule(rule_id).code
    except KeyError:
        return None


def _codes_section(run: ContractRun) -> dict[str, Any]:
    s = run.config.oracle.spec
    observed: dict[int, set[int]] = defaultdict(set)
    expected_cases: dict[int, int] = defaultdict(int)
    for o in run.outcomes:
        if o.observed_code is not None and o.observed_status is not None:
            observed[o.observed_code].add(o.observed_status)
        if o.expected_code is not None:
            expected_cases[o.expected_code] += 1
    codes = {}
    for code, entry in s.codes.items():
        codes[str(code)] = {
            "description": entry.description,
            "expected_status": run.config.oracle.status(None, code),
            "observed_statuses": sorted(observed.get(code, set())),
            "cases": expected_cases.get(code, 0),
            "emitted": entry.emitted,
        }
    return codes


def _coverage(run: ContractRun, rules: Mapping[str, Any], planned: int) -> dict[str, Any]:
    counted = {rid: r for rid, r in rules.items() if r["counts"] and r["verdict"] != NOT_OBSERVABLE}
    not_verified = {rid: r["why_not"] for rid, r in counted.items() if r["verdict"] == NOT_CHECKED}
    partly = {
        rid: f"{r['not_checked']} of {r['cases']} cases not run"
        for rid, r in counted.items()
        if r["verdict"] != NOT_CHECKED and r["not_checked"]
    }
    all_checks = set(_all_checks())
    run_checks = set(run.runner.selected)
    complete = not not_verified and not partly and run_checks >= all_checks
    return {
        "rules_total": len(rules),
        "rules_counted": len(counted),
        "rules_verified": len(counted) - len(not_verified),
        "rules_not_verified": not_verified,
        "rules_partly_verified": partly,
        "rules_not_observable": {rid: r["why_not"] for rid, r in rules.items() if r["verdict"] == NOT_OBSERVABLE},
        "cases_planned": planned,
        "cases_run": sum(1 for o in run.outcomes if o.verdict != NOT_CHECKED),
        "checks_run": sorted(run_checks),
        "checks_left_out": sorted(all_checks - run_checks),
        "complete": complete,
    }


def _all_checks() -> list[str]:
    from engagelab_kit.contract_tests.checks import describe

    return list(describe())


def build(run: ContractRun, planned: int | None = None) -> dict[str, Any]:
    """Everything the reports show, as plain JSON-ready data."""
    by_rule: dict[str, list[Outcome]] = defaultdict(list)
    for o in run.outcomes:
        by_rule[o.rule].append(o)
    rules = _rules_section(run, by_rule)
    records = drift_records(run.outcomes)
    return {
        "version": __version__,
        "target": run.config.target or "in-process",
        "kind": run.config.kind.value,
        "seed": run.config.seed,
        "banner": run.config.banner(),
        "requests_sent": run.session.sent,
        "budget": run.config.budget,
        "latency": run.session.latency(),
        "totals": {v: sum(1 for o in run.outcomes if o.verdict == v) for v in (CONFORM, DRIFT, NOT_CHECKED)},
        "coverage": _coverage(run, rules, planned if planned is not None else len(run.outcomes)),
        "rules": rules,
        "codes": _codes_section(run),
        "drift_groups": group_drifts(records),
        "drift_count": len(records),
        "notes": group_notes((o.case_id, n) for o in run.outcomes for n in o.notes),
        "outcomes": [
            {
                "case_id": o.case_id,
                "rule": o.rule,
                "group": o.group,
                "verdict": o.verdict,
                "seconds": round(o.seconds, 6),
                "reason": o.reason,
                "failure": str(o.error) if o.error is not None else "",
            }
            for o in run.outcomes
        ],
    }
