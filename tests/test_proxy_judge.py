"""Judging one exchange, and the reports the judgements add up to (no network)."""

from __future__ import annotations

import json
from pathlib import Path

from proxy_harness import AUTH, SECRET

from engagelab_kit.contract_tests.report import group_drifts
from engagelab_kit.contract_tests.runner import sentence
from engagelab_kit.mock_server.proxy_judge import Exchange, Judge, Judgement
from engagelab_kit.mock_server.proxy_report import Ledger, baseline_keys, root_cause

JSON = [("Content-Type", "application/json")]
BAD_EUID = json.dumps({"euid": "x", "contacts": {"email": "a"}}).encode()


def _exchange(status: int, answer: object, target: str = "/v1/user/contact", body: bytes = BAD_EUID,
              headers: list[tuple[str, str]] | None = None, content_type: str = "application/json") -> Exchange:
    raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    sent = [("Authorization", AUTH), *JSON] if headers is None else headers
    return Exchange("POST", target, sent, body, len(body), status, [("Content-Type", content_type)], raw, 0.01)


def _judge(ex: Exchange) -> Judgement:
    return Judge("http://upstream.test").judge(ex)


def test_the_spec_answer_conforms_and_counts_as_a_client_error() -> None:
    j = _judge(_exchange(400, {"code": 55108, "message": "Invalid EUID."}))
    assert (j.verdict, j.rule, j.drifts, j.client_error) == ("conform", "euid.invalid", [], True)


def test_a_wrong_code_is_drift_on_the_requests_rule() -> None:
    j = _judge(_exchange(400, {"code": 55004, "message": "Business parameters are invalid."}))
    assert j.verdict == "drift" and j.rule == "euid.invalid"
    assert {(d["kind"], d["check"], d["expected"], d["observed"]) for d in j.drifts} == {
        ("code", "expected_code", 55108, 55004)}


def test_an_account_answer_is_allowed_and_noted() -> None:
    j = _judge(_exchange(401, {"code": 50034, "message": "Project ID does not exist."}))
    assert (j.verdict, j.rule, j.basis) == ("conform", "auth.key_unknown", "upstream")
    assert any("upstream's accounts" in n for n in j.notes)


def test_an_account_code_with_the_wrong_status_is_drift_on_that_rule() -> None:
    j = _judge(_exchange(403, {"code": 40050, "message": "Interface authentication failed."}))
    assert j.verdict == "drift" and j.rule == "auth.secret"
    assert [d["check"] for d in j.drifts] == ["status_code"]


def test_which_code_a_404_carries_is_a_note_never_drift() -> None:
    for code in (40400, 1):
        j = _judge(_exchange(404, {"code": code, "message": "Not found"}, target="/nope"))
        assert j.verdict == "conform", j.drifts
        assert any("only for a non-zero code" in n for n in j.notes)


def test_55104_is_drift_even_on_a_404() -> None:
    # The behaviour contract: 55104 "must never be emitted, and a target that returns it is drift".
    j = _judge(_exchange(404, {"code": 55104, "message": "Not found"}, target="/nope"))
    assert j.verdict == "drift" and [d["check"] for d in j.drifts] == ["documented_code"]


def test_html_error_page_and_extra_field_are_shape_drift() -> None:
    html = _judge(_exchange(404, b"<html>Not Found</html>", target="/nope", content_type="text/html"))
    assert {d["check"] for d in html.drifts} >= {"json_content_type", "response_shape"}
    extra = _judge(_exchange(400, {"code": 55108, "message": "Invalid EUID.", "request_id": "x"}))
    assert [d["check"] for d in extra.drifts] == ["response_shape"]


def test_undocumented_code_on_the_endpoint_is_drift() -> None:
    j = _judge(_exchange(400, {"code": 55104, "message": "x"}))
    assert "documented_code" in {d["check"] for d in j.drifts}


def test_an_echoed_secret_never_reaches_the_judgement() -> None:
    j = _judge(_exchange(400, {"code": 55108, "message": f"Invalid EUID. {SECRET}", "auth": AUTH}))
    text = json.dumps(j.to_json())
    assert SECRET not in text and AUTH.split()[1] not in text
    assert "$ENGAGELAB_API_SECRET" in j.curl


def test_an_authorization_it_cannot_rebuild_is_masked_whole() -> None:
    j = _judge(_exchange(401, {"code": 40050, "message": "Interface authentication failed."},
                         headers=[("Authorization", "Bearer top-secret-token"), *JSON]))
    assert j.rule == "auth.header" and j.verdict == "conform"
    assert "top-secret-token" not in json.dumps(j.to_json())


