"""Drift reports: JSON for machines, Markdown for people (JUnit comes from pytest)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from engagelab_kit.contract_tests.api import ContractRun
from engagelab_kit.contract_tests.runner import CONFORM, DRIFT, NOT_CHECKED, Outcome

_NEVER_CHECKED = {
    "euid.unknown": "strict-euid mode is a mock option; not part of the default contract",
}


def _verdict(outcomes: list[Outcome]) -> str:
    verdicts = {o.verdict for o in outcomes}
    return DRIFT if DRIFT in verdicts else CONFORM if CONFORM in verdicts else NOT_CHECKED


def _reasons(outcomes: list[Outcome]) -> list[str]:
    return sorted({o.reason for o in outcomes if o.reason})


def build(run: ContractRun) -> dict[str, Any]:
    s = run.factory.oracle.spec
    by_rule: dict[str, list[Outcome]] = defaultdict(list)
    by_code: dict[int, list[Outcome]] = defaultdict(list)
    observed_codes: dict[int, set[int]] = defaultdict(set)
    for o in run.outcomes:
        by_rule[o.rule].append(o)
        if o.expected_code is not None:
            by_code[o.expected_code].append(o)
        if o.observed_code is not None and o.observed_status is not None:
            observed_codes[o.observed_code].add(o.observed_status)
    rules = {}
    for rule in s.rules:
        outs = by_rule.get(rule.id, [])
        rules[rule.id] = {
            "verdict": _verdict(outs),
            "code": rule.code,
            "expected_status": run.factory.oracle.status(rule.id, rule.code),
            "cases": len(outs),
            "drifted": [o.case_id for o in outs if o.verdict == DRIFT],
            "not_checked": _reasons(outs) or ([_NEVER_CHECKED[rule.id]] if rule.id in _NEVER_CHECKED else []),
        }
    codes = {}
    for code, entry in s.codes.items():
        outs = by_code.get(code, [])
        verdict = _verdict(outs)
        if not entry.emitted:
            verdict = DRIFT if code in observed_codes else CONFORM  # must never be emitted
        codes[str(code)] = {
            "verdict": verdict,
            "description": entry.description,
            "expected_status": run.factory.oracle.status(None, code),
            "observed_statuses": sorted(observed_codes.get(code, set())),
            "cases": len(outs),
            "note": "" if outs or not entry.emitted else "never emitted: any occurrence is drift",
        }
    if not by_code.get(-1):
        codes["-1"]["note"] = "fault injection only: checked as 'no 5xx anywhere'"
        codes["-1"]["verdict"] = (
            DRIFT if any(st >= 500 for sts in observed_codes.values() for st in sts) else NOT_CHECKED
        )
    undocumented = sorted(c for c in observed_codes if c not in s.documented_codes)
    return {
        "target": run.config.target or "in-process",
        "kind": run.config.kind.value,
        "seed": run.config.seed,
        "banner": run.config.banner(),
        "requests_sent": run.session.sent,
        "latency": run.session.latency(),
        "totals": {v: sum(1 for o in run.outcomes if o.verdict == v) for v in (CONFORM, DRIFT, NOT_CHECKED)},
        "undocumented_codes_observed": undocumented,
        "rules": rules,
        "codes": codes,
        "drifts": [o.to_json() for o in run.outcomes if o.verdict == DRIFT],
        "not_checked": [{"case": o.case_id, "reason": o.reason} for o in run.outcomes if o.verdict == NOT_CHECKED],
    }


def markdown(data: dict[str, Any]) -> str:
    lat = data["latency"]
    lines = [
        "# Contract report: POST /v1/user/contact",
        "",
        f"- {data['banner']}",
        f"- requests sent: {data['requests_sent']}; latency p50 {lat.get('p50_ms', 0):.1f} ms, "
        f"p99 {lat.get('p99_ms', 0):.1f} ms, max {lat.get('max_ms', 0):.1f} ms",
        f"- cases: {data['totals']}; reproduce generated failures with `--seed {data['seed']}`",
        "",
        "## Codes",
        "",
        "| code | verdict | expected status | observed statuses | cases | note |",
        "|---|---|---|---|---|---|",
    ]
    for code, c in data["codes"].items():
        lines.append(
            f"| {code} | {c['verdict']} | {c['expected_status']} | {c['observed_statuses']} "
            f"| {c['cases']} | {c['note']} |"
        )
    lines += [
        "",
        "## Rules",
        "",
        "| rule | code | verdict | expected status | cases | drifted / not checked |",
        "|---|---|---|---|---|---|",
    ]
    for rule_id, r in data["rules"].items():
        extra = ", ".join(r["drifted"][:5]) or "; ".join(r["not_checked"])
        lines.append(f"| {rule_id} | {r['code']} | {r['verdict']} | {r['expected_status']} | {r['cases']} | {extra} |")
    if data["undocumented_codes_observed"]:
        lines += ["", f"**Undocumented codes observed:** {data['undocumented_codes_observed']}"]
    lines += ["", "## Drift", ""]
    for d in data["drifts"]:
        lines.append(f"### {d['case_id']} (rule {d['rule']})")
        for item in d["drifts"]:
            lines.append(
                f"- {item['kind']} / {item['check']}: expected `{item['expected']}`, observed `{item['observed']}`"
            )
        lines += ["", "```sh", d["curl"], "```", ""]
    if not data["drifts"]:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write(run: ContractRun, directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    data = build(run)
    redact = run.session.redactor.text
    (directory / "drift-report.json").write_text(redact(json.dumps(data, indent=2, default=repr)), "utf-8")
    (directory / "summary.md").write_text(redact(markdown(data)), "utf-8")
    return data
