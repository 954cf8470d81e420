"""Pairwise precedence: a request breaking rules A and B gets the earlier rule's code.

Each rule has a breaker touching only its own slots of a Draft; two rules
combine when their slots are disjoint. Entry rules that touch the same part
of an entry go on two entries instead, in both orders, which also proves
"each entry, in request order, first failure wins".
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.draft import OMIT, Draft, Raw, basic


@dataclass(frozen=True)
class Breaker:
    rule: str
    slots: frozenset[str]
    apply: Callable[[Draft, Factory, int], Draft]  # (draft, factory, entry index)
    needs: tuple[str, ...] = ()


def _auth(make: Callable[[Factory], str | None]) -> Callable[[Draft, Factory, int], Draft]:
    return lambda d, f, i: d.but(authorization=make(f))


def _entry(name: str | None = None, value: object = OMIT) -> Callable[[Draft, Factory, int], Draft]:
    return lambda d, f, i: d.with_entry(i, name=name, value=value)


_ALL_CONTACTS = frozenset({"contacts", "count", "name", "value"})
BREAKERS: tuple[Breaker, ...] = (
    Breaker("route.path", frozenset({"path"}), lambda d, f, i: d.but(path=d.path + "s")),
    Breaker("route.method", frozenset({"method"}), lambda d, f, i: d.but(method="PUT")),
    Breaker("auth.header", frozenset({"auth"}), _auth(lambda f: None)),
    Breaker("auth.key_format", frozenset({"auth"}), _auth(lambda f: basic(f.creds().key.upper(), f.creds().secret))),
    Breaker("auth.key_unknown", frozenset({"auth"}), _auth(lambda f: basic(f.unknown_key, "x"))),
    Breaker("auth.secret", frozenset({"auth"}), _auth(lambda f: basic(f.creds().key, "wrong-secret"))),
    Breaker(
        "auth.project_deleted",
        frozenset({"auth"}),
        _auth(lambda f: basic(f.creds("deleted_project").key, f.creds("deleted_project").secret)),
        ("deleted_project",),
    ),
    Breaker(
        "auth.datasource_deleted",
        frozenset({"auth"}),
        _auth(lambda f: basic(f.creds("deleted_datasource").key, f.creds("deleted_datasource").secret)),
        ("deleted_datasource",),
    ),
    Breaker("body.size", frozenset({"size"}), lambda d, f, i: d.but(size=f.oracle.spec.limits.max_body_bytes + 1)),
    Breaker("body.content_type", frozenset({"ctype"}), lambda d, f, i: d.but(content_type="text/plain")),
    Breaker("body.utf8", frozenset({"utf8"}), lambda d, f, i: d.but(extra=(*d.extra, ("u", Raw(b'"\xff"'))))),
    Breaker("body.json", frozenset({"json"}), lambda d, f, i: d.but(extra=(*d.extra, ("j", Raw(b"NaN"))))),
    Breaker("body.object", frozenset({"wrap"}), lambda d, f, i: d.but(wrap_array=True)),
    Breaker("euid.missing", frozenset({"euid"}), lambda d, f, i: d.but(euid=OMIT)),
    Breaker("euid.invalid", frozenset({"euid"}), lambda d, f, i: d.but(euid="1")),
    Breaker("contacts.type", _ALL_CONTACTS, lambda d, f, i: d.but(contacts="x")),
    Breaker("contacts.empty", _ALL_CONTACTS, lambda d, f, i: d.but(contacts={})),
    Breaker(
        "contacts.count", frozenset({"count"}), lambda d, f, i: d.but(fill_to=f.oracle.spec.limits.max_contacts + 1)
    ),
    Breaker("entry.name_invalid", frozenset({"name"}), _entry(name="1bad")),
    Breaker("entry.name_unsupported", frozenset({"name"}), _entry(name="zz_unsupported")),
    Breaker("entry.value_type", frozenset({"value"}), _entry(value=5)),
    Breaker("entry.value_null", frozenset({"value"}), _entry(value=None)),
    Breaker("entry.value_blank", frozenset({"value"}), _entry(value=" ")),
    Breaker("entry.value_length", frozenset({"value"}), _entry(value="a" * 257)),
)


def _conflict(a: Breaker, b: Breaker) -> bool:
    return bool(a.slots & b.slots)


def precedence_cases(f: Factory) -> Iterator[Case]:
    order = {b.rule: f.oracle.order(b.rule) for b in BREAKERS}
    breakers = sorted(BREAKERS, key=lambda b: order[b.rule])
    base = f.base()
    for first, second in itertools.combinations(breakers, 2):
        needs = ("credentials", *first.needs, *second.needs)
        pair = f"{first.rule}+{second.rule}"
        if not _conflict(first, second):
            draft = second.apply(first.apply(base, f, 0), f, 0)
            yield f.case(f"precedence/{pair}", first.rule, draft, needs=needs, group="precedence")
        elif first.rule.startswith("entry.") and second.rule.startswith("entry.") and len(f.types) > 1:
            two = base.with_entry(1, name=f.types[1], value="v")
            yield f.case(
                f"precedence/{pair}/entries-in-order",
                first.rule,
                second.apply(first.apply(two, f, 0), f, 1),
                needs=needs,
                group="precedence",
            )
            yield f.case(
                f"precedence/{pair}/entries-reversed",
                second.rule,
                first.apply(second.apply(two, f, 0), f, 1),
                needs=needs,
                group="precedence",
            )


def entry_order_cases(f: Factory) -> Iterator[Case]:
    """Each entry, in request order, first failure wins: every pair of entry rules on two entries,
    in both orders, so a target that checks rule by rule across all entries (or sorts the
    entries) answers with the wrong code."""
    if len(f.types) < 2:
        return
    entry_rules = [b for b in BREAKERS if b.rule.startswith("entry.")]
    two = f.base().with_entry(1, name=f.types[1], value="v")
    for first, second in itertools.permutations(entry_rules, 2):
        draft = second.apply(first.apply(two, f, 0), f, 1)
        yield f.case(
            f"entry-order/{first.rule}@0+{second.rule}@1",
            "entry.order",
            draft,
            rule_of_code=first.rule,
            group="precedence",
        )
    for breaker in entry_rules:
        # The failing entry last, after two good ones: the check must reach it.
        good_two = f.base().but(entries=((f.types[1], "v"), (f.types[0], "v")))
        last = breaker.apply(good_two, f, 1)
        yield f.case(
            f"entry-order/{breaker.rule}@last", "entry.order", last, rule_of_code=breaker.rule, group="precedence"
        )
