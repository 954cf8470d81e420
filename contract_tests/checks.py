"""Named response checks. Each takes one observed exchange and raises a ContractDrift.

Users list them with --list-checks and pick some with --checks a,b.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engagelab_kit.contract_tests.case import Case
from engagelab_kit.contract_tests.drift import (
    CodeDrift,
    ConfigError,
    LatencyDrift,
    MessageDrift,
    ShapeDrift,
    StatusDrift,
)
from engagelab_kit.contract_tests.http import HttpResponse
from engagelab_kit.contract_tests.oracle import Oracle

_NO_BODY = object()


@dataclass(frozen=True)
class Observation:
    case: Case
    response: HttpResponse
    oracle: Oracle
    max_latency: float

    @property
    def head(self) -> bool:
        return self.case.request.method == "HEAD"

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


def check(func: Check) -> Check:
    REGISTRY[func.__name__] = func
    return func


@check
def not_server_error(obs: Observation) -> None:
    """No 5xx: the spec reserves them for code -1, which only fault injection produces."""
    if obs.response.status >= 500:
        raise StatusDrift("not_server_error", "status < 500", obs.response.status)


@check
def json_content_type(obs: Observation) -> None:
    """Every answer (HEAD aside) is labelled application/json: never an HTML page."""
    if obs.head:
        return
    media = obs.response.content_type.split(";")[0].strip().lower()
    if media != "application/json":
        raise ShapeDrift("json_content_type", "application/json", obs.response.content_type or None)


@check
def response_shape(obs: Observation) -> None:
    """Body is a JSON object with exactly an integer code and a non-empty string message (HEAD: no body)."""
    if obs.head:
        if obs.response.body:
            raise ShapeDrift("response_shape", "no body for HEAD", obs.response.body[:80])
        return
    body = obs.payload()
    if body is _NO_BODY:
        raise ShapeDrift("response_shape", "a JSON body", obs.response.body[:120])
    if not isinstance(body, dict) or set(body) != {"code", "message"}:
        raise ShapeDrift("response_shape", "object with exactly code and message", body)
    if type(body["code"]) is not int or not isinstance(body["message"], str) or not body["message"]:
        raise ShapeDrift("response_shape", "integer code, non-empty string message", body)


@check
def documented_code(obs: Observation) -> None:
    """The code is one of the spec's emitted codes (55104, for one, is not)."""
    code = obs.code()
    if code is not None and not obs.oracle.documented(code):
        raise CodeDrift("documented_code", "a documented code", code)


@check
def expected_code(obs: Observation) -> None:
    """The code is the one of the first rule the request breaks (any non-zero one on 404/405)."""
    code, want = obs.code(), obs.case.code
    if code is None or obs.head:
        return
    if want is None and code == 0:
        raise CodeDrift("expected_code", "a non-zero code", code)
    if want is not None and code != want:
        raise CodeDrift("expected_code", want, code)


@check
def status_code(obs: Observation) -> None:
    """The HTTP status is the one the spec (or the target profile) gives the expected code or rule."""
    want = obs.case.status
    if want is not None and obs.response.status != want:
        raise StatusDrift("status_code", want, obs.response.status)


@check
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
    if prefixes and not text.startswith(prefixes):
        raise MessageDrift("message", f"{prefixes[0]}...", text)


@check
def latency(obs: Observation) -> None:
    """Each answer arrives within --max-latency seconds."""
    if obs.response.elapsed > obs.max_latency:
        raise LatencyDrift("latency", f"<= {obs.max_latency:.3f}s", f"{obs.response.elapsed:.3f}s")


# Run-level checks, implemented by the runner rather than on one response.
RUN_LEVEL = {
    "idempotency": "A successful request sent twice is answered the same both times.",
    "intermittency": "A drifting request is re-sent once; different answers are reported as intermittent.",
}


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
