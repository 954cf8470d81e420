"""Named response checks. Each takes one observed exchange and raises a ContractDrift.

Users list them with --list-checks and pick some with --checks a,b.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engagelab_kit.contract_tests.case import Case
from engagelab_kit.contract_tests.drift import (
    CodeDrift,
    ConfigError,
    MessageDrift,
    ShapeDrift,
    StatusDrift,
)
from engagelab_kit.contract_tests.http import HttpResponse, header_text
from engagelab_kit.contract_tests.oracle import Oracle

_NO_BODY = object()


@dataclass(frozen=True)
class Observation:
    case: Case
    response: HttpResponse
    oracle: Oracle
    max_latency: float
    notes: list[str] = field(default_factory=list)  # what the contract leaves open, seen on the way

    @property
    def head(self) -> bool:
        return self.case.request.method == "HEAD"

    def expected(self) -> tuple[int | None, int | None]:
        """(code, status) the case accepts; of several allowed answers, the one the status points at."""
        for code, status in self.case.accepted():
            if status == self.response.status:
                return code, status
        return self.case.code, self.case.status

    def payload(self) -> Any:
        """The parsed body, or _NO_BODY when it is not strict JSON."""
        try:
            return self.response.json()
        except ValueError:
            return _NO_BODY

    def code(self) -> int | None:
        body = self.payload()
        if isinstance(body, dict) and type(body.get("code")) is int:
            return int(body["code"])
        return None


Check = Callable[[Observation], None]
REGISTRY: dict[str, Check] = {}
# The contract rule (traceability id) each check verifies; None: the rule of the case it runs on.
CITES: dict[str, str | None] = {}


def check(cites: str | None) -> Callable[[Check], Check]:
    def register(func: Check) -> Check:
        REGISTRY[func.__name__] = func
        CITES[func.__name__] = cites
        return func

    return register


@check("response.no_internal_error")
def not_server_error(obs: Observation) -> None:
    """No 5xx: the spec reserves them for code -1, which only fault injection produces."""
    if obs.response.status >= 500:
        raise StatusDrift("not_server_error", "status < 500", obs.response.status)


@check("response.shape")
def json_content_type(obs: Observation) -> None:
    """Every answer (HEAD aside) is labelled application/json: never an HTML page."""
    if obs.head:
        return
    media = obs.response.content_type.split(";")[0].strip().lower()
    if media != "application/json":
        raise ShapeDrift("json_content_type", "application/json", obs.response.content_type or None)


@check("response.shape")
def response_shape(obs: Observation) -> None:
    """Body is a JSON object with exactly an integer code and a non-empty string message (HEAD: no body)."""
    if obs.head:
        if obs.response.body and obs.case.rule == "route.method":
            raise ShapeDrift("response_shape", "no body for HEAD", obs.response.body[:80])
        if obs.response.body:
            obs.notes.append("HEAD answered with a body (the contract says so only for the endpoint's 405)")
        return
    body = obs.payload()
    if body is _NO_BODY:
        raise ShapeDrift("response_shape", "a JSON body", obs.response.body[:120])
    if not isinstance(body, dict) or set(body) != {"code", "message"}:
        raise ShapeDrift("response_shape", "object with exactly code and message", body)
    if type(body["code"]) is not int or not isinstance(body["message"], str) or not body["message"]:
        raise ShapeDrift("response_shape", "integer code, non-empty string message", body)


@check("response.no_55104")
def documented_code(obs: Observation) -> None:
    """The code is one of the spec's emitted codes; on 404/405 any non-zero code but a never-emitted one."""
    code = obs.code()
    if code is None or obs.oracle.documented(code):
        return
    if obs.expected()[0] is None and not obs.oracle.never_emitted(code):
        obs.notes.append(
            f"HTTP {obs.response.status} answered with code {code}, which the error table does not "
            "list (allowed: the contract asks only for a non-zero code there)"
        )
        return
    raise CodeDrift("documented_code", "a documented code", code)


@check(None)
def expected_code(obs: Observation) -> None:
    """The code is the one of the first rule the request breaks (any non-zero one on 404/405)."""
    code, want = obs.code(), obs.expected()[0]
    if code is None or obs.head:
        return
    if want is None and code == 0:
        raise CodeDrift("expected_code", "a non-zero code", code)
    if want is not None and code != want:
        raise CodeDrift("expected_code", want, code)


@check("response.status")
def status_code(obs: Observation) -> None:
    """The HTTP status is the one the spec (or the target profile) gives the expected code or rule."""
    code, want = obs.expected()
    if want is not None and obs.response.status != want:
        for_code = f" for code {code}" if code is not None else ""
        raise StatusDrift("status_code", f"HTTP {want}{for_code}", f"HTTP {obs.response.status}")


