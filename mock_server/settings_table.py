"""Every scalar setting, declared once: TOML place, environment variable, flag, default and help.

``settings.py`` builds the defaults, the TOML/environment/flag readers and the
validation from this table; ``cli.py`` builds its flags and ``--help`` from it;
``markdown_table()`` renders the README's settings table (a test keeps the
README in step). Adding a setting means one row here and one typed field in
``Settings`` or ``ServeOptions``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engagelab_kit import spec

_SPEC = spec.load()
ENV_PREFIX = "ENGAGELAB_MOCK_"


def as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # ASCII digits only: str.isdigit() and int() also take superscripts and other scripts' digits.
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def as_float(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+(\.[0-9]*)?\s*", value):
        return float(value)
    raise ValueError(f"expected a number, got {value!r}")


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def as_optional_str(value: object) -> str | None:
    return None if value is None or value == "" else as_str(value)


def as_names(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of names")
    names = tuple(i.strip() for i in items if i.strip())
    if not names:
        raise ValueError("expected at least one name")
    pattern = re.compile(_SPEC.name_pattern)
    bad = [n for n in names if not pattern.fullmatch(n) or len(n) > _SPEC.limits.max_name_length]
    if bad:
        raise ValueError(f"not valid contact-type names: {bad}")
    return names


def as_euids(value: object) -> tuple[int, ...]:
    items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError("expected a list of integers")
    euids = tuple(as_int(v) for v in items)
    if not all(1 <= e <= _SPEC.limits.euid_max for e in euids):
        raise ValueError(f"every euid must be in 1..{_SPEC.limits.euid_max}")
    return euids


def as_pattern(value: object) -> str:
    text = as_str(value)
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return text


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


def as_host(value: object) -> str:
    text = as_str(value).strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.fullmatch(text):
            raise ValueError(f"not an IP address or host name: {text!r}") from None
    return text


def in_range(low: float, high: float, unit: str = "") -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be {low:g}..{high:g}{unit}")
    return check


def at_least(low: int) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value < low:
            raise ValueError(f"must be at least {low}")
    return check


@dataclass(frozen=True)
class Setting:
    """One setting. ``flag`` None: no flag. ``switch``: a flag without a value that sets ``switch``."""

    name: str  # field of Settings or ServeOptions
    section: str  # TOML table
    key: str  # TOML key
    convert: Callable[[Any], Any]
    default: Any
    help: str
    flag: str | None = None
    switch: bool | None = None
    check: Callable[[Any], None] | None = None
    serve: bool = False  # a ServeOptions field (how to serve) rather than a Settings field (what to answer)
    secret: bool = False

    @property
    def env(self) -> str:
        prefix = "CONTROL_" if self.section == "control" and not self.key.startswith("journal") else ""
        return ENV_PREFIX + prefix + self.key.upper()

    @property
    def toml(self) -> str:
        return f"{self.section}.{self.key}"

    def default_text(self) -> str:
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, tuple):
            return ",".join(str(v) for v in self.default) or "none"
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)

    def parse(self, raw: object) -> Any:
        """The validated value, or ValueError saying what is wrong (without naming the source)."""
        value = self.convert(raw)
        if self.check is not None and value is not None:
            self.check(value)
        return value


_L = _SPEC.limits
MIB = 1024 * 1024

SETTINGS: tuple[Setting, ...] = (
    Setting("host", "server", "host", as_host, "127.0.0.1", "address to bind", "--host", serve=True),
    Setting("port", "server", "port", as_int, 8080, "port to listen on; 0 picks a free one", "--port",
            check=in_range(0, 65535), serve=True),
    Setting("workers", "server", "workers", as_int, 1,
            "worker processes; more than 1 share a SQLite store", "--workers", check=at_least(1), serve=True),
    Setting("threads", "server", "threads", as_int, 16,
            "threads per worker for requests that wait (latency, faults) and the control API", "--threads",
            check=at_least(1), serve=True),
    Setting("body_timeout", "server", "body_timeout", as_float, 10.0,
            "seconds a request, once begun, may take to arrive whole; then HTTP 408 with code 55004", "--body-timeout",
            check=in_range(0.1, 3600, " seconds"), serve=True),
    Setting("latency_ms", "server", "latency_ms", as_float, 0.0, "milliseconds added to every business request",
            "--latency-ms", check=in_range(0, 60_000, " milliseconds")),
    Setting("state_file", "server", "state", as_optional_str, None,
            "persist state in this SQLite file (created 0600)", "--state"),
    Setting("max_state_bytes", "server", "max_state_bytes", as_int, 32 * MIB,
            "in-memory store: estimated bytes of users, identities and known euids kept; beyond it the "
            "least recently written are forgotten", "--max-state-bytes", check=at_least(MIB)),
    Setting("contact_types", "rules", "contact_types", as_names, _SPEC.contact_types,
            "supported contact types (comma-separated in the environment and flag)", "--contact-types"),
    Setting("project_key_pattern", "rules", "project_key_pattern", as_pattern, _SPEC.project_key_pattern,
            "regular expression a project key must match (else 50031)"),
    Setting("strict_euid", "rules", "strict_euid", as_bool, False,
            "only configured, seeded or registered euids are valid (else 55108)", "--strict-euid", switch=True),
    Setting("known_euids", "rules", "known_euids", as_euids, (), "euids known from the start (strict mode)"),
    Setting("max_body_bytes", "rules", "max_body_bytes", as_int, _L.max_body_bytes,
            "largest body accepted (larger: 413)", check=at_least(1)),
    Setting("max_json_depth", "rules", "max_json_depth", as_int, _L.max_json_depth,
            "deepest JSON nesting accepted", check=at_least(1)),
    Setting("max_contacts", "rules", "max_contacts", as_int, _L.max_contacts,
            "most entries in contacts (more: 55101)", check=at_least(1)),
    Setting("max_name_length", "rules", "max_name_length", as_int, _L.max_name_length,
            "longest contact-type name (longer: 55102)", check=at_least(1)),
    Setting("max_value_length", "rules", "max_value_length", as_int, _L.max_value_length,
            "longest contact value in code points (longer: 55105)", check=at_least(1)),
    Setting("control_enabled", "control", "enabled", as_bool, True,
            "serve the control API and honour X-Mock-Force-Code", "--no-control", switch=False),
    Setting("control_token", "control", "token", as_optional_str, None,
            "require this X-Mock-Token on the control API (a flag shows in the process list: "
            "prefer the environment or a token file)", "--control-token", secret=True),
    Setting("control_token_file", "control", "token_file", as_optional_str, None,
            "read the control token from this file (first line)", "--control-token-file"),
    Setting("allow_open_control", "control", "allow_open", as_bool, False,
            "allow a non-loopback host with the control API on and no token", "--allow-open-control",
            switch=True, serve=True),
    Setting("journal_size", "control", "journal_size", as_int, 10_000, "most requests kept in the journal",
            "--journal-size", check=at_least(1)),
    Setting("journal_max_bytes", "control", "journal_max_bytes", as_int, 16 * MIB,
            "in-memory journal: estimated bytes kept; beyond it the oldest entries are dropped",
            "--journal-max-bytes", check=at_least(64 * 1024)),
)

BY_NAME = {s.name: s for s in SETTINGS}
BY_TOML = {(s.section, s.key): s for s in SETTINGS}
SECTIONS = tuple(dict.fromkeys(s.section for s in SETTINGS))


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in SETTINGS}


def flag_help(setting: Setting) -> str:
    what = f"switch off: {setting.help}" if setting.switch is False else setting.help
    return f"{what} (default {setting.default_text()}; env {setting.env}; TOML {setting.toml})"


def markdown_table() -> str:
    """The README's table of settings."""
    rows = ["| TOML | environment | flag | default | meaning |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        flag = f"`{s.flag}`" if s.flag else ""
        rows.append(f"| `[{s.section}] {s.key}` | `{s.env}` | {flag} | `{s.default_text()}` | {s.help} |")
    rows.append("| `[statuses]` code = status | | | spec | HTTP status per code, e.g. `55004 = 422` |")
    rows.append("| `[[projects]]` name, key, secret, status | | | 3 demo projects | replaces the built-in "
                "projects; status `active`, `project_deleted` or `datasource_deleted` |")
    return "\n".join(rows) + "\n"


README_START = "<!-- settings table: generated by `make settings-table`, do not edit -->"
README_END = "<!-- end of settings table -->"


def with_table(readme: str) -> str:
    """``readme`` with the text between the settings-table markers replaced by the current table."""
    head, start, rest = readme.partition(README_START)
    _, end, tail = rest.partition(README_END)
    if not start or not end:
        raise ValueError("the README has no settings-table markers")
    return f"{head}{start}\n{markdown_table()}{end}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    for name in sys.argv[1:] or ["README.md"]:
        path = Path(name)
        path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
