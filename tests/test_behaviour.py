"""Every row of the contract table, at the rules level, in-process over WSGI, and over real HTTP."""

from __future__ import annotations

import pytest

from engagelab_kit import spec
from tests.cases import ALL_CASES, Case
from tests.conftest import Target

DESCRIPTIONS = {e.code: e.description for e in spec.load().codes.values()}


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_contract_case(target: Target, case: Case) -> None:
    reply = target.request(case.method, case.path, case.payload(), case.headers)
    assert (reply.status, reply.code) == (case.status, case.code), reply.raw[:300]
    assert reply.headers["content-type"] == "application/json"
    if case.method == "HEAD":
        return
    assert isinstance(reply.json, dict)
    assert set(reply.json) == {"code", "message"}
    message = reply.json["message"]
    if case.code == 0:
        assert message == "success"
    else:
        assert message.startswith(DESCRIPTIONS[case.code])


def test_head_is_405_without_body(target: Target) -> None:
    reply = target.request("HEAD", "/v1/user/contact")
    assert reply.status == 405
    assert reply.raw == b""


def test_405_names_the_allowed_method(target: Target) -> None:
    reply = target.request("GET", "/v1/user/contact")
    assert reply.headers.get("allow") == "POST"
