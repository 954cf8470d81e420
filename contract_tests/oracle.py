"""What the spec (plus the target profile) expects: codes, statuses, messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engagelab_kit.contract_tests.config import Profile
from engagelab_kit.spec import Rule, Spec
from engagelab_kit.spec import load as load_spec


@dataclass(frozen=True)
class Oracle:
    spec: Spec
    profile: Profile

    @classmethod
    def load(cls, profile: Profile) -> Oracle:
        return cls(load_spec(), profile)

    def rule_code(self, rule_id: str) -> int:
        return self.spec.rule(rule_id).code

    def status(self, rule_id: str | None, code: int | None) -> int | None:
        """Expected HTTP status: profile over rule over code table."""
        if rule_id is not None and rule_id in self.profile.rule_status:
            return self.profile.rule_status[rule_id]
        rule = self._rule(rule_id)
        if rule is not None and rule.http_status is not None:
            return rule.http_status
        if code is None:
            return None
        if code in self.profile.code_status:
            return self.profile.code_status[code]
        entry = self.spec.codes.get(code)
        return entry.http_status if entry else None

    def _rule(self, rule_id: str | None) -> Rule | None:
        return next((r for r in self.spec.rules if r.id == rule_id), None)

    def order(self, rule_id: str) -> int:
        """Precedence: position in errors.json's rules list (first failure decides)."""
        return [r.id for r in self.spec.rules].index(rule_id)

    def documented(self, code: int) -> bool:
        return code in self.spec.documented_codes

    def never_emitted(self, code: int) -> bool:
        """Listed in the error table as a code no target may send (55104)."""
        entry = self.spec.codes.get(code)
        return entry is not None and not entry.emitted

    def message_prefixes(self, code: int) -> tuple[str, ...]:
        """Texts a failure message may start with: the description (its final period optional)
        or a message the vendor has published for the code."""
        entry = self.spec.codes.get(code)
        if entry is None or not entry.emitted:
            return ()
        return (entry.description.rstrip("."), *entry.published_messages)

    def name_rule(self, name: str, types: tuple[str, ...]) -> str | None:
        """The rule one contact name on its own breaks (invalid, unsupported), or None when supported."""
        width = self.spec.limits.max_name_length
        if not name or len(name) > width or re.fullmatch(self.spec.name_pattern, name) is None:
            return "entry.name_invalid"
        return None if name in types else "entry.name_unsupported"

    def blank(self, value: str) -> bool:
        return all(ch in self.spec.white_space for ch in value)

    def auth_rule(self, payload: bytes, known_keys: frozenset[str]) -> str | None:
        """The rule Basic credentials `payload` (decoded bytes) break; None for a known key."""
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return "auth.header"
        key, colon, secret = text.partition(":")
        if not colon or not key or not secret:
            return "auth.header"
        if re.fullmatch(self.spec.project_key_pattern, key) is None:
            return "auth.key_format"
        return None if key in known_keys else "auth.key_unknown"
