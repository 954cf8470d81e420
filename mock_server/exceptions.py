"""Errors that carry their wire code, in the style of moto's exceptions."""

from __future__ import annotations


class ApiError(Exception):
    """A request refused with a documented code; ``detail`` says which rule failed.

    ``http_status`` overrides the code's configured status for the few rules
    that have their own (404, 405, 413). ``rule`` is the id of the spec rule
    (errors.json) that decided, recorded in the journal for client checks.
    """

    def __init__(self, code: int, detail: str = "", http_status: int | None = None, rule: str | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail
        self.http_status = http_status
        self.rule = rule


class ConfigError(Exception):
    """A configuration that cannot be served; the text names the source, key and problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


class DropConnection(Exception):
    """Raised by a fault that must end the connection without a response."""
