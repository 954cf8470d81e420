"""The oracle as one function: what the contract says must answer any request.

``expected(request, oracle, accounts)`` walks the contract's steps over a raw request
(route, authentication, body, euid, contacts, entries) using the spec data alone and
returns the first rule the request breaks, its code and status, and any other answer
the contract also allows. The case tables are checked against it (every case's
expectation must agree), and a tool that judges live exchanges can call it directly.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from engagelab_kit.contract_tests.http import HttpRequest, HttpResponse, header_text
from engagelab_kit.contract_tests.oracle import Oracle

UNKNOWN_PATH: tuple[int | None, int | None] = (None, 404)


@dataclass(frozen=True)
class Accounts:
    """What the judge knows of the target's keys: key -> secret, per project status."""

    active: Mapping[str, str] = field(default_factory=dict)
    project_deleted: Mapping[str, str] = field(default_factory=dict)
    datasource_deleted: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Expected:
    rule: str  # the first rule broken ("success" when none)
    code: int | None  # None: any non-zero code (404 / 405)
    status: int | None
    also: tuple[tuple[int | None, int | None], ...] = ()  # other answers the contract allows


class _Broken(Exception):
    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


def expected(request: HttpRequest, oracle: Oracle, accounts: Accounts) -> Expected:
    """The answer the contract requires for `request` (see the module docstring)."""
    path = request.path.split("?", 1)[0]
    contact = oracle.spec.contact_path
    if "%" in path and unquote(path) == contact:
        # Ambiguous spelling: a 404, or exactly the endpoint's own answer.
        own = expected(_with_path(request, contact), oracle, accounts)
        return Expected(own.rule, own.code, own.status, (*own.also, UNKNOWN_PATH))
    if path != contact:
        return _answer(oracle, "route.path")
    if request.method != "POST":
        return _answer(oracle, "route.method")
    try:
        _authenticate(request, oracle, accounts)
        doc = _document(request, oracle)
        _euid(doc, oracle)
        _entries(_contacts(doc, oracle), oracle)
    except _Broken as broken:
        return _answer(oracle, broken.rule)
    return _answer(oracle, "success")


def _answer(oracle: Oracle, rule: str) -> Expected:
    if rule in ("route.path", "route.method"):
        return Expected(rule, None, oracle.status(rule, None))
    code = oracle.rule_code(rule)
    return Expected(rule, code, oracle.status(rule, code))


def _with_path(request: HttpRequest, path: str) -> HttpRequest:
    return HttpRequest(request.method, path, request.headers, request.body, request.query)


def _credentials(value: object) -> tuple[str, str]:
    if not isinstance(value, (str, bytes)):
        raise _Broken("auth.header")
    match = re.fullmatch(r"([^ ]*) +(.*)", header_text(value).strip(" \t"))
    if match is None or match.group(1).lower() != "basic":
        raise _Broken("auth.header")
    token = match.group(2)
    try:
        payload = base64.b64decode(token.encode("ascii"), validate=True)
        text = payload.decode("utf-8")
    except (binascii.Error, UnicodeError):
        raise _Broken("auth.header") from None
    if base64.b64encode(payload).decode() != token:
        raise _Broken("auth.header")  # not canonical, padded base64
    key, colon, secret = text.partition(":")
    if not colon or not key or not secret:
        raise _Broken("auth.header")
    return key, secret


def basic_credentials(value: object) -> tuple[str, str] | None:
    """(key, secret) of an Authorization value the contract reads as Basic credentials; None otherwise."""
    try:
        return _credentials(value)
    except _Broken:
        return None


def _authenticate(request: HttpRequest, oracle: Oracle, accounts: Accounts) -> None:
    key, secret = _credentials(request.header("Authorization"))
    if re.fullmatch(oracle.spec.project_key_pattern, key) is None:
        raise _Broken("auth.key_format")
    for known, rule in (
        (accounts.active, ""),
        (accounts.project_deleted, "auth.project_deleted"),
        (accounts.datasource_deleted, "auth.datasource_deleted"),
    ):
        if key in known:
            if known[key] != secret:
                raise _Broken("auth.secret")  # whatever the project's status
            if rule:
                raise _Broken(rule)
            return
    raise _Broken("auth.key_unknown")


