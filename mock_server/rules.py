"""Steps 4-6 of the contract: what a parsed body must hold. Pure functions of (body, settings).

Each check raises ``ApiError`` with the code the spec's rule table gives it;
the order of the checks is the table's precedence order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engagelab_kit import spec
from engagelab_kit.mock_server.exceptions import ApiError
from engagelab_kit.mock_server.settings import Settings

_SPEC = spec.load()
# str.strip(chars) strips exactly these; str.isspace() would also take U+001C..U+001F.
WHITE_SPACE = "".join(sorted(_SPEC.white_space))
EUID_MAX = _SPEC.limits.euid_max


def is_blank(value: str) -> bool:
    return not value.strip(WHITE_SPACE)


def _check_text(value: str, where: str, max_length: int, rules: tuple[str, str]) -> None:
    """The value rules shared by contacts and identities: blank first, then length."""
    if is_blank(value):
        raise ApiError(55107, f"{where} is empty", rule=rules[0])
    if len(value) > max_length:
        raise ApiError(55105, f"{where} is longer than {max_length} characters", rule=rules[1])


@dataclass(frozen=True)
class Registration:
    identity_name: str
    identity_values: list[str]


class Rules:
    """The body rules for one set of settings, compiled once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._name = re.compile(_SPEC.name_pattern)
        # name -> the configured string itself: stored contacts share one copy of each name.
        self._types = {t: t for t in settings.contact_types}
        # The configured names that pass the name rules: their entries need only the value checks.
        self._good_types = frozenset(t for t in self._types if self._valid_name(t))
        self._identity_names = frozenset(_SPEC.identity_names)

    def euid(self, body: dict[str, Any]) -> int:
        euid = body.get("euid")
        if euid is None or euid == "":
            raise ApiError(40007, "euid is missing or empty", rule="euid.missing")
        # type() rather than isinstance(): booleans are ints to Python, not to JSON.
        if type(euid) is not int or not 1 <= euid <= EUID_MAX:
            raise ApiError(55108, "euid must be an integer in 1..9223372036854775807", rule="euid.invalid")
        return euid

    def contacts(self, body: dict[str, Any]) -> dict[str, str]:
        contacts = body.get("contacts")
        if type(contacts) is not dict:
            raise ApiError(55004, "contacts must be a JSON object", rule="contacts.type")
        if not contacts:
            raise ApiError(55103, "contacts is empty", rule="contacts.empty")
        limit = self.settings.max_contacts
        if len(contacts) > limit:
            raise ApiError(55101, f"contacts has more than {limit} entries", rule="contacts.count")
        good, max_length = self._good_types, self.settings.max_value_length
        for name, value in contacts.items():
            # The usual entry, checked inline; _entry finds which rule any other one breaks.
            if name not in good or type(value) is not str or len(value) > max_length or not value.strip(WHITE_SPACE):
                self._entry(name, value)
        types = self._types
        return {types[name]: value for name, value in contacts.items()}

    def _valid_name(self, name: str) -> bool:
        return bool(name) and len(name) <= self.settings.max_name_length and self._name.fullmatch(name) is not None

    def _entry(self, name: str, value: object) -> None:
        settings = self.settings
        if not self._valid_name(name):
            raise ApiError(55102, f"contacts name {name[:80]!r} is not a valid name", rule="entry.name_invalid")
        if name not in self._types:
            raise ApiError(55106, f"contacts name {name!r} is not a supported contact type",
                           rule="entry.name_unsupported")
        if value is None:
            raise ApiError(55103, f"contacts.{name} is null", rule="entry.value_null")
        if type(value) is not str:
            raise ApiError(55004, f"contacts.{name} must be a string", rule="entry.value_type")
        _check_text(value, f"contacts.{name}", settings.max_value_length, ("entry.value_blank", "entry.value_length"))

    def registration(self, body: dict[str, Any]) -> Registration:
        name = body.get("identity_name")
        values = body.get("identity_values")
        if type(name) is not str:
            raise ApiError(55004, "identity_name must be a string", rule="register.type")
        if name not in self._identity_names:
            raise ApiError(55106, f"identity_name must be one of {', '.join(_SPEC.identity_names)}",
                           rule="register.name")
        if type(values) is not list:
            raise ApiError(55004, "identity_values must be an array", rule="register.type")
        if not values:
            raise ApiError(55107, "identity_values is empty", rule="register.empty")
        limit = _SPEC.limits.register_max_values
        if len(values) > limit:
            raise ApiError(55101, f"identity_values has more than {limit} values", rule="register.count")
        max_length = _SPEC.limits.register_max_value_length
        for i, value in enumerate(values):
            if type(value) is not str:
                raise ApiError(55004, f"identity_values[{i}] must be a string", rule="register.type")
            _check_text(value, f"identity_values[{i}]", max_length, ("register.empty", "register.length"))
        return Registration(name, values)
