"""Typed settings: embedded defaults, then a TOML file, then environment, then CLI flags.

Every value is validated on load; a bad one raises ``ConfigError`` naming the
source (file path, environment variable or flag), the key and the problem, so
the server refuses to start instead of misbehaving later.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engagelab_kit import spec
from engagelab_kit.mock_server.exceptions import ConfigError

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


@dataclass(frozen=True)
class Settings:
    projects: tuple[Project, ...] = DEFAULT_PROJECTS
    contact_types: tuple[str, ...] = _SPEC.contact_types
    project_key_pattern: str = _SPEC.project_key_pattern
    max_body_bytes: int = _SPEC.limits.max_body_bytes
    max_json_depth: int = _SPEC.limits.max_json_depth
    max_contacts: int = _SPEC.limits.max_contacts
    max_name_length: int = _SPEC.limits.max_name_length
    max_value_length: int = _SPEC.limits.max_value_length
    strict_euid: bool = False
    known_euids: tuple[int, ...] = ()
    statuses: Mapping[int, int] = field(default_factory=dict)
    latency_ms: float = 0.0
    control_enabled: bool = True
    control_token: str | None = field(default=None, repr=False)
    journal_size: int = 10_000
    state_file: str | None = None

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
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    threads: int = 16  # per worker, for requests that wait (latency, faults) and the control API
    body_timeout: float = 10.0  # seconds a request's body may take to arrive


# (toml section, key) -> Settings/ServeOptions field. Sections keep the file readable.
_FIELDS: dict[tuple[str, str], str] = {
    ("rules", "contact_types"): "contact_types",
    ("rules", "project_key_pattern"): "project_key_pattern",
    ("rules", "max_body_bytes"): "max_body_bytes",
    ("rules", "max_json_depth"): "max_json_depth",
    ("rules", "max_contacts"): "max_contacts",
    ("rules", "max_name_length"): "max_name_length",
    ("rules", "max_value_length"): "max_value_length",
    ("rules", "strict_euid"): "strict_euid",
    ("rules", "known_euids"): "known_euids",
    ("server", "latency_ms"): "latency_ms",
    ("server", "state"): "state_file",
    ("server", "host"): "host",
    ("server", "port"): "port",
    ("server", "workers"): "workers",
    ("server", "threads"): "threads",
    ("server", "body_timeout"): "body_timeout",
    ("control", "enabled"): "control_enabled",
    ("control", "token"): "control_token",
    ("control", "journal_size"): "journal_size",
}

# Environment variables, ENGAGELAB_MOCK_<NAME>, for the settings people change most.
ENV_FIELDS = {
    "HOST": "host",
    "PORT": "port",
    "WORKERS": "workers",
    "THREADS": "threads",
    "BODY_TIMEOUT": "body_timeout",
    "STATE": "state_file",
    "LATENCY_MS": "latency_ms",
    "STRICT_EUID": "strict_euid",
    "CONTACT_TYPES": "contact_types",
    "CONTROL_TOKEN": "control_token",
    "CONTROL_ENABLED": "control_enabled",
}


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _as_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _as_names(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of names")
    names = tuple(i.strip() for i in items if i.strip())
    if not names:
        raise ValueError("expected at least one name")
    return names


def _as_optional_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _as_euids(value: object) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of integers")
    return tuple(_as_int(v) for v in value)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "contact_types": _as_names,
    "project_key_pattern": str,
    "max_body_bytes": _as_int,
    "max_json_depth": _as_int,
    "max_contacts": _as_int,
    "max_name_length": _as_int,
    "max_value_length": _as_int,
    "strict_euid": _as_bool,
    "known_euids": _as_euids,
    "latency_ms": _as_float,
    "state_file": _as_optional_str,
    "host": str,
    "port": _as_int,
    "workers": _as_int,
    "threads": _as_int,
    "body_timeout": _as_float,
    "control_enabled": _as_bool,
    "control_token": _as_optional_str,
    "journal_size": _as_int,
}

_POSITIVE = ("max_body_bytes", "max_json_depth", "max_contacts", "max_name_length",
             "max_value_length", "workers", "threads", "journal_size")


def _check_value(name: str, value: Any) -> None:
    if name in _POSITIVE and value < 1:
        raise ValueError("must be at least 1")
    if name == "port" and not 0 <= value <= 65535:
        raise ValueError("must be a port number 0..65535")
    if name == "latency_ms" and not 0 <= value <= 60_000:
        raise ValueError("must be 0..60000 milliseconds")
    if name == "body_timeout" and not 0.1 <= value <= 3600:
        raise ValueError("must be 0.1..3600 seconds")
    if name == "project_key_pattern":
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
    if name == "known_euids" and not all(1 <= e <= _SPEC.limits.euid_max for e in value):
        raise ValueError("every euid must be in 1..9223372036854775807")
    if name == "contact_types":
        pattern = re.compile(_SPEC.name_pattern)
        bad = [n for n in value if not pattern.fullmatch(n) or len(n) > _SPEC.limits.max_name_length]
        if bad:
            raise ValueError(f"not valid contact-type names: {bad}")


def _convert(source: str, key: str, name: str, raw: object) -> Any:
    try:
        value = _CONVERT[name](raw)
        _check_value(name, value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(source, key, str(exc)) from None
    return value


def _projects(source: str, raw: object) -> tuple[Project, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(source, "projects", "expected a non-empty array of tables [[projects]]")
    projects = []
    for i, item in enumerate(raw):
        where = f"projects[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(source, where, "expected a table")
        unknown = set(item) - {"name", "key", "secret", "status"}
        if unknown:
            raise ConfigError(source, f"{where}.{sorted(unknown)[0]}", "unknown key")
        for part in ("key", "secret"):
            if not isinstance(item.get(part), str) or not item[part]:
                raise ConfigError(source, f"{where}.{part}", "required, a non-empty string")
        if ":" in item["key"]:
            raise ConfigError(source, f"{where}.key", "must not contain ':'")
        status = item.get("status", ACTIVE)
        if status not in STATUSES:
            raise ConfigError(source, f"{where}.status", f"must be one of {', '.join(STATUSES)}")
        projects.append(Project(str(item.get("name", f"project-{i}")), item["key"], item["secret"], status))
    keys = [p.key for p in projects]
    if len(set(keys)) != len(keys):
        raise ConfigError(source, "projects", "two projects share a key")
    return tuple(projects)


def _statuses(source: str, raw: object) -> dict[int, int]:
    if not isinstance(raw, dict):
        raise ConfigError(source, "statuses", "expected a table of code = HTTP status")
    out = {}
    for code_text, status in raw.items():
        try:
            code = int(code_text)
        except ValueError:
            raise ConfigError(source, f"statuses.{code_text}", "not an integer code") from None
        if code not in _SPEC.documented_codes:
            raise ConfigError(source, f"statuses.{code_text}", "not a documented code")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigError(source, f"statuses.{code_text}", "expected an HTTP status 100..599")
        out[code] = status
    return out


def read_file(path: str | Path) -> dict[str, Any]:
    """Field values from a TOML file (only the keys it sets)."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, "-", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "-", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "-", f"not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, body in data.items():
        if section == "projects":
            values["projects"] = _projects(source, body)
        elif section == "statuses":
            values["statuses"] = _statuses(source, body)
        elif isinstance(body, dict) and any(s == section for s, _ in _FIELDS):
            for key, raw in body.items():
                name = _FIELDS.get((section, key))
                if name is None:
                    raise ConfigError(source, f"{section}.{key}", "unknown key")
                values[name] = _convert(source, f"{section}.{key}", name, raw)
        else:
            raise ConfigError(source, section, "unknown section")
    return values


