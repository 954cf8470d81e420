"""A single contract case: one request and what the spec says must answer it."""

from __future__ import annotations

import random
from dataclasses import dataclass

from engagelab_kit.contract_tests.config import Credentials, RunConfig
from engagelab_kit.contract_tests.draft import Draft
from engagelab_kit.contract_tests.http import HttpRequest
from engagelab_kit.contract_tests.oracle import Oracle

EXAMPLE_EUID = 10362473
# Stands in when a case's credentials are not configured; the case is then skipped.
PLACEHOLDER = Credentials("000000000000000000000000", "not-configured")


@dataclass(frozen=True)
class Case:
    id: str
    rule: str  # errors.json rule id (or "route.*") the case is evidence for
    request: HttpRequest
    code: int | None  # None: any documented non-zero code (404/405 bodies)
    status: int | None
    writes_euid: int | None = None  # set on success-path cases: the euid written
    needs: tuple[str, ...] = ()  # credentials the case cannot run without
    group: str = "table"
    # Other (code, status) answers the contract also allows (a percent-encoded path: 404 or the endpoint's).
    also: tuple[tuple[int | None, int | None], ...] = ()
    compare: str = ""  # cases of one compare group must all get the same answer

    def accepted(self) -> tuple[tuple[int | None, int | None], ...]:
        return ((self.code, self.status), *self.also)

    def __repr__(self) -> str:
        return f"Case({self.id})"


@dataclass(frozen=True)
class Factory:
    """Builds cases for one run: knows the credentials, euid and contact types."""

    config: RunConfig
    oracle: Oracle

    @property
    def types(self) -> tuple[str, ...]:
        return self.config.profile.types()

    @property
    def euid(self) -> int:
        return self.config.euid or EXAMPLE_EUID

    @property
    def unknown_key(self) -> str:
        """A well-formed key no target should know: drawn from the run's seed, never a configured one.
        A fixed one might be some target's real project."""
        known = {
            c.key
            for c in (self.config.credentials, self.config.deleted_project, self.config.deleted_datasource)
            if c is not None
        }
        draw = random.Random(self.config.seed)
        while True:
            key = f"{draw.getrandbits(96):024x}"
            if key not in known:
                return key

    def creds(self, which: str = "credentials") -> Credentials:
        found: Credentials | None = getattr(self.config, which)
        return found or PLACEHOLDER

    def base(self) -> Draft:
        return Draft.valid(self.creds(), self.euid, self.types[0])

    def case(
        self,
        case_id: str,
        rule: str,
        draft: Draft,
        code: int | None = None,
        needs: tuple[str, ...] = ("credentials",),
        group: str = "table",
        rule_of_code: str | None = None,
    ) -> Case:
        """A case for `rule` expecting the code (and matching status) of `rule_of_code` (default: `rule`),
        or `code` when given."""
        decides = rule_of_code or rule
        routed = decides in ROUTE_RULES
        expected = code if code is not None or routed else self.oracle.rule_code(decides)
        by_rule = (routed and expected is None) or (not routed and expected == self.oracle.rule_code(decides))
        writes = _written_euid(draft) if expected == 0 else None
        status = self.oracle.status(decides if by_rule else None, expected)
        return Case(case_id, rule, draft.request(), expected, status, writes, needs, group)


ROUTE_RULES = ("route.path", "route.method")


def _written_euid(draft: Draft) -> int | None:
    return draft.euid if isinstance(draft.euid, int) else None
