"""The proxy's report for people: summary.md and the same as one self-contained HTML page.

The suite's writers (``contract_tests.writers``) take the suite's report shape
(coverage of a planned run, outcomes per case); a proxy has neither, so it
writes its own sections: verdict per rule, root causes citing the contract,
client errors, notes, baseline.
"""

from __future__ import annotations

import html
from typing import Any

from engagelab_kit.contract_tests.writers import text


def _head(data: dict[str, Any]) -> list[str]:
    """The run and the verdict per rule of the contract, as seen in the traffic."""
    totals = data["totals"]
    lines = [
        "# Validation proxy report",
        "",
        f"- {data['banner']}",
        f"- exchanges judged: {data['requests_sent']}; " + ", ".join(f"{k}: {v}" for k, v in totals.items()),
        "",
        "| rule | code | verdict | exchanges |",
        "|---|---|---|---|",
    ]
    for rule, entry in data["rules"].items():
        lines.append(f"| {_cell(rule)} | {text(entry['code'])} | {entry['verdict']} | {entry['cases']} |")
    return lines


def markdown(data: dict[str, Any]) -> str:
    p = data["proxy"]
    lines = [
        *_head(data),
        "",
        "## Validation proxy",
        "",
        f"- exchanges: {p['exchanges']}; drift: {p['drift']}; client errors: {p['client_errors']}; "
        f"upstream failures: {p['upstream_failures']}; unjudged: {p['unjudged']}; notes: {p['notes']}",
        "",
        "### Drift by root cause",
        "",
        "| root cause | count | rules | contract | status |",
        "|---|---|---|---|---|",
    ]
    for g in data["groups"]:
        lines.append(f"| {_cell(g['key'])} | {g['count']} | {_cell(_rules(g))} | {_cell(_sentences(g))} "
                     f"| {g.get('status', '')} |")
    if not data["groups"]:
        lines.append("| none | 0 | | | |")
    lines += ["", "### Client errors (requests the spec rejects)", "", "| rule (code) | count | example |",
              "|---|---|---|"]
    for g in data["client_errors"]:
        lines.append(f"| {_cell(g['key'])} | {g['count']} | {_cell(_example(g))} |")
    lines += ["", "### Notes (allowed by the contract, recorded)", "", "| note | count |", "|---|---|"]
    for g in data["notes"]:
        lines.append(f"| {_cell(g['key'])} | {g['count']} |")
    if data["baseline"]:
        b = data["baseline"]
        lines += ["", f"### Baseline ({b['file']})", "", f"- new: {len(b['new'])}; known: {len(b['known'])}; "
                  f"in the baseline, not seen now: {len(b['not_seen'])}"]
        lines += [f"- new: {_cell(k)}" for k in b["new"]]
    return "\n".join(lines) + "\n"


def _example(group: dict[str, Any]) -> str:
    first = group["examples"][0]
    return f"{first['case_id']}: {first['detail']}" if first.get("detail") else str(first["case_id"])


def _sentences(group: dict[str, Any]) -> str:
    """The contract's sentences the group's drifts break (each drift record cites its rule's)."""
    cited = {f"{d['rule']}: {d['sentence']}" for d in group["examples"][0]["drifts"] if d.get("sentence")}
    return " / ".join(sorted(cited))


def _rules(group: dict[str, Any]) -> str:
    return ", ".join(f"{r} ({n})" for r, n in group["rules"].items())


def _cell(value: object) -> str:
    return text(value).replace("|", "\\|").replace("\n", " ")


def html_report(data: dict[str, Any]) -> str:
    e = html.escape
    p = data["proxy"]

    def table(head: list[str], rows: list[list[Any]]) -> str:
        cells = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><tr>{cells}</tr>{body}</table>"

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Validation proxy report</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
        "padding:2px 6px;text-align:left;vertical-align:top}pre{white-space:pre-wrap}</style></head><body>",
        "<h1>Validation proxy: POST /v1/user/contact</h1>",
        f"<p>{e(data['banner'])}</p>",
        table(["exchanges", "drift", "client errors", "upstream failures", "unjudged", "notes"],
              [[p["exchanges"], p["drift"], p["client_errors"], p["upstream_failures"], p["unjudged"], p["notes"]]]),
        "<h2>Drift by root cause</h2>",
        table(["root cause", "count", "rules", "contract", "status", "example"],
              [[g["key"], g["count"], _rules(g), _sentences(g), g.get("status", ""), g["examples"][0]["curl"]]
               for g in data["groups"]]),
        "<h2>Client errors</h2>",
        table(["rule (code)", "count", "example"],
              [[g["key"], g["count"], _example(g)] for g in data["client_errors"]]),
        "<h2>Notes</h2>",
        table(["note", "count"], [[g["key"], g["count"]] for g in data["notes"]]),
        "<h2>Rules</h2>",
        table(["rule", "code", "verdict", "expected status", "exchanges", "drifted"],
              [[k, text(r["code"]), r["verdict"], text(r["expected_status"]), r["cases"], ", ".join(r["drifted"])]
               for k, r in data["rules"].items()]),
        "<h2>Codes</h2>",
        table(["code", "verdict", "expected status", "observed statuses", "exchanges"],
              [[k, c["verdict"], c["expected_status"], c["observed_statuses"], c["cases"]]
               for k, c in data["codes"].items()]),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