def _document(request: HttpRequest, oracle: Oracle) -> dict[str, Any]:
    if len(request.body) > oracle.spec.limits.max_body_bytes:
        raise _Broken("body.size")
    if not _json_media_type(request.header("Content-Type")):
        raise _Broken("body.content_type")
    if request.body.startswith(b"\xef\xbb\xbf"):
        raise _Broken("body.utf8")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Broken("body.utf8") from None
    doc = _strict_json(text, oracle.spec.limits.max_json_depth)
    if not isinstance(doc, dict):
        raise _Broken("body.object")
    return doc


def _json_media_type(value: object) -> bool:
    if not isinstance(value, (str, bytes)):
        return False
    media, *params = header_text(value).split(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip().strip('"').lower() != "utf-8":
            return False
    return True


class _Big(int):
    """An integer literal too long to convert: out of any range."""


def _strict_json(text: str, max_depth: int) -> Any:
    """RFC 8259 over the whole text: duplicates' overridden values included; depth counts
    arrays and objects, never brackets inside strings."""
    if _depth(text) > max_depth:
        raise _Broken("body.json")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        for name, value in items:
            if _has_surrogate(name) or _has_surrogate(value):
                raise ValueError("lone surrogate")
        return dict(items)

    def reject(name: str) -> Any:
        raise ValueError(name)

    def integer(literal: str) -> int:
        return _Big(2**64) if len(literal.lstrip("-")) > 25 else int(literal)

    try:
        return json.loads(text, parse_constant=reject, parse_int=integer, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        raise _Broken("body.json") from None


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False  # objects are checked by their own pairs hook


def _depth(text: str) -> int:
    deepest = level = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


def _euid(doc: dict[str, Any], oracle: Oracle) -> None:
    value = doc.get("euid")
    if value is None or value == "":
        raise _Broken("euid.missing")
    limits = oracle.spec.limits
    if type(value) not in (int, _Big) or not limits.euid_min <= value <= limits.euid_max:
        raise _Broken("euid.invalid")


def _contacts(doc: dict[str, Any], oracle: Oracle) -> dict[str, Any]:
    value = doc.get("contacts")
    if not isinstance(value, dict):
        raise _Broken("contacts.type")
    if not value:
        raise _Broken("contacts.empty")
    if len(value) > oracle.spec.limits.max_contacts:
        raise _Broken("contacts.count")
    return value


def _entries(contacts: dict[str, Any], oracle: Oracle) -> None:
    types = oracle.profile.types()
    for name, value in contacts.items():  # request order; first failure wins
        rule = oracle.name_rule(name, types)
        if rule is not None:
            raise _Broken(rule)
        if value is not None and not isinstance(value, str):
            raise _Broken("entry.value_type")
        if value is None:
            raise _Broken("entry.value_null")
        if oracle.blank(value):
            raise _Broken("entry.value_blank")
        if len(value) > oracle.spec.limits.max_value_length:
            raise _Broken("entry.value_length")


def judge(
    request: HttpRequest, response: HttpResponse, oracle: Oracle, accounts: Accounts, max_latency: float = 2.0
) -> tuple[list[dict[str, Any]], list[str]]:
    """One observed exchange judged by every response check: (drift records citing their rule and
    sentence, notes on what the contract leaves open). For tools that see traffic they did not send."""
    from engagelab_kit.contract_tests import checks
    from engagelab_kit.contract_tests.case import Case
    from engagelab_kit.contract_tests.drift import ContractDrift
    from engagelab_kit.contract_tests.runner import cite

    want = expected(request, oracle, accounts)
    case = Case("exchange", want.rule, request, want.code, want.status, also=want.also)
    obs = checks.Observation(case, response, oracle, max_latency)
    drifts = []
    for check in checks.REGISTRY.values():
        try:
            check(obs)
        except ContractDrift as drift:
            drifts.append(cite(drift.record(), case.rule))
    return drifts, obs.notes
