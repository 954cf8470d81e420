"""Typed settings: embedded defaults, then a TOML file, then environment, then CLI flags.

Which settings exist, and their defaults, variables, flags and help, is
declared once in ``settings_table``. Every value is validated on load; every
bad one is reported (all at once) naming the source (file path, environment
variable or flag), the key and the problem, so the server refuses to start
instead of misbehaving later.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engagelab_kit import spec
from engagelab_kit.mock_server.exceptions import ConfigError
from engagelab_kit.mock_server.settings_table import BY_NAME, BY_TOML, SECTIONS, SETTINGS, Setting

ACTIVE, PROJECT_DELETED, DATASOURCE_DELETED = "active", "project_deleted", "datasource_deleted"
STATUSES = (ACTIVE, PROJECT_DELETED, DATASOURCE_DELETED)

_SPEC = spec.load()
_EXAMPLE = _SPEC.example


@dataclass(frozen=True)
class Project:
    name: str
    key: str
    secret: str = field(repr=False)
    status: str = ACTIVE


# Fixed demo projects so that 50034 and 50074 can be produced with zero config.
DEFAULT_PROJECTS = (
    Project("example", _EXAMPLE["api_key"], _EXAMPLE["api_secret"], ACTIVE),
    Project("deleted-project", "dead0000000000000000beef", "deleted-project-secret", PROJECT_DELETED),
    Project("deleted-datasource", "da7a0000000000000000dead", "deleted-datasource-secret", DATASOURCE_DELETED),
)


_D = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """What the mock answers; defaults and documentation come from ``settings_table.SETTINGS``."""

    projects: tuple[Project, ...] = DEFAULT_PROJECTS
    contact_types: tuple[str, ...] = _D["contact_types"]
    project_key_pattern: str = _D["project_key_pattern"]
    max_body_bytes: int = _D["max_body_bytes"]
    max_json_depth: int = _D["max_json_depth"]
    max_contacts: int = _D["max_contacts"]
    max_name_length: int = _D["max_name_length"]
    max_value_length: int = _D["max_value_length"]
    strict_euid: bool = _D["strict_euid"]
    known_euids: tuple[int, ...] = _D["known_euids"]
    statuses: Mapping[int, int] = field(default_factory=dict)
    latency_ms: float = _D["latency_ms"]
    control_enabled: bool = _D["control_enabled"]
    control_token: str | None = field(default=_D["control_token"], repr=False)
    journal_size: int = _D["journal_size"]
    journal_max_bytes: int = _D["journal_max_bytes"]
    max_state_bytes: int = _D["max_state_bytes"]
    state_file: str | None = _D["state_file"]

    def status_for(self, code: int) -> int:
        override = self.statuses.get(code)
        if override is not None:
            return override
        return _SPEC.codes[code].http_status or 500

    def public(self) -> dict[str, Any]:
        """The settings as JSON, with every secret left out."""
        out = dataclasses.asdict(self)
        out["projects"] = [{"name": p.name, "key": p.key, "status": p.status} for p in self.projects]
        out["control_token"] = "<set>" if self.control_token else None
        out["statuses"] = {str(k): v for k, v in self.statuses.items()}
        return out


@dataclass(frozen=True)
class ServeOptions:
    """How to serve it."""

    host: str = _D["host"]
    port: int = _D["port"]
    workers: int = _D["workers"]
    threads: int = _D["threads"]
    body_timeout: float = _D["body_timeout"]
    allow_open_control: bool = _D["allow_open_control"]


# Read while building, then gone: the token it names ends up in Settings.control_token.
BUILD_ONLY = frozenset({"control_token_file"})


class _Problems:
    """Collects every problem of a configuration, so that one run reports them all."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        # setting name -> (source, key) of the value that won, to blame the right place later
        self.origins: dict[str, tuple[str, str]] = {}

    def add(self, source: str, key: str, problem: str) -> None:
        self.errors.append(ConfigError(source, key, problem))

    def parse(self, setting: Setting, source: str, key: str, raw: object, into: dict[str, Any]) -> None:
        try:
            into[setting.name] = setting.parse(raw)
            self.origins[setting.name] = (source, key)
        except (ValueError, TypeError) as exc:
            # A secret's value is never echoed, not even a wrong one.
            self.add(source, key, "not a valid value (not shown: it is a secret)" if setting.secret else str(exc))

    def raise_any(self) -> None:
        if self.errors:
            raise ConfigError.of(self.errors)


def _projects(problems: _Problems, source: str, raw: object) -> tuple[Project, ...] | None:
    if not isinstance(raw, list) or not raw:
        problems.add(source, "projects", "expected a non-empty array of tables [[projects]]")
        return None
    projects = []
    before = len(problems.errors)
    for i, item in enumerate(raw):
        where = f"projects[{i}]"
        if not isinstance(item, dict):
            problems.add(source, where, "expected a table")
            continue
        for unknown in sorted(set(item) - {"name", "key", "secret", "status"}):
            problems.add(source, f"{where}.{unknown}", "unknown key")
        for part in ("key", "secret"):
            if not isinstance(item.get(part), str) or not item[part]:
                problems.add(source, f"{where}.{part}", "required, a non-empty string")
        if ":" in str(item.get("key", "")):
            problems.add(source, f"{where}.key", "must not contain ':'")
        status = item.get("status", ACTIVE)
        if status not in STATUSES:
            problems.add(source, f"{where}.status", f"must be one of {', '.join(STATUSES)}")
        projects.append(Project(str(item.get("name", f"project-{i}")), str(item.get("key")),
                                str(item.get("secret")), str(status)))
    if len(problems.errors) > before:
        return None
    keys = [p.key for p in projects]
    if len(set(keys)) != len(keys):
        problems.add(source, "projects", "two projects share a key")
    if not any(p.status == ACTIVE for p in projects):
        problems.add(source, "projects", "no active project")
    return tuple(projects)


