"""The one-function oracle agrees with every case table: two independent routes to each expectation."""

from __future__ import annotations

from engagelab_kit.contract_tests import RunConfig
from engagelab_kit.contract_tests.expect import Accounts, expected
from engagelab_kit.contract_tests.runner import build_cases


def test_expected_agrees_with_every_case() -> None:
    config = RunConfig().with_defaults({})
    assert config.credentials and config.deleted_project and config.deleted_datasource
    accounts = Accounts(
        {config.credentials.key: config.credentials.secret},
        {config.deleted_project.key: config.deleted_project.secret},
        {config.deleted_datasource.key: config.deleted_datasource.secret},
    )
    disagree = []
    cases = build_cases(config)
    for case in cases:
        got = expected(case.request, config.oracle, accounts)
        if (got.code, got.status) != (case.code, case.status) or set(got.also) != set(case.also):
            disagree.append((case.id, (case.code, case.status), (got.rule, got.code, got.status)))
    assert disagree == []
    assert len(cases) > 700


def test_judge_one_exchange() -> None:
    from engagelab_kit.contract_tests.expect import judge
    from engagelab_kit.contract_tests.http import HttpResponse, WsgiTransport
    from engagelab_kit.mock_server import create_app

    config = RunConfig().with_defaults({})
    assert config.credentials
    accounts = Accounts({config.credentials.key: config.credentials.secret})
    case = next(c for c in build_cases(config) if c.id == "euid-1.0")
    answer = WsgiTransport(create_app()).send(case.request, 5)
    assert judge(case.request, answer, config.oracle, accounts) == ([], [])
    wrong = HttpResponse(200, {"content-type": "application/json"}, b'{"code":0,"message":"success"}', 0.01)
    drifts, _ = judge(case.request, wrong, config.oracle, accounts)
    assert {d["check"] for d in drifts} == {"expected_code", "status_code"}
    assert all(d["sentence"] for d in drifts)
