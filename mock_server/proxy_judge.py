"""One observed exchange in, one judgement out, by the contract suite's own oracle and checks.

``proxy_expect`` asks the suite's oracle which answers the contract allows for
the request; each becomes a suite ``Case``, the suite's named checks run over
the upstream's answer, and their drifts are kept in the suite's vocabulary and
record format, citing the rule and sentence they break. What the contract leaves
open (and the checks note) becomes a note, never a drift.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engagelab_kit.contract_tests import checks
from engagelab_kit.contract_tests.case import Case
from engagelab_kit.contract_tests.checks import Observation
from engagelab_kit.contract_tests.config import Profile
from engagelab_kit.contract_tests.drift import ContractDrift, ShapeDrift
from engagelab_kit.contract_tests.http import HttpRequest, HttpResponse, header_text
from engagelab_kit.contract_tests.oracle import Oracle
from engagelab_kit.contract_tests.redact import MASK, Redactor
from engagelab_kit.contract_tests.runner import CONFORM, DRIFT, NOT_CHECKED, cite
from engagelab_kit.mock_server.proxy_expect import FROM_REQUEST, Expectation, expect

ROUTE_RULES = ("route.path", "route.method")


@dataclass
class Exchange:
    """What passed through: the request as received (body cut at the size the rules need), the answer."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    body_size: int
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    elapsed: float = 0.0
    # Non-empty when no complete HTTP answer came back; `reached` tells whether the upstream was connected.
    failure: str = ""
    reached: bool = True
    body_complete: bool = True
    aborted: bool = False  # the client went away before the answer: nothing to judge

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.target[:200]}"


@dataclass
class Judgement:
    request_line: str
    rule: str
    expected_code: int | None
    expected_status: int | None
    verdict: str
    basis: str = FROM_REQUEST
    detail: str = ""
    observed_status: int | None = None
    observed_code: int | None = None
    drifts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # why not checked
    make_curl: Callable[[], str] | None = field(default=None, repr=False)

    @functools.cached_property
    def curl(self) -> str:
        """The request as a curl line against the upstream, secrets read from the environment."""
        return self.make_curl() if self.make_curl is not None else ""

    @property
    def client_error(self) -> bool:
        """The spec rejects the request (by the rule the judgement settled on)."""
        rejects = self.rule != "" and self.expected_code != 0
        return rejects and (self.verdict != NOT_CHECKED or self.basis == FROM_REQUEST)

    def to_json(self) -> dict[str, Any]:
        """The suite's outcome record, with the proxy's fields beside it."""
        return {
            "case_id": self.request_line,
            "rule": self.rule,
            "group": "proxy",
            "expected_code": self.expected_code,
            "expected_status": self.expected_status,
            "verdict": self.verdict,
            "observed_status": self.observed_status,
            "observed_code": self.observed_code,
            "drifts": self.drifts,
            "curl": self.curl,
            "reason": self.reason,
            "basis": self.basis,
            "detail": self.detail,
            "notes": self.notes,
        }


