"""Failures the suite reports. A drift is the target disagreeing with the spec."""

from __future__ import annotations

from typing import Any


class ContractDrift(AssertionError):
    """The target's observable behaviour differs from the spec.

    Subclasses AssertionError so that pytest and hypothesis treat it as a
    plain test failure (hypothesis then shrinks the request).
    """

    kind = "drift"

    def __init__(self, check: str, expected: Any, observed: Any, detail: str = "", curl: str = "") -> None:
        self.check = check
        self.expected = expected
        self.observed = observed
        self.detail = detail
        self.curl = curl
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [f"[{self.kind}] {self.check}: expected {self.expected!r}, observed {self.observed!r}"]
        if self.detail:
            lines.append(self.detail)
        if self.curl:
            lines.append(f"reproduce: {self.curl}")
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        """The drift as the JSON report keeps it."""
        return {
            "kind": self.kind,
            "check": self.check,
            "expected": _plain(self.expected),
            "observed": _plain(self.observed),
            "detail": self.detail,
        }

    def with_curl(self, curl: str) -> ContractDrift:
        self.curl = curl
        self.args = (self._text(),)
        return self


class StatusDrift(ContractDrift):
    kind = "status"


class CodeDrift(ContractDrift):
    kind = "code"


class ShapeDrift(ContractDrift):
    kind = "shape"


class MessageDrift(ContractDrift):
    kind = "message"


class IdempotencyDrift(ContractDrift):
    kind = "idempotency"


class IntermittentDrift(ContractDrift):
    """Two sends of the same request were answered differently."""

    kind = "intermittent"


class DriftGroup(ContractDrift):
    """Several checks failed on one response; each is kept for the report."""

    kind = "several"

    def __init__(self, drifts: list[ContractDrift]) -> None:
        self.drifts = drifts
        first = drifts[0]
        super().__init__(
            ", ".join(d.check for d in drifts),
            first.expected,
            first.observed,
            "\n".join(d.args[0] for d in drifts[1:]),
            first.curl,
        )


class ConfigError(ValueError):
    """The run configuration or target profile is invalid."""


class BudgetExhausted(RuntimeError):
    """The request budget is spent; remaining checks are reported as not checked."""


def _plain(value: Any) -> Any:
    """JSON-ready: bytes decoded, JSON types kept, anything else as its repr."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int, float, bool, type(None), list, dict)):
        return value
    return repr(value)
