"""Typed, validated run configuration: target, credentials, safety limits, profile."""

from __future__ import annotations

import enum
import functools
import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from engagelab_kit import spec
from engagelab_kit.contract_tests.drift import ConfigError

if TYPE_CHECKING:
    from engagelab_kit.contract_tests.oracle import Oracle

ENV_TARGET = "CONTRACT_TARGET"
ENV_KEY = "ENGAGELAB_API_KEY"
ENV_SECRET = "ENGAGELAB_API_SECRET"
ENV_DELETED_PROJECT = "ENGAGELAB_DELETED_PROJECT_CREDENTIALS"
ENV_DELETED_DATASOURCE = "ENGAGELAB_DELETED_DATASOURCE_CREDENTIALS"

# Known to the default mock only; never sent anywhere else.
MOCK_DELETED_PROJECT = ("dead0000000000000000beef", "deleted-project-secret")
MOCK_DELETED_DATASOURCE = ("da7a0000000000000000dead", "deleted-datasource-secret")

REMOTE_DEFAULT_BUDGET = 250
REMOTE_DEFAULT_RATE = 5.0


class TargetKind(enum.Enum):
    IN_PROCESS = "in-process"
    LOOPBACK = "loopback"
    REMOTE = "remote"


@dataclass(frozen=True)
class Credentials:
    key: str
    secret: str

    def __repr__(self) -> str:
        return f"Credentials(key={self.key!r}, secret=<redacted>)"

    @classmethod
    def parse(cls, text: str, source: str) -> Credentials:
        key, sep, secret = text.partition(":")
        if not sep or not key or not secret:
            raise ConfigError(f"{source} must be 'key:secret'")
        return cls(key, secret)


@dataclass(frozen=True)
class Profile:
    """What a target is allowed to differ in: contact types and HTTP statuses."""

    name: str = "default"
    contact_types: tuple[str, ...] = ()
    code_status: Mapping[int, int] = field(default_factory=dict)
    rule_status: Mapping[str, int] = field(default_factory=dict)
    accepted: tuple[str, ...] = ()  # drift groups (report keys) accepted as known differences

    @classmethod
    def load(cls, path: Path) -> Profile:
        text = path.read_text("utf-8")
        raw: dict[str, Any] = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        return cls.from_mapping(raw, path.stem)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], name: str = "custom") -> Profile:
        s = spec.load()
        unknown = set(raw) - {"name", "contact_types", "http_status", "rule_status", "accepted"}
        if unknown:
            raise ConfigError(f"profile {name}: unknown keys {sorted(unknown)}")
        types = tuple(raw.get("contact_types", s.contact_types))
        if not types or not all(isinstance(t, str) and t for t in types):
            raise ConfigError(f"profile {name}: contact_types must be non-empty strings")
        code_status = {int(k): int(v) for k, v in raw.get("http_status", {}).items()}
        rule_status = {str(k): int(v) for k, v in raw.get("rule_status", {}).items()}
        bad_codes = set(code_status) - set(s.codes)
        bad_rules = set(rule_status) - {r.id for r in s.rules}
        if bad_codes or bad_rules:
            raise ConfigError(f"profile {name}: unknown codes {sorted(bad_codes)} / rules {sorted(bad_rules)}")
        if any(not 100 <= v <= 599 for v in [*code_status.values(), *rule_status.values()]):
            raise ConfigError(f"profile {name}: HTTP statuses must be 100..599")
        accepted = raw.get("accepted", [])
        if not isinstance(accepted, list) or not all(isinstance(a, str) for a in accepted):
            raise ConfigError(f"profile {name}: accepted must be a list of drift-group keys")
        return cls(str(raw.get("name", name)), types, code_status, rule_status, tuple(accepted))

    def types(self) -> tuple[str, ...]:
        return self.contact_types or spec.load().contact_types


def classify(target: str | None) -> TargetKind:
    if not target:
        return TargetKind.IN_PROCESS
    host = urlsplit(target).hostname or ""
    if host == "localhost":
        return TargetKind.LOOPBACK
    try:
        return TargetKind.LOOPBACK if ipaddress.ip_address(host).is_loopback else TargetKind.REMOTE
    except ValueError:
        return TargetKind.REMOTE  # a host name could resolve anywhere: treat as live


