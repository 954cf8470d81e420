"""The request mix: what wrk sends, what the mock must answer to each request, and its Lua rendering.

Four valid writes (each to another euid) then one error request, round after
round over every error kind: 80 % valid writes. The same ``Request`` values
are checked against the mock with ``requests`` and written out for wrk, so
the load is exactly what the check saw.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.console import BenchError
from bench.procs import Probe
from engagelab_kit import spec

SPEC = spec.load()
PATH = SPEC.contact_path
EXAMPLE_EUID: int = SPEC.example["body"]["euid"]
EXAMPLE_CONTACTS: dict[str, str] = SPEC.example["body"]["contacts"]
EUID_BASE = 1_000_000
# Many users, but a bounded number: the in-memory store keeps every one, and
# the RSS figure should show the mock under a test session's load, not a leak test.
EUID_POOL = 50_000
VALID_PER_ERROR = 4

LUA_SCRIPT = Path(__file__).with_name("mix.lua")


@dataclass(frozen=True)
class Request:
    name: str
    code: int  # what the mock must answer
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


JSON = ("Content-Type", "application/json")
AUTH = ("Authorization", SPEC.example["authorization"])
GOOD_HEADERS = (JSON, AUTH)
VALID_PREFIX = b'{"euid":'
VALID_SUFFIX = b',"contacts":' + _json(EXAMPLE_CONTACTS) + b"}"

PROBE = Probe(PATH, dict(GOOD_HEADERS), _json(SPEC.example["body"]))


def valid(euid: int) -> Request:
    return Request("valid write", 0, GOOD_HEADERS, VALID_PREFIX + str(euid).encode() + VALID_SUFFIX)


def _body(**fields: Any) -> bytes:
    return _json({"euid": EXAMPLE_EUID, "contacts": EXAMPLE_CONTACTS} | fields)


def _contacts(contacts: dict[str, Any]) -> bytes:
    return _body(contacts=contacts)


def errors() -> tuple[Request, ...]:
    """One request per failure the mix exercises: auth first, then each validation code."""
    key, secret = SPEC.example["api_key"], SPEC.example["api_secret"]
    limits = SPEC.limits
    good = _body()
    return (
        Request("no Authorization", 40050, (JSON,), good),
        Request("wrong secret", 40050, (JSON, ("Authorization", _basic(key, "0" * len(secret)))), good),
        Request("malformed key", 50031, (JSON, ("Authorization", _basic("not-a-project-key", secret))), good),
        Request("euid missing", 40007, GOOD_HEADERS, _json({"contacts": EXAMPLE_CONTACTS})),
        Request("euid a string", 55108, GOOD_HEADERS, _body(euid=str(EXAMPLE_EUID))),
        Request("bad JSON", 55004, GOOD_HEADERS, good[:-7]),
        Request("wrong Content-Type", 55004, (("Content-Type", "text/plain"), AUTH), good),
        Request("contacts empty", 55103, GOOD_HEADERS, _contacts({})),
        Request("too many contacts", 55101, GOOD_HEADERS,
                _contacts({f"c{i}": "x" for i in range(limits.max_contacts + 1)})),
        Request("bad contact name", 55102, GOOD_HEADERS, _contacts({"1st_phone": "x"})),
        Request("unsupported type", 55106, GOOD_HEADERS, _contacts({"fax": "x"})),
        Request("value too long", 55105, GOOD_HEADERS, _contacts({"email": "a" * (limits.max_value_length + 1)})),
        Request("value blank", 55107, GOOD_HEADERS, _contacts({"email": " \t "})),
    )


def schedule() -> list[int]:
    """Slot kinds in order: 0 is a valid write, n > 0 is ``errors()[n - 1]``."""
    slots: list[int] = []
    for kind in range(1, len(errors()) + 1):
        slots.extend([0] * VALID_PER_ERROR + [kind])
    return slots


def valid_share() -> float:
    slots = schedule()
    return slots.count(0) / len(slots)


def _checked() -> Iterator[Request]:
    yield from (valid(EUID_BASE), valid(EUID_BASE + EUID_POOL - 1))
    yield from errors()


def verify(base_url: str) -> None:
    """Every request of the mix gets its expected code from the server at ``base_url``."""
    session = requests.Session()
    session.trust_env = False  # a proxy variable must not reroute loopback traffic
    wrong: list[str] = []
    with session:
        for request in _checked():
            reply = session.post(base_url + PATH, data=request.body, headers=dict(request.headers), timeout=10)
            try:
                code = reply.json().get("code")
            except ValueError:
                code = f"non-JSON {reply.content[:60]!r}"
            if code != request.code:
                wrong.append(f"{request.name}: expected {request.code}, got {code} (HTTP {reply.status_code})")
    if wrong:
        raise BenchError("the request mix is not what it claims:\n  " + "\n  ".join(wrong))


def _lua_string(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    # Decimal escapes for all but plain printable ASCII: exact bytes, whatever the body holds.
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b:03d}" for b in data) + '"'


def _lua_headers(headers: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers) + "}"


def lua_data(example_only: bool = False) -> str:
    """The data file ``mix.lua`` loads: the mix's requests as a Lua table; with ``example_only``,
    the vendor page's example request and nothing else (one euid, no errors)."""
    rows = ",\n    ".join(f"{{headers = {_lua_headers(r.headers)}, body = {_lua_string(r.body)}}}" for r in errors())
    euid_base, euid_pool, slots = (EXAMPLE_EUID, 1, [0]) if example_only else (EUID_BASE, EUID_POOL, schedule())
    return (
        "-- Generated by bench/mix.py for bench/mix.lua; edit mix.py instead.\n"
        "return {\n"
        f"  path = {_lua_string(PATH)},\n"
        f"  valid_headers = {_lua_headers(GOOD_HEADERS)},\n"
        f"  valid_prefix = {_lua_string(VALID_PREFIX)},\n"
        f"  valid_suffix = {_lua_string(VALID_SUFFIX)},\n"
        f"  euid_base = {euid_base},\n"
        f"  euid_pool = {euid_pool},\n"
        f"  errors = {{\n    {rows}\n  }},\n"
        f"  schedule = {{{', '.join(map(str, slots))}}},\n"
        "}\n"
    )


def describe() -> str:
    return (f"{valid_share():.0%} valid writes over {EUID_POOL} euids, "
            f"{len(errors())} error kinds ({', '.join(r.name for r in errors())})")
