"""Every rule, boundary and precedence step of docs/contract.md as a table of requests.

Expected codes and statuses are written out by hand from the contract, not
computed from the spec data, so a wrong table in spec/ shows up here too.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

KEY = "7d431e42dfa6a6d693ac2d04"
SECRET = "5e987ac6d2e04d95a9d8f0d1"
CONTACT = "/v1/user/contact"
REGISTER = "/v1/user/register"
EXAMPLE = {"euid": 10362473, "contacts": {"mobile_phone": "18023456879", "email": "12@gmail.com"}}


def basic(credentials: bytes | str) -> str:
    raw = credentials.encode() if isinstance(credentials, str) else credentials
    return "Basic " + base64.b64encode(raw).decode()


AUTH = basic(f"{KEY}:{SECRET}")
JSON_HEADERS = {"Content-Type": "application/json", "Authorization": AUTH}


@dataclass(frozen=True)
class Case:
    id: str
    code: int
    status: int
    body: Any = field(default_factory=lambda: EXAMPLE)
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))
    method: str = "POST"
    path: str = CONTACT

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=False).encode()


def _with(**contacts: Any) -> dict[str, Any]:
    return {"euid": 42, "contacts": contacts}


def _euid(value: Any) -> dict[str, Any]:
    return {"euid": value, "contacts": {"email": "a@example.com"}}


def _raw_euid(literal: str) -> bytes:
    return b'{"euid": ' + literal.encode() + b', "contacts": {"email": "a@example.com"}}'


def _auth(value: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if value is not None:
        headers["Authorization"] = value
    return headers


def _ctype(value: str | None) -> dict[str, str]:
    headers = {"Authorization": AUTH}
    if value is not None:
        headers["Content-Type"] = value
    return headers


def _nested(depth: int) -> bytes:
    # depth counts the top-level object as 1
    inner = "1"
    for _ in range(depth - 1):
        inner = "[" + inner + "]"
    return ('{"euid": 1, "contacts": {"email": "x"}, "deep": ' + inner + "}").encode()


DELETED_PROJECT = basic("dead0000000000000000beef:deleted-project-secret")
DELETED_SOURCE = basic("da7a0000000000000000dead:deleted-datasource-secret")
MIB = 1024 * 1024

ROUTE_CASES = [
    Case("get", 55004, 405, method="GET", body=b""),
    Case("put", 55004, 405, method="PUT"),
    Case("delete", 55004, 405, method="DELETE", body=b""),
    Case("patch", 55004, 405, method="PATCH"),
    Case("options", 55004, 405, method="OPTIONS", body=b""),
    Case("unknown-path", 55004, 404, path="/v1/user/contacts"),
    Case("trailing-slash", 55004, 404, path="/v1/user/contact/"),
    Case("case-differs", 55004, 404, path="/v1/user/Contact"),
    Case("root", 55004, 404, path="/", method="GET", body=b""),
    Case("query-ignored", 0, 200, path="/v1/user/contact?debug=1&x=%20"),
    Case("404-before-auth", 55004, 404, path="/v2/user/contact", headers={}),
    Case("405-before-auth", 55004, 405, method="GET", headers={}, body=b""),
]

AUTH_CASES = [
    Case("auth-missing", 40050, 401, headers=_auth(None)),
    Case("auth-empty", 40050, 401, headers=_auth("")),
    Case("auth-bearer", 40050, 401, headers=_auth("Bearer " + AUTH[6:])),
    Case("auth-scheme-only", 40050, 401, headers=_auth("Basic")),
    Case("auth-no-space", 40050, 401, headers=_auth("Basic" + AUTH[6:])),
    Case("auth-not-base64", 40050, 401, headers=_auth("Basic !!!notbase64!!!")),
    Case("auth-unpadded", 40050, 401, headers=_auth(AUTH.rstrip("="))),
    # Same bytes as AUTH, but the unused low bits of the last character are set.
    Case("auth-noncanonical-bits", 40050, 401, headers=_auth(AUTH[:-3] + "R==")),
    Case("auth-not-utf8", 40050, 401, headers=_auth(basic(b"\xff\xfe" + KEY.encode() + b":" + SECRET.encode()))),
    Case("auth-no-colon", 40050, 401, headers=_auth(basic(KEY + SECRET))),
    Case("auth-empty-key", 40050, 401, headers=_auth(basic(":" + SECRET))),
    Case("auth-empty-secret", 40050, 401, headers=_auth(basic(KEY + ":"))),
    Case("auth-empty-both", 40050, 401, headers=_auth(basic(":"))),
    Case("auth-scheme-lowercase", 0, 200, headers=_auth("basic " + AUTH[6:])),
    Case("auth-scheme-uppercase", 0, 200, headers=_auth("BASIC " + AUTH[6:])),
    Case("auth-several-spaces", 0, 200, headers=_auth("Basic    " + AUTH[6:])),
    Case("key-too-short", 50031, 401, headers=_auth(basic("7d431e42dfa6:" + SECRET))),
    Case("key-25-chars", 50031, 401, headers=_auth(basic(KEY + "0:" + SECRET))),
    Case("key-uppercase", 50031, 401, headers=_auth(basic(KEY.upper() + ":" + SECRET))),
    Case("key-not-hex", 50031, 401, headers=_auth(basic("zzzzzzzzzzzzzzzzzzzzzzzz:" + SECRET))),
    Case("key-unknown", 50034, 401, headers=_auth(basic("0123456789abcdef01234567:" + SECRET))),
    Case("wrong-secret", 40050, 401, headers=_auth(basic(KEY + ":wrong"))),
    Case("secret-with-extra-colon", 40050, 401, headers=_auth(basic(KEY + ":" + SECRET + ":"))),
    Case("project-deleted", 50034, 401, headers=_auth(DELETED_PROJECT)),
    Case("project-deleted-wrong-secret", 40050, 401,
         headers=_auth(basic("dead0000000000000000beef:" + SECRET))),
    Case("datasource-deleted", 50074, 401, headers=_auth(DELETED_SOURCE)),
    Case("datasource-deleted-wrong-secret", 40050, 401,
         headers=_auth(basic("da7a0000000000000000dead:" + SECRET))),
    Case("auth-before-body", 40050, 401, headers=_auth(None), body=b"not json"),
    Case("auth-before-size", 40050, 401, headers=_auth(None), body=b" " * (MIB + 10)),
    Case("key-format-before-body", 50031, 401, headers=_auth(basic("nothex:x")), body=b"[]"),
]

_PADDED = json.dumps(EXAMPLE).encode()
BODY_CASES = [
    Case("size-over-limit", 55004, 413, body=_PADDED + b" " * (MIB + 1 - len(_PADDED))),
    Case("size-at-limit", 0, 200, body=_PADDED + b" " * (MIB - len(_PADDED))),
    Case("size-before-content-type", 55004, 413, headers=_ctype("text/plain"), body=b"x" * (MIB + 1)),
    Case("ctype-missing", 55004, 400, headers=_ctype(None)),
    Case("ctype-text", 55004, 400, headers=_ctype("text/plain")),
    Case("ctype-form", 55004, 400, headers=_ctype("application/x-www-form-urlencoded")),
    Case("ctype-plus-json", 55004, 400, headers=_ctype("application/merge-patch+json")),
    Case("ctype-vnd-json", 55004, 400, headers=_ctype("application/vnd.api+json")),
    Case("ctype-latin1", 55004, 400, headers=_ctype("application/json; charset=iso-8859-1")),
    Case("ctype-utf16", 55004, 400, headers=_ctype("application/json; charset=utf-16")),
    Case("ctype-utf8-alias", 55004, 400, headers=_ctype("application/json; charset=utf8")),
    Case("ctype-json-suffix", 55004, 400, headers=_ctype("application/jsonx")),
    Case("ctype-charset-utf8", 0, 200, headers=_ctype("application/json; charset=utf-8")),
    Case("ctype-charset-upper", 0, 200, headers=_ctype("Application/JSON; Charset=UTF-8")),
    Case("ctype-charset-quoted", 0, 200, headers=_ctype('application/json;charset="utf-8"')),
    Case("ctype-other-param", 0, 200, headers=_ctype("application/json; foo=bar")),
    Case("body-empty", 55004, 400, body=b""),
    Case("body-not-utf8", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "\xff"}}'),
    Case("body-bom", 55004, 400, body=b"\xef\xbb\xbf" + _PADDED),
    Case("body-truncated", 55004, 400, body=_PADDED[:-1]),
    Case("body-trailing-garbage", 55004, 400, body=_PADDED + b" x"),
    Case("body-single-quotes", 55004, 400, body=b"{'euid': 1}"),
    Case("body-nan", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "a"}, "x": NaN}'),
    Case("body-infinity", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "a"}, "x": -Infinity}'),
    Case("body-raw-control-char", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "a\x01b"}}'),
    Case("body-raw-newline-in-string", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "a\nb"}}'),
    Case("body-escaped-lone-surrogate", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "a\\ud800"}}'),
    Case("body-escaped-low-surrogate-key", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "a"}, "\\udc00": 1}'),
    Case("body-raw-surrogate-bytes", 55004, 400, body=b'{"euid": 1, "contacts": {"email": "\xed\xa0\x80"}}'),
    Case("body-escaped-pair-ok", 0, 200, body=b'{"euid": 1, "contacts": {"email": "\\ud83d\\ude00"}}'),
    Case("depth-32-ok", 0, 200, body=_nested(32)),
    Case("depth-33", 55004, 400, body=_nested(33)),
    Case("depth-huge", 55004, 400, body=b'{"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    Case("top-array", 55004, 400, body=b"[]"),
    Case("top-string", 55004, 400, body=b'"euid"'),
    Case("top-number", 55004, 400, body=b"1"),
    Case("top-null", 55004, 400, body=b"null"),
    Case("unknown-fields-ignored", 0, 200, body={**EXAMPLE, "extra": {"a": [1, 2]}, "z": None}),
    Case("duplicate-key-last-wins", 0, 200, body=b'{"euid": "bad", "euid": 7, "contacts": {"email": "a"}}'),
    Case("duplicate-key-last-wins-bad", 55108, 400, body=b'{"euid": 7, "euid": "bad", "contacts": {"email": "a"}}'),
]

EUID_CASES = [
    Case("euid-missing", 40007, 400, body={"contacts": {"email": "a"}}),
    Case("euid-null", 40007, 400, body=_euid(None)),
    Case("euid-empty-string", 40007, 400, body=_euid("")),
    Case("euid-numeric-string", 55108, 400, body=_euid("123")),
    Case("euid-space-string", 55108, 400, body=_euid(" ")),
    Case("euid-float", 55108, 400, body=_raw_euid("1.0")),
    Case("euid-exponent", 55108, 400, body=_raw_euid("1e3")),
    Case("euid-fraction", 55108, 400, body=_raw_euid("1.5")),
    Case("euid-true", 55108, 400, body=_euid(True)),
    Case("euid-false", 55108, 400, body=_euid(False)),
    Case("euid-array", 55108, 400, body=_euid([1])),
    Case("euid-object", 55108, 400, body=_euid({"id": 1})),
    Case("euid-zero", 55108, 400, body=_euid(0)),
    Case("euid-negative", 55108, 400, body=_euid(-1)),
    Case("euid-2^63", 55108, 400, body=_euid(2**63)),
    Case("euid-huge-literal", 55108, 400, body=_raw_euid("9" * 5000)),
    Case("euid-huge-negative", 55108, 400, body=_raw_euid("-" + "9" * 5000)),
    Case("euid-min", 0, 200, body=_euid(1)),
    Case("euid-max", 0, 200, body=_euid(2**63 - 1)),
    Case("euid-missing-before-contacts", 40007, 400, body={"contacts": {}}),
    Case("euid-invalid-before-contacts", 55108, 400, body={"euid": "x", "contacts": None}),
]

CONTACTS_CASES = [
    Case("contacts-missing", 55004, 400, body={"euid": 1}),
    Case("contacts-null", 55004, 400, body={"euid": 1, "contacts": None}),
    Case("contacts-array", 55004, 400, body={"euid": 1, "contacts": [["email", "a"]]}),
    Case("contacts-string", 55004, 400, body={"euid": 1, "contacts": "email=a"}),
    Case("contacts-empty", 55103, 400, body={"euid": 1, "contacts": {}}),
    Case("contacts-101", 55101, 400, body={"euid": 1, "contacts": {f"c{i}": "v" for i in range(101)}}),
    Case("contacts-100-default-types", 55106, 400, body={"euid": 1, "contacts": {f"c{i}": "v" for i in range(100)}}),
    Case("contacts-101-bad-names", 55101, 400, body={"euid": 1, "contacts": {f"-{i}": None for i in range(101)}}),
]

ENTRY_CASES = [
    Case("name-empty", 55102, 400, body=_with(**{"": "a"})),
    Case("name-65", 55102, 400, body=_with(**{"a" * 65: "a"})),
    Case("name-64-unsupported", 55106, 400, body=_with(**{"a" * 64: "a"})),
    Case("name-digit-first", 55102, 400, body=_with(**{"1email": "a"})),
    Case("name-dash", 55102, 400, body=_with(**{"e-mail": "a"})),
    Case("name-space", 55102, 400, body=_with(**{"email ": "a"})),
    Case("name-trailing-newline", 55102, 400, body=_with(**{"email\n": "a"})),
    Case("name-unicode", 55102, 400, body=_with(**{"émail": "a"})),
    Case("name-underscore-unsupported", 55106, 400, body=_with(_x="a")),
    Case("name-unsupported", 55106, 400, body=_with(fax="123")),
    Case("name-case-differs", 55106, 400, body=_with(Email="a")),
    Case("value-number", 55004, 400, body=_with(email=1)),
    Case("value-true", 55004, 400, body=_with(email=True)),
    Case("value-array", 55004, 400, body=_with(email=["a"])),
    Case("value-object", 55004, 400, body=_with(email={"a": "b"})),
    Case("value-null", 55103, 400, body=_with(email=None)),
    Case("value-empty", 55107, 400, body=_with(email="")),
    Case("value-spaces", 55107, 400, body=_with(email="   ")),
    Case("value-unicode-spaces", 55107, 400, body=_with(email="\t\n\u00a0\u2003\u3000\u2028\u0085")),
    Case("value-spaces-over-length", 55107, 400, body=_with(email=" " * 300)),
    Case("value-info-separators-not-space", 0, 200, body=_with(email="\u001c\u001d\u001e\u001f")),
    Case("value-zero-width-not-space", 0, 200, body=_with(email="\u200b\ufeff")),
    Case("value-256", 0, 200, body=_with(email="x" * 256)),
    Case("value-257", 55105, 400, body=_with(email="x" * 257)),
    Case("value-256-astral", 0, 200, body=_with(email="\U0001f600" * 256)),
    Case("value-257-astral", 55105, 400, body=_with(email="\U0001f600" * 257)),
    Case("value-padded-ok", 0, 200, body=_with(email="  a  ")),
    Case("value-not-format-checked", 0, 200, body=_with(email="not an e-mail", mobile_phone="phone?")),
    Case("order-name-before-value", 55102, 400, body=_with(**{"bad-name": None})),
    Case("order-unsupported-before-value", 55106, 400, body=_with(fax=None)),
    Case("order-first-entry-wins-a", 55102, 400, body=_with(**{"e-mail": "a", "email": None})),
    Case("order-first-entry-wins-b", 55103, 400, body=_with(**{"email": None, "e-mail": "a"})),
    Case("order-first-entry-wins-c", 55105, 400, body=_with(email="x" * 257, mobile_phone="")),
    Case("order-first-entry-wins-d", 55107, 400, body=_with(mobile_phone="", email="x" * 257)),
]

ALL_CASES = ROUTE_CASES + AUTH_CASES + BODY_CASES + EUID_CASES + CONTACTS_CASES + ENTRY_CASES
