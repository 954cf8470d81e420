"""Typed view of ``errors.json`` and the schemas, loaded from package data."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

SCHEMA_FILES = (
    "contact-request.schema.json",
    "response.schema.json",
    "register-request.schema.json",
    "register-response.schema.json",
)


@dataclass(frozen=True)
class CodeEntry:
    code: int
    description: str
    explanation: str
    http_status: int | None
    source: str
    emitted: bool
    # Message texts the vendor has been seen to send for this code, besides the description.
    published_messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    code: int
    when: str
    step: int | None = None
    http_status: int | None = None
    source: str = "decision"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_json_depth: int
    euid_min: int
    euid_max: int
    max_contacts: int
    max_name_length: int
    max_value_length: int
    register_max_values: int
    register_max_value_length: int


@dataclass(frozen=True)
class Spec:
    contact_path: str
    register_path: str
    base_urls: dict[str, str]
    example: dict[str, Any]
    limits: Limits
    name_pattern: str
    project_key_pattern: str
    contact_types: tuple[str, ...]
    identity_names: tuple[str, ...]
    white_space: frozenset[str]
    success_message: str
    codes: dict[int, CodeEntry]
    rules: tuple[Rule, ...]
    register_rules: tuple[Rule, ...]
    schemas: dict[str, dict[str, Any]]

    @property
    def documented_codes(self) -> frozenset[int]:
        """Codes a conforming target may answer with (55104 is not one)."""
        return frozenset(c for c, e in self.codes.items() if e.emitted)

    def rule(self, rule_id: str) -> Rule:
        for rule in (*self.rules, *self.register_rules):
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def load_json(name: str) -> Any:
    """One file of the spec, parsed. Reads package data, never the checkout."""
    return json.loads(resources.files("engagelab_kit.spec").joinpath(name).read_text("utf-8"))


def _rule(raw: dict[str, Any]) -> Rule:
    return Rule(
        id=raw["id"],
        code=raw["code"],
        when=raw["when"],
        step=raw.get("step"),
        http_status=raw.get("http_status"),
        source=raw.get("source", "decision"),
    )


@functools.cache
def load() -> Spec:
    raw = load_json("errors.json")
    spaces = frozenset(
        chr(cp) for lo, hi in raw["white_space"]["ranges"] for cp in range(lo, hi + 1)
    )
    return Spec(
        contact_path=raw["endpoints"]["contact"]["path"],
        register_path=raw["endpoints"]["register"]["path"],
        base_urls=dict(raw["base_urls"]),
        example=raw["example"],
        limits=Limits(**raw["limits"]),
        name_pattern=raw["patterns"]["contact_name"],
        project_key_pattern=raw["patterns"]["project_key"],
        contact_types=tuple(raw["contact_types"]),
        identity_names=tuple(raw["identity_names"]),
        white_space=spaces,
        success_message=raw["success_message"],
        codes={e["code"]: CodeEntry(**{**e, "published_messages": tuple(e.get("published_messages", ()))})
               for e in raw["codes"]},
        rules=tuple(_rule(r) for r in raw["rules"]),
        register_rules=tuple(_rule(r) for r in raw["register_rules"]),
        schemas={name.split(".")[0]: load_json(name) for name in SCHEMA_FILES},
    )
