"""What the spec says must answer one observed request: the contract suite's oracle, adapted to a proxy.

The oracle (``contract_tests.expect.expected``) knows the target's accounts; a
passive proxy does not. So the request is judged as if its key were active with
the secret it carries (what the request alone decides), and where the key is
well-formed every answer the upstream's accounts could decide is allowed too
(unknown key, wrong secret, deleted project or data source), as is the optional
strict-euid answer after a success. The upstream's answer says which applied.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import unquote

from engagelab_kit.contract_tests.config import Profile
from engagelab_kit.contract_tests.expect import UNKNOWN_PATH, Accounts, Expected, basic_credentials, expected
from engagelab_kit.contract_tests.http import HttpRequest, header_text
from engagelab_kit.contract_tests.oracle import Oracle

FROM_REQUEST, FROM_UPSTREAM = "request", "upstream"
CONTROL_PREFIX = "/__mock/"
# Rules the oracle applies before it looks up the key: the upstream's accounts cannot change them.
_BEFORE_ACCOUNTS = ("route.path", "route.method", "auth.header", "auth.key_format")
_ACCOUNT_RULES = ("auth.key_unknown", "auth.secret", "auth.project_deleted", "auth.datasource_deleted")
_ACCOUNTS_NOTE = "decided by the upstream's accounts"
_STRICT_NOTE = "strict-euid mode: decided by the upstream's known euids"
_SEVERAL_NOTE = "several Authorization headers: the contract does not say which one is read"
_PERCENT_NOTE = "percent-encoded spelling of the path: the contract allows 404 or the endpoint's answer"


@dataclass(frozen=True)
class Expectation:
    """One answer the contract allows: the rule that decides it and its code (None: any non-zero)."""

    rule: str
    code: int | None
    detail: str = ""
    # "request": the request's bytes decide; "upstream": only the upstream's accounts or mode can.
    basis: str = FROM_REQUEST
    # Why this answer is allowed although the request alone does not decide it (the report's note).
    note: str = ""

    @property
    def rejects(self) -> bool:
        return self.code != 0


@dataclass(frozen=True)
class Verdict:
    """Every allowed answer, the request's own first; empty with a reason when not judged."""

    allowed: tuple[Expectation, ...]
    unjudged: str = ""


@functools.cache
def _default_oracle() -> Oracle:
    return Oracle.load(Profile())


def expect(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    body_size: int,
    oracle: Oracle | None = None,
) -> Verdict:
    """The contract's answers for a request; `body` may be cut short, `body_size` is its full length."""
    oracle = oracle or _default_oracle()
    path, _, query = target.partition("?")
    if path.startswith(CONTROL_PREFIX):
        return Verdict((), "the mock's control API, outside the contract")
    register = oracle.spec.register_path
    if unquote(path) == register:
        return Verdict((), f"{register} is outside this contract (POST {oracle.spec.contact_path})")
    limit = oracle.spec.limits.max_body_bytes
    if body_size > limit >= len(body):
        # Only the length matters to the size rule; the proxy keeps just enough bytes to see it.
        body = body.ljust(limit + 1, b" ")
    request = HttpRequest(method, path, tuple(headers), body, query)
    credentials = basic_credentials(request.header("Authorization"))
    accounts = Accounts(active=dict([credentials])) if credentials else Accounts()
    want = expected(request, oracle, accounts)
    own = Expectation(want.rule, want.code, _detail(oracle, want.rule, request))
    allowed = [own]
    if want.rule not in _BEFORE_ACCOUNTS:
        allowed += [Expectation(r, oracle.rule_code(r), _detail(oracle, r, request), FROM_UPSTREAM, _ACCOUNTS_NOTE)
                    for r in _ACCOUNT_RULES]
    if want.code == 0:
        rule = "euid.unknown"
        allowed.append(Expectation(rule, oracle.rule_code(rule), _detail(oracle, rule, request), FROM_UPSTREAM,
                                   _STRICT_NOTE))
    folded = _folded_authorization(request, oracle, accounts)
    if folded is not None and folded.rule != want.rule:
        # Before the accounts' answers: a 40050 here is the request's doing, not a wrong secret.
        allowed.insert(1, Expectation(folded.rule, folded.code, _detail(oracle, folded.rule, request),
                                      note=_SEVERAL_NOTE))
    if UNKNOWN_PATH in want.also:
        # A percent-encoded spelling of the path: the endpoint's answer, or a 404.
        allowed = [e if e.note else Expectation(e.rule, e.code, e.detail, e.basis, _PERCENT_NOTE) for e in allowed]
        allowed.append(Expectation("route.path", None, _detail(oracle, "route.path", request), note=_PERCENT_NOTE))
    return Verdict(tuple(allowed))


def _folded_authorization(request: HttpRequest, oracle: Oracle, accounts: Accounts) -> Expected | None:
    """With several Authorization headers, the oracle's answer to them folded into one value (RFC 9110
    allows one such field; a server may read the first, as the oracle does, or the folded list)."""
    auth = [header_text(v) for k, v in request.headers if k.lower() == "authorization"]
    if len(auth) < 2:
        return None
    kept = tuple((k, v) for k, v in request.headers if k.lower() != "authorization")
    one = HttpRequest(request.method, request.path, (*kept, ("Authorization", ", ".join(auth))), request.body,
                      request.query)
    return expected(one, oracle, accounts)


def _detail(oracle: Oracle, rule: str, request: HttpRequest) -> str:
    if rule == "route.path":
        return f"unknown path {request.path[:80]!r}"
    if rule == "route.method":
        return f"method {request.method[:20]!r} on the endpoint"
    if rule == "success":
        return "every check passes"
    return oracle.spec.rule(rule).when