class Judge:
    def __init__(self, upstream: str, profile: Profile | None = None, selected: tuple[str, ...] = (),
                 max_latency: float = 2.0) -> None:
        self.upstream = upstream
        self.profile = profile or Profile()
        self.oracle = Oracle.load(self.profile)
        # Run-level checks need a second send; the proxy never sends anything of its own.
        self.selected = tuple(n for n in checks.select(selected) if n in checks.REGISTRY)
        self.max_latency = max_latency

    def judge(self, ex: Exchange) -> Judgement:
        verdict = expect(ex.method, ex.target, ex.headers, ex.body, ex.body_size, self.oracle)
        redactor = redactor_for(ex.headers)
        request = self._request(ex)
        # Built only when a report keeps this judgement as an example: most are only counted.
        curl = functools.partial(_curl, redactor, self.upstream, request)
        line = redactor.text(ex.request_line)
        if not verdict.allowed:
            return Judgement(line, "", None, None, NOT_CHECKED, reason=verdict.unjudged, make_curl=curl)
        if not ex.body_complete and not _decided_without_body(verdict.allowed[0]):
            # The upstream answered (or failed) before the body arrived whole: the body rules cannot be applied.
            reason = f"upstream unreachable: {redactor.text(ex.failure)}" if ex.failure and not ex.reached else (
                "the body did not arrive whole before the answer: not judged")
            return Judgement(line, "", None, None, NOT_CHECKED, reason=reason, make_curl=curl)
        if ex.failure:
            return self._failed(ex, verdict.allowed[0], curl, redactor)
        response = HttpResponse(
            ex.status or 0, {k.lower(): v for k, v in ex.response_headers}, ex.response_body, ex.elapsed
        )
        # The first allowed answer that fits; failing that, the one whose code the upstream gave (its status
        # or message drifted), else the request's own rule: an unrelated alternative never takes the blame.
        tried = []
        for allowed in verdict.allowed:
            drifts, notes, observed = self._check(allowed, request, response)
            tried.append((allowed, drifts, notes))
            if not drifts:
                break
        chosen, drifts, notes = next(
            ((e, d, n) for e, d, n in tried if not d),
            next(((e, d, n) for e, d, n in tried if e.code is not None and e.code == observed), tried[0]),
        )
        judgement = self._judgement(ex, chosen, CONFORM if not drifts else DRIFT, curl, redactor)
        judgement.observed_status = response.status
        judgement.observed_code = observed
        judgement.drifts = [_scrub(cite(d.record(), chosen.rule), redactor) for d in drifts]
        judgement.notes = [*([f"{chosen.rule}: {chosen.note}"] if chosen.note else []), *notes]
        return judgement

    def _check(
        self, allowed: Expectation, request: HttpRequest, response: HttpResponse
    ) -> tuple[list[ContractDrift], list[str], int | None]:
        """The suite's checks over the answer, as if the spec expected `allowed`; and the answer's code."""
        obs = Observation(self._case(allowed, request), response, self.oracle, self.max_latency)
        found: list[ContractDrift] = []
        for name in self.selected:
            try:
                checks.REGISTRY[name](obs)
            except ContractDrift as drift:
                found.append(drift)
        # The suite's checks note what the contract leaves open (a slow answer, which code a 404 carries).
        return found, obs.notes, obs.code()

    def _case(self, allowed: Expectation, request: HttpRequest) -> Case:
        return Case("proxy", allowed.rule, request, allowed.code, self.oracle.status(allowed.rule, allowed.code))

    def _judgement(
        self, ex: Exchange, allowed: Expectation, verdict: str, curl: Callable[[], str], redactor: Redactor
    ) -> Judgement:
        return Judgement(
            redactor.text(ex.request_line),
            allowed.rule,
            allowed.code,
            self.oracle.status(allowed.rule, allowed.code),
            verdict,
            allowed.basis,
            allowed.detail,
            make_curl=curl,
        )

    def _failed(self, ex: Exchange, allowed: Expectation, curl: Callable[[], str], redactor: Redactor) -> Judgement:
        if not ex.reached:
            # Refused, unreachable, TLS handshake: the upstream gave no answer to judge.
            judgement = self._judgement(ex, allowed, NOT_CHECKED, curl, redactor)
            judgement.reason = f"upstream unreachable: {redactor.text(ex.failure)}"
            return judgement
        # Connected, then no complete answer: the suite calls that a response_shape drift.
        drift = ShapeDrift("response_shape", "an HTTP response", redactor.text(ex.failure))
        judgement = self._judgement(ex, allowed, DRIFT, curl, redactor)
        judgement.observed_status = ex.status
        judgement.drifts = [cite(drift.record(), allowed.rule)]
        return judgement

    def _request(self, ex: Exchange) -> HttpRequest:
        path, _, query = ex.target.partition("?")
        return HttpRequest(ex.method, path, tuple(ex.headers), ex.body, query)


def _decided_without_body(allowed: Expectation) -> bool:
    """Route, authentication and the size rule (by the declared length) need no body bytes."""
    return allowed.rule in ROUTE_RULES or allowed.rule.startswith("auth.") or allowed.rule == "body.size"


def _credentials(headers: list[tuple[str, str]]) -> tuple[str, str]:
    """(secret, raw credentials token) of a Basic header; empty strings when there is none."""
    value = next((v for k, v in headers if k.lower() == "authorization"), "")
    token = value.strip().partition(" ")[2].strip()
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", token
    return decoded.partition(":")[2], token


def redactor_for(headers: list[tuple[str, str]]) -> Redactor:
    """Masks this request's own secret (and its raw credentials) in everything kept about it."""
    return Redactor(_credentials(headers))


def _curl(redactor: Redactor, upstream: str, request: HttpRequest) -> str:
    """The suite's reproduction line; an Authorization it cannot rebuild from $ENGAGELAB_API_SECRET is
    masked whole, since the proxy does not know which part of it is secret."""
    secret, token = _credentials([(k, header_text(v)) for k, v in request.headers])
    value = request.header("authorization")
    # curl sets Host and Content-Length for the upstream itself; the app's would point at the proxy.
    kept = tuple((k, v) for k, v in request.headers if k.lower() not in ("host", "content-length"))
    request = HttpRequest(request.method, request.path, kept, request.body, request.query)
    if value is not None and not (secret and token and base64.b64encode(base64.b64decode(token)).decode() == token):
        scheme = str(value).strip().partition(" ")[0]
        shown = f"{scheme} {MASK}" if scheme.isalpha() and len(scheme) <= 16 else MASK
        headers = tuple((k, shown if k.lower() == "authorization" else v) for k, v in request.headers)
        request = HttpRequest(request.method, request.path, headers, request.body, request.query)
    # The suite's curl masks headers and body; a secret in the query string is masked here.
    return redactor.text(redactor.curl(upstream, request))


def _scrub(record: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """A drifted answer might echo the credentials back: mask them wherever they sit in the record."""
    scrubbed: dict[str, Any] = json.loads(redactor.text(json.dumps(record, default=repr)))
    return scrubbed
