"""What the spec says must answer one observed request: the rule, its code, and the alternatives.

The proxy sees a request it did not write, so it works the contract's checks out
from the bytes, in the contract's order. Two things it cannot see from the
request alone: the upstream's accounts (is this well-formed key known, is the
secret right, is the project deleted) and its optional strict-euid mode. Where
those decide, every answer the contract allows is listed, and the upstream's
answer says which one applied.

This reads the spec's data (errors.json, limits, patterns), never the mock's
own rules: the proxy judges the mock too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from engagelab_kit import spec

_SPEC = spec.load()
_CANONICAL_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# An euid is 19 digits at most; longer integer literals are kept as text, never converted.
_LONGEST_INT = 20

FROM_REQUEST, FROM_UPSTREAM = "request", "upstream"
CONTROL_PREFIX = "/__mock/"


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


# The key is well-formed: whether the upstream knows it, and whether the secret is right, only the
# upstream knows. Each of these answers is the contract's for some state of its accounts.
_ACCOUNT_ANSWERS = tuple(
    Expectation(rule, _SPEC.rule(rule).code, why, FROM_UPSTREAM, "decided by the upstream's accounts")
    for rule, why in (
        ("auth.key_unknown", "a well-formed key the upstream may not know"),
        ("auth.secret", "a secret the upstream may not accept"),
        ("auth.project_deleted", "a project the upstream may have deleted"),
        ("auth.datasource_deleted", "an API data source the upstream may have deleted"),
    )
)
_STRICT_EUID = Expectation("euid.unknown", _SPEC.rule("euid.unknown").code,
                           "an euid the upstream may not know (strict mode)", FROM_UPSTREAM,
                           "strict-euid mode: decided by the upstream's known euids")


class _Reject(Exception):
    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule, self.detail = rule, detail


def expect(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    body_size: int,
    contact_types: tuple[str, ...] = (),
) -> Verdict:
    """The contract's answers for a request; `body` may be cut short, `body_size` is its full length."""
    path = target.split("?", 1)[0]
    if path.startswith(CONTROL_PREFIX):
        return Verdict((), "the mock's control API, outside the contract")
    if path == _SPEC.register_path or unquote(path) == _SPEC.register_path:
        return Verdict((), f"{_SPEC.register_path} is outside this contract (POST /v1/user/contact)")
    types = contact_types or _SPEC.contact_types
    if path == _SPEC.contact_path:
        return Verdict(tuple(_endpoint(method, headers, body, body_size, types)))
    if unquote(path) == _SPEC.contact_path:
        # The behaviour contract, fine print: "Percent-encoded spellings of the path itself ... either 404
        # or exactly the endpoint's own answer is correct".
        note = "percent-encoded spelling of the path: the contract allows 404 or the endpoint's answer"
        served = tuple(replace(e, note=e.note or note) for e in _endpoint(method, headers, body, body_size, types))
        return Verdict((*served, Expectation("route.path", None, f"unknown path {path!r}", note=note)))
    return Verdict((Expectation("route.path", None, f"unknown path {path[:80]!r}"),))


def _endpoint(
    method: str, headers: list[tuple[str, str]], body: bytes, body_size: int, types: tuple[str, ...]
) -> Iterator[Expectation]:
    if method != "POST":
        yield Expectation("route.method", None, f"method {method!r} on the endpoint")
        return
    auth = [v for k, v in headers if k.lower() == "authorization"]
    try:
        _authorization(auth[0] if len(auth) == 1 else None, len(auth))
    except _Reject as failed:
        yield Expectation(failed.rule, _SPEC.rule(failed.rule).code, failed.detail)
        return
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    first = _body(content_type, body, body_size, types)
    yield first
    yield from _ACCOUNT_ANSWERS
    if first.code == 0:
        yield _STRICT_EUID


def _authorization(header: str | None, count: int) -> None:
    if header is None:
        raise _Reject("auth.header", "no Authorization header" if count == 0 else "several Authorization headers")
    scheme, space, credentials = header.partition(" ")
    if not space or scheme.lower() != "basic":
        raise _Reject("auth.header", "scheme is not Basic followed by a space")
    credentials = credentials.lstrip(" ")
    if not credentials or not _CANONICAL_B64.fullmatch(credentials):
        raise _Reject("auth.header", "credentials are not canonical base64")
    try:
        raw = base64.b64decode(credentials, validate=True)
    except binascii.Error:
        raise _Reject("auth.header", "credentials are not canonical base64") from None
    if base64.b64encode(raw).decode("ascii") != credentials:
        raise _Reject("auth.header", "credentials are not canonical base64")
    try:
        key, colon, secret = raw.decode("utf-8").partition(":")
    except UnicodeDecodeError:
        raise _Reject("auth.header", "credentials are not UTF-8") from None
    if not colon or not key or not secret:
        raise _Reject("auth.header", "no colon, or an empty key or secret")
    if re.fullmatch(_SPEC.project_key_pattern, key) is None:
        raise _Reject("auth.key_format", "the key is not of the project-key form")