@dataclass(frozen=True)
class RunConfig:
    target: str | None = None
    credentials: Credentials | None = None
    deleted_project: Credentials | None = None
    deleted_datasource: Credentials | None = None
    profile: Profile = field(default_factory=Profile)
    allow_writes: bool = False
    euid: int | None = None
    budget: int | None = None
    rate: float | None = None
    max_latency: float = 2.0
    timeout: float = 10.0
    checks: tuple[str, ...] = ()
    max_examples: int = 25
    seed: int = 0
    dry_run: bool = False
    report_dir: Path | None = None
    app_factory: str | None = None

    @property
    def kind(self) -> TargetKind:
        return classify(self.target)

    @functools.cached_property
    def oracle(self) -> Oracle:
        """The run's one Oracle (spec plus profile), built on first use."""
        from engagelab_kit.contract_tests.oracle import Oracle

        return Oracle.load(self.profile)

    @property
    def local(self) -> bool:
        return self.kind is not TargetKind.REMOTE

    @property
    def writes(self) -> bool:
        """Success-path requests: free on local doubles, opt-in with an euid on live targets."""
        return self.local or (self.allow_writes and self.euid is not None)

    def validate(self) -> RunConfig:
        if self.target:
            parts = urlsplit(self.target)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"--target must be an http(s) URL, got {self.target!r}")
        if self.euid is not None and not 1 <= self.euid <= spec.load().limits.euid_max:
            raise ConfigError("--euid must be in 1..9223372036854775807")
        if self.allow_writes and not self.local and self.euid is None:
            raise ConfigError("--allow-writes against a live target needs an explicit --euid")
        if self.budget is not None and self.budget < 1:
            raise ConfigError("--budget must be positive")
        if self.rate is not None and self.rate <= 0:
            raise ConfigError("--rate must be positive")
        if self.max_latency <= 0 or self.timeout <= 0 or self.max_examples < 1:
            raise ConfigError("--max-latency, --timeout and --max-examples must be positive")
        return self

    def with_defaults(self, env: Mapping[str, str] | None = None) -> RunConfig:
        """Fill credentials and safety caps from the environment and the target kind."""
        env = os.environ if env is None else env
        kind = self.kind
        creds = self.credentials
        if creds is None and env.get(ENV_KEY) and env.get(ENV_SECRET):
            creds = Credentials(env[ENV_KEY], env[ENV_SECRET])
        if creds is None and kind is not TargetKind.REMOTE:
            ex = spec.load().example
            creds = Credentials(ex["api_key"], ex["api_secret"])
        deleted_p = self.deleted_project or _env_creds(env, ENV_DELETED_PROJECT)
        deleted_d = self.deleted_datasource or _env_creds(env, ENV_DELETED_DATASOURCE)
        if kind is TargetKind.IN_PROCESS:
            deleted_p = deleted_p or Credentials(*MOCK_DELETED_PROJECT)
            deleted_d = deleted_d or Credentials(*MOCK_DELETED_DATASOURCE)
        budget, rate = self.budget, self.rate
        if kind is TargetKind.REMOTE:
            budget = budget or REMOTE_DEFAULT_BUDGET
            rate = rate or REMOTE_DEFAULT_RATE
        return _replace(
            self,
            credentials=creds,
            deleted_project=deleted_p,
            deleted_datasource=deleted_d,
            budget=budget,
            rate=rate,
        ).validate()

    def banner(self) -> str:
        """What the run will do, shown before the first request."""
        creds = self.credentials.key if self.credentials else "none (credential-free checks only)"
        return (
            f"target: {self.target or 'in-process mock'} ({self.kind.value}); key: {creds}; "
            f"writes: {'yes' + (f' (euid {self.euid})' if self.euid else '') if self.writes else 'no (read-safe)'}; "
            f"budget: {self.budget or 'unlimited'} requests; rate: {self.rate or 'uncapped'}/s; "
            f"profile: {self.profile.name}; seed: {self.seed}"
        )


def _env_creds(env: Mapping[str, str], name: str) -> Credentials | None:
    value = env.get(name)
    return Credentials.parse(value, name) if value else None


def _replace(config: RunConfig, **changes: Any) -> RunConfig:
    from dataclasses import replace

    return replace(config, **changes)