def test_upstream_failures_unreachable_is_not_drift_broken_answer_is() -> None:
    ex = _exchange(400, b"")
    ex.failure, ex.reached, ex.status = "ConnectionRefusedError", False, None
    assert _judge(ex).verdict == "not checked"
    ex.reached = True
    cut = _judge(ex)
    assert cut.verdict == "drift" and cut.drifts[0]["expected"] == "an HTTP response"


def test_grouping_by_root_cause_across_rules_and_baseline(tmp_path: Path) -> None:
    ledger = Ledger("http://upstream.test")
    extra = {"code": 55108, "message": "Invalid EUID.", "request_id": "x"}
    for target in ("/v1/user/contact", "/v1/user/contact?x=1"):
        ledger.add(_judge(_exchange(400, extra, target=target)))
    ledger.add(_judge(_exchange(404, {"code": 55004, "message": "Business parameters are invalid.", "id": 1},
                                target="/nope")))
    ledger.add(_judge(_exchange(400, {"code": 55004, "message": "Business parameters are invalid."})))
    summary = ledger.summary()
    assert (summary["exchanges"], summary["drift"], summary["client_errors"]) == (4, 4, 4)
    assert summary["root_causes"] == 2  # one extra field under two rules; one wrong code
    written = ledger.write(tmp_path / "first")
    assert sorted(p.name for p in written) == ["drift-report.json", "report.html", "summary.md"]
    data = json.loads((tmp_path / "first" / "drift-report.json").read_text())
    assert data["rules"]["euid.invalid"]["verdict"] == "drift" and data["proxy"]["drift"] == 4
    # Rules of the whole contract, as the suite names them: an extra field breaks the response shape.
    assert data["rules"]["response.shape"]["verdict"] == "drift"
    assert data["rules"]["route.no_cors"]["verdict"] == "conform"
    assert data["rules"]["auth.constant_time"]["verdict"] == "not observable"
    summary_md = (tmp_path / "first" / "summary.md").read_text()
    assert "Drift by root cause" in summary_md and "None" not in summary_md
    # Each root cause cites the contract's sentence its drifts break.
    assert sentence("euid.invalid") and f"euid.invalid: {sentence('euid.invalid')}" in summary_md

    known = baseline_keys(tmp_path / "first" / "drift-report.json")
    later = Ledger("http://upstream.test", known, "first")
    later.add(_judge(_exchange(400, extra)))
    too_long = "The value of the user identifier cannot exceed 256 characters."
    later.add(_judge(_exchange(400, {"code": 55105, "message": too_long})))
    report = later.build()
    assert len(report["baseline"]["known"]) == 1 and len(report["baseline"]["new"]) == 1
    wrong_code = root_cause([{"check": "expected_code", "expected": 55108, "observed": 55004}])
    assert report["baseline"]["not_seen"] == [wrong_code]
    assert later.summary()["new_root_causes"] == 1


def test_html_report_escapes_what_it_shows(tmp_path: Path) -> None:
    ledger = Ledger("http://upstream.test")
    ledger.add(_judge(_exchange(400, {"code": 55004, "message": "<script>alert(1)</script>"})))
    ledger.write(tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "<script>" not in page


def test_a_contract_suite_report_serves_as_baseline(tmp_path: Path) -> None:
    wrong_code = _exchange(400, {"code": 55004, "message": "Business parameters are invalid."})
    records = [{**d, "case_id": "euid-invalid", "curl": ""} for d in _judge(wrong_code).drifts]
    suite_report = tmp_path / "drift-report.json"
    suite_report.write_text(json.dumps({"drift_groups": group_drifts(records), "drifts": []}))
    later = Ledger("http://upstream.test", baseline_keys(suite_report), str(suite_report))
    later.add(_judge(wrong_code))
    later.add(_judge(_exchange(400, {"code": 55108, "message": "Invalid EUID.", "request_id": "x"})))
    baseline = later.build()["baseline"]
    assert (len(baseline["known"]), len(baseline["new"]), baseline["not_seen"]) == (1, 1, [])


def test_a_folded_authorization_answer_is_allowed_and_noted() -> None:
    body = json.dumps({"euid": 5, "contacts": {"email": "a"}}).encode()
    sent = [("Authorization", AUTH), ("Authorization", AUTH), *JSON]
    j = _judge(_exchange(401, {"code": 40050, "message": "Interface authentication failed."}, body=body,
                         headers=sent))
    assert (j.verdict, j.rule, j.basis, j.drifts) == ("conform", "auth.header", "request", [])
    assert any("several Authorization headers" in n for n in j.notes)