def read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for suffix, name in ENV_FIELDS.items():
        var = f"ENGAGELAB_MOCK_{suffix}"
        if var in environ:
            values[name] = _convert(var, var, name, environ[var])
    return values


def read_flags(flags: Mapping[str, object]) -> dict[str, Any]:
    """Values given as CLI flags (None means not given)."""
    return {
        name: _convert(f"--{name.replace('_', '-')}", f"--{name.replace('_', '-')}", name, raw)
        for name, raw in flags.items()
        if raw is not None
    }


def build(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
) -> tuple[Settings, ServeOptions]:
    """Merge defaults < file < environment < flags into validated settings."""
    values: dict[str, Any] = {}
    if config_file:
        values.update(read_file(config_file))
    values.update(read_env(environ or {}))
    values.update(read_flags(flags or {}))
    serve_names = {f.name for f in dataclasses.fields(ServeOptions)}
    serve = ServeOptions(**{k: v for k, v in values.items() if k in serve_names})
    settings = Settings(**{k: v for k, v in values.items() if k not in serve_names})
    if not any(p.status == ACTIVE for p in settings.projects):
        raise ConfigError(str(config_file or "settings"), "projects", "no active project")
    return settings, serve


def dump(settings: Settings) -> str:
    """Settings as JSON, secrets included: only for handing them to our own worker processes."""
    data = dataclasses.asdict(settings)
    data["statuses"] = {str(k): v for k, v in settings.statuses.items()}
    return json.dumps(data)


def restore(text: str) -> Settings:
    data = json.loads(text)
    data["projects"] = tuple(Project(**p) for p in data["projects"])
    data["statuses"] = {int(k): v for k, v in data["statuses"].items()}
    data["contact_types"] = tuple(data["contact_types"])
    data["known_euids"] = tuple(data["known_euids"])
    return Settings(**data)