@check("route.no_cors")
def no_cors(obs: Observation) -> None:
    """No Access-Control-* header on any answer: the API is server-to-server, without CORS."""
    cors = sorted(name for name in obs.response.headers if name.lower().startswith("access-control-"))
    if cors:
        raise ShapeDrift("no_cors", "no Access-Control-* headers", ", ".join(cors))


# Shorter secrets could occur in a message by chance ("x" in any text).
_MIN_ECHO = 6
# Headers that frame an answer and carry no text of the request's.
_FRAMING_HEADERS = frozenset({"date", "content-length", "connection", "allow"})


def _vocabulary(oracle: Oracle) -> set[str]:
    """The texts the spec fixes in answers: the success message, every code's messages, the JSON type."""
    spec = oracle.spec
    texts = {spec.success_message, "application/json"}
    for entry in spec.codes.values():
        texts.update((entry.description, entry.description.rstrip("."), *entry.published_messages))
    return {text for text in texts if text}


@check("auth.no_echo")
def no_secret_echo(obs: Observation) -> None:
    """The secret the request sent (or its Basic token) never comes back, in the body or a header."""
    key, token, secret = _sent_credentials(obs.case.request.header("Authorization"))
    headers = (value for name, value in obs.response.headers.items() if name.lower() not in _FRAMING_HEADERS)
    answer = obs.response.body.decode("utf-8", "replace") + "\n" + "\n".join(headers)
    if key:
        answer = answer.replace(key, "")  # a message may name the key; a secret inside the key is no echo
    sent_body = obs.case.request.body.decode("utf-8", "replace")
    vocabulary = sorted(_vocabulary(obs.oracle), key=len, reverse=True)
    for label, text in (("the secret sent", secret), ("the Basic token sent", token)):
        # Short texts, or texts the body also carries, could come back for other reasons.
        if len(text) < _MIN_ECHO or text in sent_body or text not in answer:
            continue
        # So could a text that is part of what every answer may carry ("applic" of application/json,
        # "success" itself): those parts are set aside, unless the text holds one and more besides.
        rest = answer
        for fixed in vocabulary:
            if fixed == text or fixed not in text:
                rest = rest.replace(fixed, "\0")
        if text in rest:
            raise ShapeDrift("no_secret_echo", "the secret never echoed", f"the answer contains {label}")


def _sent_credentials(header: object) -> tuple[str, str, str]:
    """(key, token, secret) of a Basic Authorization value; empty strings where there is none."""
    if not isinstance(header, (str, bytes)):
        return "", "", ""
    token = header_text(header).strip().rpartition(" ")[2]
    try:
        decoded = base64.b64decode(token, validate=False).decode("utf-8")
    except (binascii.Error, ValueError):
        return "", token, ""
    key, _, secret = decoded.partition(":")
    return key, token, secret


@check("response.shape")
def message(obs: Observation) -> None:
    """Code 0 says exactly "success"; failures start with their code's description (or a published message)."""
    body, code = obs.payload(), obs.code()
    if code is None or not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return
    text: str = body["message"]
    if code == 0:
        if text != obs.oracle.spec.success_message:
            raise MessageDrift("message", obs.oracle.spec.success_message, text)
        return
    prefixes = obs.oracle.message_prefixes(code)
    if obs.expected()[0] is None:
        return  # 404/405: the contract fixes no code there, so no description either
    if prefixes and not text.startswith(prefixes):
        # The observed side names the code, not the text: details vary per request, the cause does not.
        raise MessageDrift("message", f"{prefixes[0]}...", f"another text for code {code}", f"message: {text}")


@check(None)
def latency(obs: Observation) -> None:
    """Answers slower than --max-latency seconds are noted (the contract promises no speed: never drift)."""
    if obs.response.elapsed > obs.max_latency:
        obs.notes.append(f"answer took {obs.response.elapsed:.3f} s (over --max-latency {obs.max_latency:g} s)")


# Run-level checks, implemented by the runner rather than on one response.
RUN_LEVEL = {
    "idempotency": "A successful request sent twice is answered the same both times.",
    "intermittency": "A drifting request is re-sent once; different answers are reported as intermittent.",
    "wrong_secret_alike": "Wrong secrets for keys of active, deleted and data-source-deleted projects get the "
    "same answer (status, code, message, header names).",
}
CITES.update({"idempotency": "success", "intermittency": None, "wrong_secret_alike": "auth.status_hidden"})


def describe() -> dict[str, str]:
    out = {name: (func.__doc__ or "").strip() for name, func in REGISTRY.items()}
    out.update(RUN_LEVEL)
    return out


def select(names: tuple[str, ...]) -> tuple[str, ...]:
    """Validated selection; empty means all."""
    known = describe()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown checks {unknown}; known: {', '.join(known)}")
    return names or tuple(known)