def _body(content_type: str | None, body: bytes, body_size: int, types: tuple[str, ...]) -> Expectation:
    try:
        doc = _document(content_type, body, body_size)
        _fields(doc, types)
    except _Reject as failed:
        return Expectation(failed.rule, _SPEC.rule(failed.rule).code, failed.detail)
    return Expectation("success", 0, "every check passes")


class _HugeInt:
    """An integer literal longer than any valid euid, kept unconverted (Python refuses > 4300 digits)."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _int(literal: str) -> int | _HugeInt:
    return int(literal) if len(literal) <= _LONGEST_INT else _HugeInt(literal)


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


_DECODER = json.JSONDecoder(parse_int=_int, parse_constant=_not_json)


def _document(content_type: str | None, body: bytes, body_size: int) -> Any:
    if body_size > _SPEC.limits.max_body_bytes:
        raise _Reject("body.size", f"body of {body_size} bytes is over {_SPEC.limits.max_body_bytes}")
    if not _json_media_type(content_type):
        raise _Reject("body.content_type", f"Content-Type {content_type!r} is not application/json (UTF-8)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Reject("body.utf8", "body is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise _Reject("body.utf8", "body starts with a byte-order mark")
    try:
        doc = _DECODER.decode(text)
    except (ValueError, RecursionError):
        raise _Reject("body.json", "body is not RFC 8259 JSON") from None
    # Lone surrogates only come from escapes (UTF-8 decoding refuses raw ones), and a text cannot nest
    # deeper than it has brackets: most bodies need no walk.
    walk = _SURROGATE_ESCAPE.search(text) is not None or text.count("{") + text.count("[") > _SPEC.limits.max_json_depth
    problem = _tree_problem(doc) if walk else ""
    if problem:
        raise _Reject("body.json", problem)
    if not isinstance(doc, dict):
        raise _Reject("body.object", "the top-level value is not an object")
    return doc


def _json_media_type(value: str | None) -> bool:
    if not value:
        return False
    media, *params = value.split(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params:
        name, _, text = param.partition("=")
        if name.strip().lower() == "charset" and text.strip().strip('"').lower() != "utf-8":
            return False
    return True


def _tree_problem(doc: Any) -> str:
    """Depth over the limit or a lone surrogate anywhere (keys included); "" when neither."""
    limit = _SPEC.limits.max_json_depth
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return "a string holds a lone surrogate"
            continue
        if isinstance(value, dict):
            children: list[Any] = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return f"nested deeper than {limit} levels"
        stack.extend((child, depth + 1) for child in children)
    return ""


def _fields(doc: dict[str, Any], types: tuple[str, ...]) -> None:
    euid = doc.get("euid")
    if euid is None or euid == "":
        raise _Reject("euid.missing", "euid is missing, null or empty")
    limits = _SPEC.limits
    # type() rather than isinstance(): JSON booleans are not integers.
    if type(euid) is not int or not limits.euid_min <= euid <= limits.euid_max:
        raise _Reject("euid.invalid", "euid is not an integer in range")
    contacts = doc.get("contacts")
    if type(contacts) is not dict:
        raise _Reject("contacts.type", "contacts is missing, null or not an object")
    if not contacts:
        raise _Reject("contacts.empty", "contacts is empty")
    if len(contacts) > limits.max_contacts:
        raise _Reject("contacts.count", f"{len(contacts)} entries, over {limits.max_contacts}")
    for name, value in contacts.items():
        _entry(name, value, types)


def _entry(name: str, value: Any, types: tuple[str, ...]) -> None:
    shown = repr(name[:40])
    if not name or len(name) > _SPEC.limits.max_name_length or re.fullmatch(_SPEC.name_pattern, name) is None:
        raise _Reject("entry.name_invalid", f"name {shown} is not a valid name")
    if name not in types:
        raise _Reject("entry.name_unsupported", f"name {shown} is not a supported contact type")
    if value is None:
        raise _Reject("entry.value_null", f"value of {shown} is null")
    if type(value) is not str:
        raise _Reject("entry.value_type", f"value of {shown} is not a string")
    if all(ch in _SPEC.white_space for ch in value):
        raise _Reject("entry.value_blank", f"value of {shown} is empty or blank")
    if len(value) > _SPEC.limits.max_value_length:
        raise _Reject("entry.value_length", f"value of {shown} is over {_SPEC.limits.max_value_length} code points")