def _statuses(problems: _Problems, source: str, raw: object) -> dict[int, int] | None:
    if not isinstance(raw, dict):
        problems.add(source, "statuses", "expected a table of code = HTTP status")
        return None
    out = {}
    for code_text, status in raw.items():
        where = f"statuses.{code_text}"
        code = int(code_text) if re.fullmatch(r"-?[0-9]{1,6}", code_text) else None
        if code is None:
            problems.add(source, where, "not an integer code")
        elif code not in _SPEC.documented_codes:
            problems.add(source, where, "not a documented code")
        elif isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            problems.add(source, where, "expected an HTTP status 100..599")
        else:
            out[code] = status
    return out


def _read_file(problems: _Problems, path: str | Path) -> dict[str, Any]:
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.add(source, "-", "file not found")
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(source, "-", f"cannot read: {exc}")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.add(source, "-", f"not valid TOML: {exc}")
        return {}
    values: dict[str, Any] = {}
    for section, body in data.items():
        if section == "projects":
            projects = _projects(problems, source, body)
            if projects is not None:
                values["projects"] = projects
        elif section == "statuses":
            statuses = _statuses(problems, source, body)
            if statuses is not None:
                values["statuses"] = statuses
        elif section in SECTIONS and isinstance(body, dict):
            for key, raw in body.items():
                setting = BY_TOML.get((section, key))
                if setting is None:
                    problems.add(source, f"{section}.{key}", "unknown key")
                else:
                    problems.parse(setting, source, f"{section}.{key}", raw, values)
        else:
            problems.add(source, section, "unknown section")
    return values


def _read_env(problems: _Problems, environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.env in environ:
            problems.parse(setting, setting.env, setting.env, environ[setting.env], values)
    return values


def _read_flags(problems: _Problems, flags: Mapping[str, object]) -> dict[str, Any]:
    """Values given as CLI flags, by setting name (None means not given)."""
    values: dict[str, Any] = {}
    for name, raw in flags.items():
        if raw is not None:
            setting = BY_NAME[name]
            problems.parse(setting, setting.flag or name, setting.flag or name, raw, values)
    return values


def _read_token_file(problems: _Problems, path: str) -> str | None:
    where = problems.origins["control_token_file"]
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(*where, f"cannot read the token file {path}: {getattr(exc, 'strerror', None) or exc}")
        return None
    if not token:
        problems.add(*where, f"the token file {path} is empty")
        return None
    return token


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_problem(host: str) -> str | None:
    """Why ``host`` cannot be bound on this machine, or None. (Port 0: the port is not in question.)"""
    try:
        infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host}: {exc.strerror or exc}"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            return f"{host} is not an address of this machine: {exc.strerror or exc}"
    return None


def _cross_checks(problems: _Problems, values: dict[str, Any], probe_host: bool) -> None:
    token_file = values.pop("control_token_file", None)
    if token_file is not None:
        if values.get("control_token"):
            problems.add(*problems.origins["control_token_file"],
                         "set either a control token or a token file, not both")
        else:
            values["control_token"] = _read_token_file(problems, token_file)
    host = values.get("host", _D["host"])
    where = problems.origins.get("host", ("defaults", "server.host"))
    problem = _host_problem(host) if probe_host else None
    if problem:
        problems.add(*where, problem)
    if (values.get("control_enabled", True) and not values.get("control_token")
            and not values.get("allow_open_control") and not is_loopback(host)):
        problems.add(
            *where,
            f"{host} is not a loopback address and the control API is on without a token: anyone who can "
            "reach it could reset state or force codes. Set a control token (ENGAGELAB_MOCK_CONTROL_TOKEN "
            "or --control-token-file), or --no-control, or --allow-open-control to accept the risk",
        )


def build(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
    probe_host: bool = False,
) -> tuple[Settings, ServeOptions]:
    """Merge defaults < file < environment < flags into validated settings.

    Every problem found is reported in one ConfigError (``problems``), not just the first.
    ``probe_host``: also check that the host is an address of this machine (binds port 0 on it).
    """
    problems = _Problems()
    values: dict[str, Any] = {}
    if config_file:
        values.update(_read_file(problems, config_file))
    values.update(_read_env(problems, environ or {}))
    values.update(_read_flags(problems, flags or {}))
    _cross_checks(problems, values, probe_host)
    problems.raise_any()
    serve_names = {f.name for f in dataclasses.fields(ServeOptions)}
    serve = ServeOptions(**{k: v for k, v in values.items() if k in serve_names})
    settings = Settings(**{k: v for k, v in values.items() if k not in serve_names})
    return settings, serve
