"""Fuzz inputs: requests a hostile or clumsy client might send, valid HTTP framing, anything inside.

Seeded, so a figure can be reproduced. Secret markers ride in credential headers
so that the secret scan has something to look for.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from typing import Any

from engagelab_kit import spec
from reliability.server import API_KEY, API_SECRET, AUTH

_SPEC = spec.load()
CONTACT, REGISTER = _SPEC.contact_path, _SPEC.register_path
FORCE_HEADER = "X-Mock-Force-Code"
# Markers the secret scan looks for in every output channel.
MARKERS = {
    "proxy-authorization": "Basic " + base64.b64encode(b"proxy-user:proxy-marker-7f3a").decode(),
    "cookie": "session=cookie-marker-91bc",
    "x-api-key": "apikey-marker-55de",
}
SCAN_NEEDLES = (API_SECRET, AUTH[6:], "proxy-marker-7f3a", base64.b64encode(b"proxy-user:proxy-marker-7f3a").decode(),
                "cookie-marker-91bc", "apikey-marker-55de")


@dataclass(frozen=True)
class Input:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    forced_internal: bool = False  # carries X-Mock-Force-Code: -1, so a 500 is expected

    def http(self, host: str, token: str | None) -> bytes:
        headers = {"Host": host, **self.headers, "Content-Length": str(len(self.body))}
        if token and (FORCE_HEADER in self.headers or self.path.startswith("/__mock")):
            headers["X-Mock-Token"] = token
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return f"{self.method} {self.path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + self.body


_WEIRD = ["", " ", "\u3000", "\u001c", "\t\n", "\ud83d\ude00", "é", "\u0000", "\\", '"', "\u2028", "x" * 257,
          "\u00b9", "٣", "0", "-1", "1e3", "NaN"]
_NAMES = ["email", "mobile_phone", "", "1email", "e-mail", "email\n", "x" * 65, "fax", "Email", "_", "a" * 64]


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 2**63 - 1, 2**63, 10**30, rng.randrange(1, 10**12)])
    if kind == 3:
        return rng.choice([0.5, 1.0, -0.0, 1e308])
    if kind == 4:
        return rng.choice(_WEIRD) + "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(6)))
    if kind in (5, 6):
        return [_json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(_NAMES): _json_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _contacts(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.6:
        return {rng.choice(_NAMES): rng.choice([f"v{rng.randrange(10**6)}", *_WEIRD, None, 5, [], {}])
                for _ in range(rng.randrange(1, 4))}
    if roll < 0.7:
        return {f"n{i}": "v" for i in range(rng.choice([100, 101]))}
    return _json_value(rng)


def _valid_body(rng: random.Random) -> dict[str, Any]:
    return {"euid": rng.randrange(1, 10**9), "contacts": {"email": f"u{rng.randrange(10**6)}@example.com"}}


def _body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.25:
        return json.dumps(_valid_body(rng)).encode()
    if roll < 0.5:
        euid = rng.choice([rng.randrange(1, 10**9), _json_value(rng)])
        data = {"euid": euid, "contacts": _contacts(rng)}
        return json.dumps(data, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    if roll < 0.7:  # byte-level damage to a valid body
        raw = bytearray(json.dumps(_valid_body(rng)).encode())
        for _ in range(rng.randrange(1, 4)):
            op, at = rng.randrange(3), rng.randrange(len(raw))
            if op == 0:
                raw[at] = rng.randrange(256)
            elif op == 1:
                raw.insert(at, rng.randrange(256))
            else:
                del raw[at]
        return bytes(raw)
    if roll < 0.85:
        return rng.choice(_TEXTS)
    if roll < 0.95:
        return json.dumps({"identity_name": rng.choice(["user_id", "anonymous_id", "x", 5]),
                           "identity_values": [_json_value(rng) for _ in range(rng.randrange(3))]}).encode()
    return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))


_TEXTS = [
    b"", b"{}", b"[]", b"null", b'"x"', b"\xef\xbb\xbf{}", b'{"euid": NaN}', b'{"euid": 1e3, "contacts": {}}',
    b'{"x": "\\ud800", "x": 1, "euid": 1, "contacts": {"email": "a"}}',
    b'{"x": ' + b"[" * 32 + b"]" * 32 + b', "x": 1, "euid": 1, "contacts": {"email": "a"}}',
    b'{"euid": ' + b"9" * 5000 + b', "contacts": {"email": "a"}}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"euid": 1, "contacts": {"email": "a\x01"}}',
    b'{"euid": 1, "euid": "x", "contacts": {"email": "a"}}',
    b'{"euid": 1, "contacts": {"email": "' + "\u001c".encode() + b'"}}',
    b"{" * 40 + b"}" * 40,
    b'{"euid": 1, "contacts": {"email": "\xed\xa0\x80"}}',
]


def _auth(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.6:
        return AUTH
    choices = [None, "", "Basic", "Bearer x", "basic  " + AUTH[6:], "Basic " + AUTH[6:-2], "Basic !!!!",
               "Basic " + base64.b64encode(f"{API_KEY}:wrong".encode()).decode(),
               "Basic " + base64.b64encode(b"short:secret").decode(),
               "Basic " + base64.b64encode(b"dead0000000000000000beef:deleted-project-secret").decode(),
               "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
               "Basic " + base64.b64encode(f"{API_KEY}{API_SECRET}".encode()).decode()]
    return rng.choice(choices)


def _content_type(rng: random.Random) -> str | None:
    return rng.choice(["application/json"] * 6 + [None, "", "text/plain", "application/json; charset=latin-1",
                                                  "Application/JSON; Charset=UTF-8", "application/problem+json",
                                                  "application/json;charset", "multipart/form-data"])


_PATHS = [CONTACT] * 8 + [REGISTER] * 2 + ["/", "/v1/user/contact/", "/V1/user/contact", "//v1/user/contact",
                                           "/v1/user/./contact", "/v1/user/contact;x", "/v1/user/%63ontact",
                                           "/v1%2Fuser%2Fcontact", "/nope", "/v1/user/contact?x=1&y", "/%ff",
                                           "/v1/user/contact/../contact"]
_METHODS = ["POST"] * 12 + ["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]
_CONTROL = ["GET /__mock/health", "GET /__mock/config", "GET /__mock/journal?limit=", "GET /__mock/journal?euid=",
            "GET /__mock/users/", "PUT /__mock/users/", "POST /__mock/users", "POST /__mock/euids",
            "OPTIONS /__mock/journal", "DELETE /__mock/faults/", "PATCH /__mock/health", "GET /__mock/nope",
            "GET /__mock/openapi.json"]


def _token(rng: random.Random) -> str:
    return rng.choice(["1", "%C2%B9", "%C2%B2", "-5", "abc", "99999999999999999999999", "0", "%00", "1.5", ""])


def business(rng: random.Random) -> Input:
    headers: dict[str, str] = {}
    auth, ctype = _auth(rng), _content_type(rng)
    if auth is not None:
        headers["Authorization"] = auth
    if ctype is not None:
        headers["Content-Type"] = ctype
    if rng.random() < 0.1:
        headers.update({k.title(): v for k, v in MARKERS.items()})
    if rng.random() < 0.05:
        headers["X-Filler"] = "f" * rng.choice([100, 4000])
    forced = False
    if rng.random() < 0.03:
        value = rng.choice(["-1", "55105", "0", "55104", "abc", "¹", " 40050 "])
        headers[FORCE_HEADER] = value
        forced = value == "-1"
    path = rng.choice(_PATHS)
    return Input(rng.choice(_METHODS), path, headers, _body(rng), forced)


def control(rng: random.Random) -> Input:
    method, path = rng.choice(_CONTROL).split(" ")
    if path.endswith(("=", "/")):
        path += _token(rng)
    body = json.dumps(rng.choice([
        {"contacts": _contacts(rng)}, {"contact": {"email": "x"}}, {"users": [{"euid": _json_value(rng)}]},
        {"euids": [_json_value(rng)]}, _json_value(rng), {"contacts": {"email": "a"}, "project": _json_value(rng)},
    ])).encode() if rng.random() < 0.8 else rng.choice(_TEXTS)
    return Input(method, path, {"Content-Type": "application/json"}, body)


def generate(rng: random.Random) -> Input:
    return control(rng) if rng.random() < 0.05 else business(rng)
