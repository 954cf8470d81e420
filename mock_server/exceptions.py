"""Errors that carry their wire code, in the style of moto's exceptions."""

from __future__ import annotations

from collections.abc import Sequence


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


def _where(source: str, key: str) -> str:
    # A variable or a flag is its own key: "--port: --port: ..." says nothing twice over.
    return source if key in ("", "-", source) else f"{source}: {key}"


class ConfigError(Exception):
    """A configuration that cannot be served; the text names the source, key and problem.

    One error may carry several problems (``problems``), so that a check reports
    everything wrong at once; ``source``/``key``/``problem`` are the first one's.
    """

    def __init__(self, source: str, key: str, problem: str,
                 more: Sequence[tuple[str, str, str]] = ()) -> None:
        self.problems: list[tuple[str, str, str]] = [(source, key, problem), *more]
        super().__init__("\n".join(f"{_where(s, k)}: {p}" for s, k, p in self.problems))
        self.source = source
        self.key = key
        self.problem = problem

    @classmethod
    def of(cls, errors: Sequence[ConfigError]) -> ConfigError:
        """One error holding every problem of ``errors`` (at least one)."""
        problems = [p for error in errors for p in error.problems]
        return cls(*problems[0], more=problems[1:])


class DropConnection(Exception):
    """Raised by a fault that must end the connection without a response."""
