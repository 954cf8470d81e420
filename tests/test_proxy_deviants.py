"""The proxy in front of the suite's deviant servers: each deviation reported under the right rule,
and the client sees exactly what the upstream sent.

The contract suite drives the traffic (its case table, through the proxy); the
proxy judges it without knowing which case is which.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from proxy_harness import DELETED, ThreadProxy, WsgiUpstream

sys.path.insert(0, str(Path(__file__).parent / "contract"))
from deviants import DEVIANTS, Deviant

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import ContractRun, RunConfig
from engagelab_kit.mock_server import create_app

# The rule the proxy must report each deviation under: the rule the spec applies to the request that
# exposes it (the suite files some cases under the rule they prove passed, e.g. 100 entries under
# contacts.count; the request itself then fails on its first unsupported name).
PROXY_RULE = {
    "code-swapped-55105-to-55107": "entry.value_length",
    "value-limit-off-by-one": "success",
    "value-length-in-utf16-units": "success",
    "isspace-counts-U+001C-as-blank": "success",
    "key-format-case-insensitive": "auth.key_format",
    "contacts-count-off-by-one": "entry.name_unsupported",
    "precedence-euid-before-auth": "auth.header",
    "extra-response-field": "euid.invalid",
    "code-as-string": "euid.invalid",
    "status-401-becomes-403": "auth.header",
    "55004-answered-200": "body.size",
    "html-404-page": "route.path",
    "undocumented-55104": "entry.value_blank",
    "trailing-slash-served": "route.path",
    "success-message-not-success": "success",
    "deep-json-crashes": "body.json",
    "float-euid-accepted": "euid.invalid",
    "name-trailing-newline-accepted": "entry.name_invalid",
    "bom-accepted": "body.utf8",
    "size-checked-before-auth": "auth.header",
    "big-integer-crashes": "euid.invalid",
    "query-string-routes-404": "success",
    "put-answers-404": "route.method",
    "content-type-lenient": "body.content_type",
    "method-case-insensitive": "route.method",
    "tab-accepted-after-scheme": "auth.header",
    "values-counted-after-nfc": "entry.value_length",
    "unlisted-channel-accepted": "entry.name_unsupported",
    "intermittent-55108": "euid.invalid",
    "success-not-idempotent": "success",
}
# What a proxy that adds no request of its own cannot see, and why.
UNSEEABLE = {
    "secret-check-skipped": "whether a secret is right is the upstream's accounts; the answer (0) is allowed",
    "deleted-project-revealed-without-secret": "ditto: a 50034 for a well-formed key is an allowed answer",
    "head-with-body": "HTTP framing: bytes after a HEAD answer are not part of it, for the proxy as for any client",
}
# The contract promises no speed: a slow answer is a note, never drift.
NOTED = {"latency-on-success": "over --max-latency"}
SMALL = {"extra-response-field": ("euid-*",)}  # a run over every case is not needed to see it


def test_every_deviant_is_accounted_for() -> None:
    assert {d.name for d in DEVIANTS} == set(PROXY_RULE) | set(UNSEEABLE) | set(NOTED)


Tap = list[tuple[int, list[tuple[str, str]], bytes]]


def _tapped(app: Callable[..., Any], seen: Tap) -> Callable[..., Any]:
    """What the upstream sends, as its WSGI app produced it."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=int(status.split()[0]), headers=headers)
            return start_response(status, headers, exc_info)

        body = b"".join(app(environ, capture))
        if environ["REQUEST_METHOD"] != "HEAD":
            seen.append((captured["status"], captured["headers"], body))
        return [body]

    return middleware


def _run(deviant: Deviant, seen: Tap) -> tuple[ContractRun, ThreadProxy]:
    upstream = WsgiUpstream(_tapped(deviant.build(create_app()), seen))
    proxy = ThreadProxy(upstream.url, max_latency=float(deviant.options.get("max_latency", 2.0)))
    try:
        config = RunConfig(target=proxy.url, seed=20240601, **deviant.options).with_defaults(DELETED)
        select = SMALL.get(deviant.name) or (deviant.select if deviant.select != ("*",) else (deviant.expect,))
        result = contract_tests.run(config, select=select, properties=False)
        proxy.settle(result.session.sent)
    finally:
        proxy.stop()
        upstream.stop()
    return result, proxy


@pytest.mark.parametrize("deviant", [d for d in DEVIANTS if d.name in PROXY_RULE], ids=lambda d: d.name)
def test_deviation_is_reported_under_its_rule(deviant: Deviant) -> None:
    seen: Tap = []
    result, proxy = _run(deviant, seen)
    assert result.drifted, "the suite itself saw nothing: the traffic did not exercise the deviation"
    report = proxy.ledger.build()
    drifted = {rule for g in report["groups"] for rule in g["rules"]}
    assert PROXY_RULE[deviant.name] in drifted, (report["groups"], drifted)
    kinds = {d["kind"] for e in report["drifts"] for d in e["drifts"]}
    if deviant.kind in ("code", "shape", "status", "message"):
        assert deviant.kind in kinds, kinds
    # The client saw exactly what the upstream sent.
    answers = [e.response for e in result.session.log if e.response is not None and e.request.method != "HEAD"]
    assert len(answers) == len(seen)
    for got, (status, headers, body) in zip(answers, seen, strict=True):
        assert (got.status, got.body) == (status, body)
        assert all(got.headers.get(k.lower()) == v for k, v in headers)


@pytest.mark.parametrize("name", sorted(UNSEEABLE))
def test_what_a_passive_proxy_cannot_see_is_not_guessed(name: str) -> None:
    deviant = next(d for d in DEVIANTS if d.name == name)
    result, proxy = _run(deviant, [])
    assert proxy.ledger.summary()["drift"] == 0
    assert proxy.ledger.exchanges == result.session.sent


@pytest.mark.parametrize("name", sorted(NOTED))
def test_what_the_contract_leaves_open_is_a_note_never_drift(name: str) -> None:
    deviant = next(d for d in DEVIANTS if d.name == name)
    result, proxy = _run(deviant, [])
    report = proxy.ledger.build()
    assert proxy.ledger.summary()["drift"] == 0 and report["groups"] == [] and report["drifts"] == []
    assert proxy.ledger.exchanges == result.session.sent
    noted = [g for g in report["notes"] if NOTED[name] in g["key"]]
    assert noted and noted[0]["count"] > 0, report["notes"]
