"""The plain request and response the rules work on; no web framework in here."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

JSON_TYPE = "application/json"
FORCE_HEADER = "x-mock-force-code"
TOKEN_HEADER = "x-mock-token"
# Credential-bearing headers: never stored, logged or shown as received.
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", TOKEN_HEADER, "cookie", "set-cookie"})
# Other headers whose names say they carry a credential (X-Api-Key, X-Auth-Token, X-Session-Id, ...).
CREDENTIAL_NAME_PARTS = ("auth", "token", "secret", "cookie", "api-key", "apikey", "password", "session")


@functools.lru_cache(maxsize=1024)  # names repeat from request to request
def is_credential_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in REDACTED_HEADERS or any(part in lowered for part in CREDENTIAL_NAME_PARTS)


@dataclass(frozen=True, slots=True, eq=False)
class Answer:
    """What goes on the wire. Shared between requests when the inputs repeat: adapters must not
    change ``headers`` (they copy it to add their own)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    drop: bool = False  # a drop fault: cut the connection mid-response


@dataclass(frozen=True, slots=True)
class Verdict:
    """An answer as decided: the payload for the journal and ``handle``, the bytes for the wire.
    Shared between requests when the inputs repeat: never changed once made."""

    status: int
    code: int
    message: str
    rule: str | None
    payload: Mapping[str, Any]
    answer: Answer
    omit_body: bool = False
    steered: str | None = None


def verdict(status: int, payload: dict[str, Any], rule: str | None = None, extra: tuple[tuple[str, str], ...] = (),
            omit_body: bool = False, steered: str | None = None) -> Verdict:
    """A verdict with its answer's bytes made now, once: memoized verdicts are sent as they are."""
    body = b"" if omit_body else orjson.dumps(payload)
    answer = Answer(status, [("Content-Type", JSON_TYPE), *extra], body)
    return Verdict(status, payload["code"], payload["message"], rule, payload, answer, omit_body, steered)


# Not frozen: a frozen dataclass costs ~0.7 µs more to build, once per served request.
@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str
    # Lower-case header names; the adapter folds repeats as HTTP allows.
    headers: dict[str, str]
    body: bytes = b""
    query: str = ""
    # The headers as the journal keeps them (store.journal_headers), when the adapter has them
    # already: a known head's are the same every time it comes (heads.KnownHead).
    journal_headers: tuple[dict[str, str], bool, int] | None = field(default=None, compare=False)


@dataclass
class HttpResponse:
    status: int
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # HEAD answers carry no body, whatever the payload says.
    omit_body: bool = False
    # Filled in by the rules for the journal: which euid and project the request named.
    euid: int | None = None
    project: str | None = None
    # The spec rule that refused the request; or, when a fault or X-Mock-Force-Code decided the
    # answer rather than the rules, which one.
    rule: str | None = None
    steered: str | None = None

    @property
    def code(self) -> int | None:
        code = self.payload.get("code")
        return code if isinstance(code, int) else None
