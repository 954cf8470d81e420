"""Report files from report data: drift-report.json, summary.md, report.html, junit.xml.

Each writer is a plain function of the data (``report.build`` or any dict of the same
shape), so other tools can write the same reports from their own drift and note records.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

REPORT_FILES = ("drift-report.json", "summary.md", "report.html", "junit.xml")


def text(value: Any) -> str:
    """A value as people read it: no Python reprs (None, [..], {..}, quotes)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(text(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {text(v)}" for k, v in value.items()) or "-"
    return str(value)


def _md(value: Any) -> str:
    return text(value).replace("|", "\\|").replace("\n", " ")


def _summary_lines(data: Mapping[str, Any]) -> list[str]:
    cov, totals, lat = data["coverage"], data["totals"], data.get("latency") or {}
    return [
        f"- target: {data['target']} ({data['kind']}); seed {data['seed']}; kit {data.get('version', '')}",
        f"- verdict: {verdict_line(data)}",
        f"- rules verified: {cov['rules_verified']} of {cov['rules_counted']} "
        f"({len(cov['rules_not_observable'])} more not observable from outside or mock options)",
        f"- cases run: {cov['cases_run']} of {cov['cases_planned']} planned; requests sent: {data['requests_sent']}"
        + (f" (budget {data['budget']})" if data.get("budget") else ""),
        f"- checks run: {text(cov['checks_run'])}"
        + (f"; left out: {text(cov['checks_left_out'])}" if cov["checks_left_out"] else ""),
        f"- cases: {totals.get('conform', 0)} conform, {totals.get('drift', 0)} drift, "
        f"{totals.get('not checked', 0)} not checked",
        f"- latency: p50 {lat.get('p50_ms', 0):.1f} ms, p99 {lat.get('p99_ms', 0):.1f} ms",
    ]


def verdict_line(data: Mapping[str, Any]) -> str:
    groups = data["drift_groups"]
    if groups:
        return f"DRIFT: {len(groups)} root causes in {data.get('drift_count', len(groups))} findings"
    if not data["coverage"]["complete"]:
        return "no drift found, but the run is INCOMPLETE (see coverage)"
    return "conforms: every observable rule verified, no drift"


def markdown(data: Mapping[str, Any]) -> str:
    cov = data["coverage"]
    lines = ["# Contract report", "", *_summary_lines(data), "", "## Coverage", ""]
    for title, items in (
        ("Not verified", cov["rules_not_verified"]),
        ("Partly verified", cov["rules_partly_verified"]),
        ("Not observable", cov["rules_not_observable"]),
    ):
        for rule, why in items.items():
            lines.append(f"- {title}: `{rule}`: {_md(why)}")
    if not any((cov["rules_not_verified"], cov["rules_partly_verified"], cov["rules_not_observable"])):
        lines.append("Every rule verified.")
    lines += [
        "",
        "## Rules",
        "",
        "| rule | verdict | cases | conform | drifted | not checked |",
        "|---|---|---|---|---|---|",
    ]
    for rule_id, r in data["rules"].items():
        lines.append(
            f"| `{rule_id}` | {r['verdict']} | {r['cases']} | {r['conform']} | {len(r['drifted'])} "
            f"| {r['not_checked']} |"
        )
    lines += ["", "## Codes", "", "| code | expected status | observed statuses | cases |", "|---|---|---|---|"]
    for code, c in data["codes"].items():
        lines.append(f"| {code} | {_md(c['expected_status'])} | {_md(c['observed_statuses'])} | {c['cases']} |")
    lines += ["", "## Drift (one entry per root cause)", ""]
    for g in data["drift_groups"]:
        status = f" [{g['status']}]" if g.get("status") else ""
        lines += [
            f"### `{g['rule']}`: {_md(g['check'])} expected {_md(g['expected'])}, "
            f"observed {_md(g['observed'])}{status}",
            "",
            f"- contract: {_md(g['sentence'])}",
            f"- {g['count']} finding(s), e.g. `{g['example_case']}`"
            + (f": {_md(g['detail'])}" if g.get("detail") else ""),
            "",
            "```sh",
            g["reproduction"],
            "```",
            "",
        ]
    if not data["drift_groups"]:
        lines.append("No drift found.")
    for g in data.get("gone", []):
        lines.append(f"- gone since the baseline: `{g['rule']}`: {_md(g['check'])} observed {_md(g['observed'])}")
    lines += ["", "## Notes (left open by the contract; never drift)", ""]
    for n in data["notes"]:
        lines.append(f"- {_md(n['note'])} ({n['count']}x, e.g. `{n['example_case']}`)")
    if not data["notes"]:
        lines.append("Nothing noted.")
    return "\n".join(lines) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.conform{background:#e3f6e3}.drift{background:#fbe0e0}.not-checked{background:#fff3cd}
.not-observable{background:#eee}pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap}
h2{margin-top:1.6em}.new{color:#b00;font-weight:bold}.unchanged{color:#666}
"""
VERDICTS = ("conform", "drift", "not checked", "not observable")


def _cls(verdict: str) -> str:
    return verdict.replace(" ", "-")


def render_html(data: Mapping[str, Any]) -> str:
    """One self-contained file: inline CSS, no scripts, no external assets."""
    e = html.escape
    cov = data["coverage"]
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Contract report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Contract report</h1><p><strong>{e(verdict_line(data))}</strong></p>",
        "<h2>Rule &times; verdict</h2><table id='matrix'><tr><th>rule</th>",
        *(f"<th>{v}</th>" for v in VERDICTS),
        "</tr>",
    ]
    for rule_id, r in data["rules"].items():
        checked_everywhere = "every answer" if r["verdict"] == "conform" and not r["cases"] else ""
        cells = {
            "conform": r["conform"] or checked_everywhere,
            "drift": len(r["drifted"]),
            "not checked": r["not_checked"],
            "not observable": "x" if r["verdict"] == "not observable" else "",
        }
        out.append(f"<tr class='{_cls(r['verdict'])}'><td title='{e(r['sentence'])}'>{e(rule_id)}</td>")
        out.extend(f"<td>{e(str(cells[v] or ''))}</td>" for v in VERDICTS)
        out.append("</tr>")
    out += ["</table>", "<h2>Coverage</h2><ul>"]
    out += [f"<li>{e(line[2:])}</li>" for line in _summary_lines(data)]
    for title, items in (
        ("not verified", cov["rules_not_verified"]),
        ("partly verified", cov["rules_partly_verified"]),
        ("not observable", cov["rules_not_observable"]),
    ):
        out += [f"<li>{title}: <code>{e(rule)}</code>: {e(text(why))}</li>" for rule, why in items.items()]
    out += ["</ul>", "<h2>Drift groups</h2>"]
    for g in data["drift_groups"]:
        status = g.get("status", "")
        out += [
            f"<section class='group'><h3><code>{e(g['rule'])}</code> {e(g['check'])}: expected "
            f"{e(text(g['expected']))}, observed {e(text(g['observed']))} <span class='{e(status)}'>{e(status)}</span>"
            "</h3>",
            f"<p>{e(g['sentence'])}</p><p>{g['count']} finding(s), e.g. <code>{e(g['example_case'])}</code> "
            f"{e(g.get('detail', ''))}</p>",
            f"<pre>{e(g['reproduction'])}</pre></section>",
        ]
    if not data["drift_groups"]:
        out.append("<p>None.</p>")
    out.append("<h2>Notes</h2><ul>")
    out += [f"<li>{e(n['note'])} ({n['count']}&times;)</li>" for n in data["notes"]]
    out.append("</ul></body></html>")
    return "\n".join(out) + "\n"


def junit(data: Mapping[str, Any]) -> str:
    """JUnit XML, one testcase per case with its real time."""
    outcomes = data["outcomes"]
    failures = sum(1 for o in outcomes if o["verdict"] == "drift")
    skipped = sum(1 for o in outcomes if o["verdict"] == "not checked")
    total = sum(o["seconds"] for o in outcomes)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<testsuites><testsuite name="engagelab-contract" tests="{len(outcomes)}" failures="{failures}" '
        f'errors="0" skipped="{skipped}" time="{total:.6f}">',
    ]
    for o in outcomes:
        head = f'<testcase classname={quoteattr(o["rule"])} name={quoteattr(o["case_id"])} time="{o["seconds"]:.6f}"'
        if o["verdict"] == "drift":
            first = o["failure"].splitlines()[0] if o["failure"] else "drift"
            lines.append(f"{head}><failure message={quoteattr(first)}>{html.escape(o['failure'])}</failure></testcase>")
        elif o["verdict"] == "not checked":
            lines.append(f"{head}><skipped message={quoteattr(o['reason'])}/></testcase>")
        else:
            lines.append(f"{head}/>")
    lines.append("</testsuite></testsuites>")
    return "\n".join(lines) + "\n"


def write_reports(data: Mapping[str, Any], directory: Path, redact: Callable[[str], str] = str) -> None:
    """All four report files; `redact` scrubs every byte written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "drift-report.json": json.dumps(data, indent=2, ensure_ascii=False, default=str),
        "summary.md": markdown(data),
        "report.html": render_html(data),
        "junit.xml": junit(data),
    }
    for name, content in files.items():
        (directory / name).write_text(redact(content), "utf-8")
