"""Hypothesis strategies for users' own property tests, drawn from the spec's data.

``valid_requests()`` draws bodies the real API accepts; ``invalid_requests(rule)``
draws bodies that break exactly one body rule (and pass every rule before it,
in the contract's order) paired with the rule's id and the code it must get.
Limits, patterns, contact types and White_Space come from ``errors.json``::

    @given(case=invalid_requests())
    def test_client_refuses_what_the_api_refuses(case):
        with pytest.raises(InvalidRequestError) as raised:
            client.set_contacts(case.body["euid"], case.body["contacts"])   # or send case.content()
        assert raised.value.code == case.code
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from engagelab_kit import spec

_SPEC = spec.load()
_LIMITS = _SPEC.limits
_NAME = re.compile(_SPEC.name_pattern)
_SPACES = "".join(sorted(_SPEC.white_space))
# Lone surrogates cannot be sent as UTF-8 JSON at all: leave them out of every drawn text.
_CHARS = st.characters(codec="utf-8")
_MISSING = object()


@dataclass(frozen=True)
class InvalidRequest:
    """A body that breaks ``rule``; the API must answer ``code``."""

    body: Any
    rule: str
    code: int

    def content(self) -> bytes:
        """The body as the UTF-8 JSON text to send."""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def _blank(value: str) -> bool:
    return not value.strip(_SPACES)


def contact_values() -> st.SearchStrategy[str]:
    """Values the API accepts: 1..max_value_length code points, not only White_Space."""
    return st.text(_CHARS, min_size=1, max_size=_LIMITS.max_value_length).filter(lambda v: not _blank(v))


def euids() -> st.SearchStrategy[int]:
    return st.integers(_LIMITS.euid_min, _LIMITS.euid_max)


def _contacts(types: Sequence[str], min_size: int = 1) -> st.SearchStrategy[dict[str, str]]:
    names = st.lists(st.sampled_from(list(types)), min_size=min_size, max_size=min(len(types), _LIMITS.max_contacts),
                     unique=True)
    return names.flatmap(lambda chosen: st.fixed_dictionaries({n: contact_values() for n in chosen}))


def valid_requests(contact_types: Sequence[str] = _SPEC.contact_types) -> st.SearchStrategy[dict[str, Any]]:
    """``{"euid": ..., "contacts": {...}}`` bodies that pass every rule (with these contact types)."""
    return st.builds(lambda euid, contacts: {"euid": euid, "contacts": contacts}, euids(), _contacts(contact_types))


def _json_values(*, exclude: Callable[[Any], bool] = lambda v: False) -> st.SearchStrategy[Any]:
    scalars = (st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(_CHARS, max_size=20))
    containers = st.lists(scalars, max_size=3) | st.dictionaries(st.text(_CHARS, max_size=5), scalars, max_size=3)
    return (scalars | containers).filter(lambda v: not exclude(v))


def _valid_euid(value: Any) -> bool:
    return type(value) is int and _LIMITS.euid_min <= value <= _LIMITS.euid_max


def _body(euid: Any, contacts: Any) -> dict[str, Any]:
    body = {}
    if euid is not _MISSING:
        body["euid"] = euid
    if contacts is not _MISSING:
        body["contacts"] = contacts
    return body


def _with_entry(types: Sequence[str], name: str, value: Any, position: int) -> st.SearchStrategy[dict[str, Any]]:
    """Valid contacts (of types other than ``name``) with the entry ``name: value`` at ``position``."""
    others = [t for t in types if t != name]

    def place(contacts: dict[str, str]) -> dict[str, Any]:
        items: list[tuple[str, Any]] = list(contacts.items())
        items.insert(min(position, len(items)), (name, value))
        return dict(items)

    return _contacts(others, min_size=0).map(place) if others else st.just({name: value})


def _entry_rule(types: Sequence[str], names: st.SearchStrategy[str],
                values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(lambda *a: a, euids(), names, values, st.integers(0, 2)).flatmap(
        lambda a: _with_entry(types, a[1], a[2], a[3]).map(lambda contacts: _body(a[0], contacts)))


def _bodies(rule: str, types: Sequence[str]) -> st.SearchStrategy[Any]:
    valid_contacts = _contacts(types)
    supported = st.sampled_from(list(types))
    max_name, max_value, max_count = _LIMITS.max_name_length, _LIMITS.max_value_length, _LIMITS.max_contacts
    if rule == "body.object":
        return _json_values(exclude=lambda v: isinstance(v, dict))
    if rule == "euid.missing":
        return st.builds(_body, st.sampled_from([_MISSING, None, ""]), valid_contacts)
    if rule == "euid.invalid":
        return st.builds(_body, _json_values(exclude=lambda v: v is None or v == "" or _valid_euid(v))
                         | st.integers(max_value=0) | st.integers(min_value=_LIMITS.euid_max + 1), valid_contacts)
    if rule == "contacts.type":
        return st.builds(_body, euids(), st.just(_MISSING) | _json_values(exclude=lambda v: isinstance(v, dict)))
    if rule == "contacts.empty":
        return st.builds(_body, euids(), st.just({}))
    if rule == "contacts.count":
        # The count is checked before any entry: the names need not be valid ones.
        many = st.integers(max_count + 1, max_count + 20).map(lambda n: {f"c{i}": "x" for i in range(n)})
        return st.builds(_body, euids(), many)
    if rule == "entry.name_invalid":
        malformed = st.text(_CHARS, min_size=1, max_size=max_name + 5).filter(lambda n: not _NAME.fullmatch(n))
        too_long = st.from_regex(_NAME, fullmatch=True).map(lambda n: (n * (max_name + 1))[: max_name + 1])
        names = st.just("") | malformed | too_long
        return _entry_rule(types, names, contact_values())
    if rule == "entry.name_unsupported":
        names = st.from_regex(_NAME, fullmatch=True).filter(lambda n: len(n) <= max_name and n not in types)
        return _entry_rule(types, names, contact_values())
    if rule == "entry.value_type":
        return _entry_rule(types, supported, _json_values(exclude=lambda v: isinstance(v, str)))
    if rule == "entry.value_null":
        return _entry_rule(types, supported, st.none())
    if rule == "entry.value_blank":
        return _entry_rule(types, supported, st.text(st.sampled_from(_SPACES), max_size=8))
    if rule == "entry.value_length":
        long_values = st.text(_CHARS, min_size=max_value + 1, max_size=max_value + 40).filter(lambda v: not _blank(v))
        return _entry_rule(types, supported, long_values)
    raise ValueError(f"no strategy for rule {rule!r}; choose one of {', '.join(INVALID_RULES)}")


INVALID_RULES: tuple[str, ...] = (
    "body.object", "euid.missing", "euid.invalid", "contacts.type", "contacts.empty", "contacts.count",
    "entry.name_invalid", "entry.name_unsupported", "entry.value_type", "entry.value_null", "entry.value_blank",
    "entry.value_length",
)


def invalid_requests(rule: str | Sequence[str] | None = None,
                     contact_types: Sequence[str] = _SPEC.contact_types) -> st.SearchStrategy[InvalidRequest]:
    """Bodies that break one rule (``rule``: an id, several, or None for every body rule), with its code."""
    rules = INVALID_RULES if rule is None else (rule,) if isinstance(rule, str) else tuple(rule)
    return st.one_of([_paired(r, contact_types) for r in rules])


def _paired(rule: str, types: Sequence[str]) -> st.SearchStrategy[InvalidRequest]:
    code = _SPEC.rule(rule).code
    return _bodies(rule, types).map(lambda body: InvalidRequest(body, rule, code))
