"""The proxy's findings, accumulated over a day of traffic, in the contract suite's report formats.

drift-report.json keeps the suite's keys (rules, codes, drifts, totals, latency)
and adds the proxy's own: live counts, drift grouped by root cause, client
errors by rule, notes, and a comparison with a baseline report. summary.md is
the suite's Markdown with the proxy's sections after it; report.html is the same
for a browser. Counts are never capped; examples are (a few per group), so a
long-running proxy holds bounded memory.

The grouping is the proxy's own, not the suite's ``report.group_drifts``: a day of
traffic needs bounded memory (groups are counted as they come), and its key leaves
out the rule and the observed body, since one deviation (an extra field) shows
under many rules and with every body. A suite report still serves as --baseline.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engagelab_kit import spec
from engagelab_kit.contract_tests import checks
from engagelab_kit.contract_tests.report import NOT_OBSERVABLE
from engagelab_kit.contract_tests.runner import CONFORM, DRIFT, NOT_CHECKED
from engagelab_kit.contract_tests.traceability import contract_rules
from engagelab_kit.mock_server.proxy_judge import Judgement
from engagelab_kit.mock_server.proxy_render import html_report, markdown

EXAMPLES = 5  # kept per root cause, client-error rule and note
LATENCY_SAMPLE = 10000
UNPARSEABLE = "http.unparseable"
_SPEC = spec.load()
# Rules of the error table, with the HTTP status the spec gives each.
_ERROR_RULES = {r.id: r.http_status or _SPEC.codes[r.code].http_status for r in _SPEC.rules}


def root_cause(drifts: list[dict[str, Any]]) -> str:
    """One key per way of drifting: the checks and what they expected, plus observed codes and statuses.
    Bodies and messages vary per request, so they stay out of it; the rule does too, since one
    deviation (an extra field, a status) shows under many rules."""
    parts = []
    for d in sorted(drifts, key=lambda d: str(d.get("check"))):
        part = f"{d.get('check')}: expected {d.get('expected')!r}"
        if isinstance(d.get("observed"), int):
            part += f", observed {d['observed']!r}"
        parts.append(part)
    return "; ".join(parts)


def baseline_keys(path: Path) -> set[str]:
    """Root causes of a previous report: the proxy's own, or the contract suite's drift-report.json."""
    data = json.loads(path.read_text("utf-8"))
    if isinstance(data.get("groups"), list):
        return {str(g["key"]) for g in data["groups"]}
    # The suite's report: one group per rule, check and behaviour; the proxy's key drops the rule.
    return {root_cause([g]) for g in data.get("drift_groups", [])}


@dataclass
class _Group:
    key: str
    count: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Ledger:
    upstream: str
    baseline: set[str] | None = None
    baseline_file: str = ""
    exchanges: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    groups: dict[str, _Group] = field(default_factory=dict)
    client: dict[str, _Group] = field(default_factory=dict)
    notes: dict[str, _Group] = field(default_factory=dict)
    by_rule: dict[str, Counter[str]] = field(default_factory=dict)
    drifted_lines: dict[str, list[str]] = field(default_factory=dict)
    cited: Counter[str] = field(default_factory=Counter)
    by_code: Counter[int] = field(default_factory=Counter)
    statuses: dict[int, set[int]] = field(default_factory=dict)
    unjudged: dict[str, _Group] = field(default_factory=dict)
    times: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLE))

    def add(self, j: Judgement, elapsed: float | None = None, failed: bool = False) -> str:
        """Count one judged exchange; returns the root-cause key when it opens a new drift group."""
        self.exchanges += 1
        if failed:
            self.counts["upstream_failures"] += 1
        if elapsed is not None and j.observed_status is not None:
            self.times.append(elapsed)
        if not j.rule:
            _keep(self.unjudged, j.reason, j)
            self.counts["unjudged"] += 1
            return ""
        self.counts[j.verdict] += 1
        self.by_rule.setdefault(j.rule, Counter())[j.verdict] += 1
        if j.expected_code is not None:
            self.by_code[j.expected_code] += 1
        if j.observed_code is not None and j.observed_status is not None:
            self.statuses.setdefault(j.observed_code, set()).add(j.observed_status)
        if j.client_error:
            self.counts["client_errors"] += 1
            _keep(self.client, f"{j.rule} ({j.expected_code if j.expected_code is not None else 'non-zero'})", j)
        for note in j.notes:
            _keep(self.notes, note, j)
        if j.verdict != DRIFT:
            return ""
        # The request's rule, and the rules the drifts cite (a shape or status rule of the contract).
        for rule in {j.rule, *(str(d.get("rule") or j.rule) for d in j.drifts)}:
            self.cited[rule] += 1
            lines = self.drifted_lines.setdefault(rule, [])
            if len(lines) < EXAMPLES:
                lines.append(j.request_line)
        key = root_cause(j.drifts)
        new = key not in self.groups
        _keep(self.groups, key, j)
        return key if new else ""

    def unjudgeable(self, error: str, failed: bool) -> None:
        """The judge itself failed on an exchange (a bug of ours): counted and named, never lost."""
        self.exchanges += 1
        self.counts["judge_errors"] += 1
        if failed:
            self.counts["upstream_failures"] += 1
        _keep(self.unjudged, f"the proxy could not judge it ({error}); please report this",
              Judgement("(not judged)", "", None, None, NOT_CHECKED, reason=f"judge error: {error}"))

    def aborted(self) -> None:
        """The client went away mid-request: counted, not judged."""
        self.exchanges += 1
        self.counts["client_aborted"] += 1

    def unparseable(self, detail: str) -> None:
        """A request that is not HTTP/1.1 the proxy can read: answered by the proxy, never forwarded."""
        self.exchanges += 1
        self.counts["client_errors"] += 1
        self.counts["unparseable"] += 1
        j = Judgement(f"(unparseable: {detail[:120]})", UNPARSEABLE, None, 400, NOT_CHECKED,
                      reason="not forwarded: the proxy could not parse it")
        _keep(self.client, f"{UNPARSEABLE} (answered by the proxy, HTTP 400)", j)

    def summary(self) -> dict[str, Any]:
        new = self.new_groups()
        return {
            "exchanges": self.exchanges,
            "drift": self.counts[DRIFT],
            "client_errors": self.counts["client_errors"],
            "conform": self.counts[CONFORM],
            "not_checked": self.counts[NOT_CHECKED],
            "unjudged": self.counts["unjudged"],
            "upstream_failures": self.counts["upstream_failures"],
            "unparseable": self.counts["unparseable"],
            "client_aborted": self.counts["client_aborted"],
            "judge_errors": self.counts["judge_errors"],
            "notes": sum(g.count for g in self.notes.values()),
            "root_causes": len(self.groups),
            "new_root_causes": len(new) if self.baseline is not None else len(self.groups),
        }

    def new_groups(self) -> list[str]:
        return [k for k in self.groups if self.baseline is None or k not in self.baseline]

    def latency(self) -> dict[str, float]:
        times = sorted(self.times)
        if not times:
            return {}
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        return {"count": len(times), "p50_ms": statistics.median(times) * 1000, "p99_ms": p99 * 1000,
                "max_ms": times[-1] * 1000}

    def build(self) -> dict[str, Any]:
        summary = self.summary()
        drifts = [e for g in self.groups.values() for e in g.examples]
        return {
            "target": self.upstream,
            "kind": "proxy",
            "seed": "n/a (observed traffic)",
            "banner": f"validation proxy in front of {self.upstream}: judged the traffic that passed, "
            "sent no request of its own",
            "requests_sent": self.exchanges,
            "latency": self.latency(),
            "totals": {CONFORM: self.counts[CONFORM], DRIFT: self.counts[DRIFT], NOT_CHECKED: self.counts[NOT_CHECKED]},
            "undocumented_codes_observed": sorted(c for c in self.statuses if c not in _SPEC.documented_codes),
            "rules": self._rules(),
            "codes": self._codes(),
            "drifts": drifts,
            "not_checked": [{"case": e["case_id"], "reason": e["reason"]}
                            for g in self.unjudged.values() for e in g.examples],
            "proxy": summary,
            "groups": [_group_json(g, self.baseline) for g in self.groups.values()],
            "client_errors": [_group_json(g, None) for g in self.client.values()],
            "notes": [_group_json(g, None) for g in self.notes.values()],
            "baseline": self._baseline(),
        }

    def _rules(self) -> dict[str, Any]:
        """Verdict per rule of the contract (the suite's traceability table): drift when an exchange of
        the rule drifted or a drift cites it; conform when one conformed, or a response check citing it
        ran over judged answers; rules nobody can see from outside are marked so."""
        judged = self.counts[CONFORM] + self.counts[DRIFT] > 0
        by_check = {rule for name, rule in checks.CITES.items() if rule and name in checks.REGISTRY}
        out = {}
        for rule in contract_rules():
            seen = self.by_rule.get(rule.id, Counter())
            ran = bool(seen[CONFORM]) or (rule.id in by_check and judged)
            verdict = DRIFT if self.cited[rule.id] else CONFORM if ran else NOT_CHECKED
            if not rule.observable:
                verdict = NOT_OBSERVABLE
            code = _SPEC.rule(rule.id).code if rule.id in _ERROR_RULES else None
            out[rule.id] = {
                "verdict": verdict,
                "sentence": rule.sentence,
                "code": code,
                "expected_status": _ERROR_RULES.get(rule.id),
                "cases": sum(seen.values()),
                "drifted": self.drifted_lines.get(rule.id, []),
                "not_checked": [rule.why_not] if verdict == NOT_OBSERVABLE else
                [] if verdict != NOT_CHECKED else ["not seen in the traffic"],
            }
        return out

    def _codes(self) -> dict[str, Any]:
        out = {}
        for code, entry in _SPEC.codes.items():
            observed = self.statuses.get(code, set())
            if not entry.emitted:
                verdict = DRIFT if observed else CONFORM
            else:
                rules = [r.id for r in _SPEC.rules if r.code == code]
                seen = Counter[str]()
                for r in rules:
                    seen.update(self.by_rule.get(r, Counter()))
                verdict = DRIFT if seen[DRIFT] else CONFORM if seen[CONFORM] else NOT_CHECKED
            out[str(code)] = {
                "verdict": verdict,
                "description": entry.description,
                "expected_status": entry.http_status,
                "observed_statuses": sorted(observed),
                "cases": self.by_code.get(code, 0),
                "note": "" if entry.emitted else "never emitted: any occurrence is drift",
            }
        return out

    def _baseline(self) -> dict[str, Any]:
        if self.baseline is None:
            return {}
        return {
            "file": self.baseline_file,
            "new": self.new_groups(),
            "known": [k for k in self.groups if k in self.baseline],
            "not_seen": sorted(self.baseline - set(self.groups)),
        }

    def write(self, directory: Path) -> list[Path]:
        """drift-report.json, summary.md and report.html, each replaced whole (never half-written)."""
        directory.mkdir(parents=True, exist_ok=True)
        data = self.build()
        files = {
            "drift-report.json": json.dumps(data, indent=2, default=repr),
            "summary.md": markdown(data),
            "report.html": html_report(data),
        }
        written = []
        for name, text in files.items():
            path = directory / name
            scratch = directory / f".{name}.tmp"
            scratch.write_text(text, "utf-8")
            os.replace(scratch, path)
            written.append(path)
        return written


def _keep(groups: dict[str, _Group], key: str, j: Judgement) -> None:
    group = groups.setdefault(key, _Group(key))
    group.count += 1
    group.rules[j.rule or "-"] += 1
    if len(group.examples) < EXAMPLES:
        group.examples.append(j.to_json())


def _group_json(g: _Group, baseline: set[str] | None) -> dict[str, Any]:
    out = {"key": g.key, "count": g.count, "rules": dict(g.rules.most_common()), "examples": g.examples}
    if baseline is not None:
        out["status"] = "known" if g.key in baseline else "new"
    return out
