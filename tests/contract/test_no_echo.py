"""The secret-echo check: a secret that is part of every answer's fixed text is no echo; a real one is.

Found by a nightly run against our own mock: a generated secret "applic" was
flagged because the answer's Content-Type is application/json (a false alarm).
"""

from __future__ import annotations

import base64
import json

import pytest

from engagelab_kit.contract_tests.case import Case
from engagelab_kit.contract_tests.checks import Observation, no_secret_echo
from engagelab_kit.contract_tests.config import Profile
from engagelab_kit.contract_tests.drift import ShapeDrift
from engagelab_kit.contract_tests.http import HttpRequest, HttpResponse
from engagelab_kit.contract_tests.oracle import Oracle

ORACLE = Oracle.load(Profile())
KEY = "000000000000000000000000"


def _observe(secret: str, message: str, extra: dict[str, str] | None = None, code: int = 40050) -> Observation:
    token = base64.b64encode(f"{KEY}:{secret}".encode()).decode()
    request = HttpRequest("POST", "/v1/user/contact", (("Authorization", f"Basic {token}"),
                                                       ("Content-Type", "application/json")), b'{"euid":77}')
    body = json.dumps({"code": code, "message": message}).encode()
    headers = {"content-type": "application/json", "date": "Sun, 29 Nov 2026 15:00:00 GMT", **(extra or {})}
    return Observation(Case("c", "auth.no_echo", request, code, 401), HttpResponse(401, headers, body, 0.001),
                       ORACLE, 5.0)


@pytest.mark.parametrize("secret", ["applic", "cation/js", "Nov 2026", "success"])
def test_a_secret_inside_what_every_answer_carries_is_no_echo(secret: str) -> None:
    description = ORACLE.spec.codes[40050].description
    no_secret_echo(_observe(secret, description))
    no_secret_echo(_observe(secret, ORACLE.spec.success_message, code=0))


@pytest.mark.parametrize("extra, detail", [
    ({}, " (secret applic does not match)"),  # a fixed word's part, echoed in the detail all the same
    ({"x-debug": "sent applic"}, ""),
    ({}, " (got xxapplication/jsonyy)"),  # a secret that holds a fixed text
])
def test_a_real_echo_is_still_found(extra: dict[str, str], detail: str) -> None:
    secret = "xxapplication/jsonyy" if "xx" in detail else "applic"
    with pytest.raises(ShapeDrift):
        no_secret_echo(_observe(secret, ORACLE.spec.codes[40050].description + detail, extra))
