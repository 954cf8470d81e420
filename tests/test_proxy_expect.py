"""The proxy's reading of a request it did not write: every case of the contract suite's table agrees."""

from __future__ import annotations

import json

import pytest

from engagelab_kit.contract_tests import RunConfig
from engagelab_kit.contract_tests.case import Case
from engagelab_kit.contract_tests.http import header_text
from engagelab_kit.contract_tests.runner import build_cases
from engagelab_kit.mock_server.proxy_expect import FROM_REQUEST, FROM_UPSTREAM, expect

HEADERS = [("Authorization", "Basic N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ=="),
           ("Content-Type", "application/json")]


def _cases() -> list[Case]:
    config = RunConfig(target="http://127.0.0.1:9", seed=1).with_defaults(
        {"ENGAGELAB_DELETED_PROJECT_CREDENTIALS": "dead0000000000000000beef:x",
         "ENGAGELAB_DELETED_DATASOURCE_CREDENTIALS": "da7a0000000000000000dead:y"})
    return build_cases(config)


CASES = _cases()


# auth.status_hidden: a wrong secret for a key of each project status; only the upstream knows it is wrong.
ACCOUNT_RULES = ("auth.key_unknown", "auth.secret", "auth.project_deleted", "auth.datasource_deleted",
                 "auth.status_hidden")


def _allowed(case: Case) -> list[tuple[int | None, str]]:
    req = case.request
    target = req.path + (f"?{req.query}" if req.query else "")
    headers = [(k, header_text(v)) for k, v in req.headers]
    verdict = expect(req.method, target, headers, req.body, len(req.body))
    assert verdict.allowed, verdict.unjudged
    return [(a.code, a.basis) for a in verdict.allowed]


def test_the_table_is_large() -> None:
    assert len(CASES) > 500


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_table_case_gets_the_answer_the_suite_expects(case: Case) -> None:
    allowed = _allowed(case)
    if "%" in case.request.path:  # either answer is the contract's
        assert case.code in {code for code, _ in allowed}
    elif case.rule in ACCOUNT_RULES and case.code != 0:  # only the upstream's accounts decide
        assert (case.code, FROM_UPSTREAM) in allowed
    else:
        assert allowed[0] == (case.code, FROM_REQUEST)


def _one(method: str = "POST", target: str = "/v1/user/contact", body: object = None,
         headers: list[tuple[str, str]] | None = None, raw: bytes | None = None,
         size: int | None = None) -> list[tuple[str, int | None, str]]:
    data = raw if raw is not None else json.dumps(body).encode()
    verdict = expect(method, target, HEADERS if headers is None else headers, data, len(data) if size is None else size)
    return [(a.rule, a.code, a.basis) for a in verdict.allowed]


def test_a_request_the_request_alone_decides_has_one_answer() -> None:
    assert _one(headers=[]) == [("auth.header", 40050, FROM_REQUEST)]
    assert _one(method="GET") == [("route.method", None, FROM_REQUEST)]
    assert _one(target="/v1/user/contact/") == [("route.path", None, FROM_REQUEST)]


def test_account_state_is_left_to_the_upstream() -> None:
    answers = _one(body={"euid": "1", "contacts": {"email": "a"}})
    assert answers[0] == ("euid.invalid", 55108, FROM_REQUEST)
    assert {r for r, _, b in answers[1:] if b == FROM_UPSTREAM} == {
        "auth.key_unknown", "auth.secret", "auth.project_deleted", "auth.datasource_deleted"}


def test_strict_euid_mode_is_allowed_only_for_a_success() -> None:
    answers = _one(body={"euid": 5, "contacts": {"email": "a"}})
    assert answers[0] == ("success", 0, FROM_REQUEST)
    assert ("euid.unknown", 55108, FROM_UPSTREAM) in answers


def test_percent_encoded_path_allows_404_or_the_endpoint() -> None:
    answers = _one(target="/v1/user/%63ontact", body={"euid": 5, "contacts": {"email": "a"}})
    assert answers[0][:2] == ("success", 0) and answers[-1][:2] == ("route.path", None)


def test_size_rule_uses_the_full_length_after_authentication() -> None:
    big = 5 * 1024 * 1024
    assert _one(raw=b"{", size=big)[0][:2] == ("body.size", 55004)
    assert _one(raw=b"{", size=big, headers=[]) == [("auth.header", 40050, FROM_REQUEST)]


def test_the_control_api_and_register_are_not_judged() -> None:
    assert expect("GET", "/__mock/health", [], b"", 0).unjudged
    assert expect("POST", "/v1/user/register", HEADERS, b"{}", 2).unjudged


@pytest.mark.parametrize(("raw", "rule"), [
    (b'{"euid": 1' + b"0" * 5000 + b', "contacts": {"email": "a"}}', "euid.invalid"),
    (b"[" * 40 + b"]" * 40, "body.json"),
    (b'{"euid": 1, "contacts": {"email": "\\ud800"}}', "body.json"),
    (b'{"euid": NaN, "contacts": {}}', "body.json"),
    (b"\xef\xbb\xbf{}", "body.utf8"),
    (b'{"euid": 1, "contacts": {"email": "\x1c"}}', "body.json"),
    (b'{"euid": 1, "contacts": {"email": " \\u001c "}}', "success"),
    (b'{"euid": 1, "contacts": {"email": "\\u3000\\u00a0"}}', "entry.value_blank"),
])
def test_rfc8259_and_white_space_rules(raw: bytes, rule: str) -> None:
    assert _one(raw=raw)[0][0] == rule


def test_several_authorization_headers_allow_the_first_or_the_folded_value() -> None:
    answers = _one(headers=[HEADERS[0], HEADERS[0], HEADERS[1]], body={"euid": 5, "contacts": {"email": "a"}})
    assert answers[0] == ("success", 0, FROM_REQUEST)
    assert ("auth.header", 40050, FROM_REQUEST) in answers
