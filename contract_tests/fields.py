"""Case tables for the document's fields: euid, contacts, and each entry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.draft import OMIT, Raw
from engagelab_kit.contract_tests.tables import Table, passing_entry

BIG_DIGITS = b"1" + b"0" * 5000  # beyond Python's default int-parsing limit


def euid_cases(f: Factory) -> Iterator[Case]:
    base = f.base()
    top = f.oracle.spec.limits.euid_max
    for name, value in {"missing": OMIT, "null": None, "empty-string": ""}.items():
        yield f.case(f"euid-{name}", "euid.missing", base.but(euid=value))
    invalid: dict[str, Any] = {
        "0": 0,
        "-1": -1,
        "max+1": top + 1,
        "max+2": top + 2,
        "min-long": -top - 1,
        "1e40-int": 10**40,
        "5001-digits": Raw(BIG_DIGITS),
        "-5001-digits": Raw(b"-" + BIG_DIGITS),
        "string-1": "1",
        "numeric-string": str(f.euid),
        "space": " ",
        "string-0": "0",
        "true": True,
        "false": False,
        "1.0": Raw(b"1.0"),
        "1e3": Raw(b"1e3"),
        "1E3": Raw(b"1E3"),
        "1.5": Raw(b"1.5"),
        "-0": Raw(b"-0"),
        "1e400": Raw(b"1e400"),
        "0.0": Raw(b"0.0"),
        "max-as-float": Raw(b"9.223372036854775807e18"),
        "array": [],
        "array-1": [1],
        "object": {},
        "object-1": {"euid": 1},
    }
    for name, value in invalid.items():
        yield f.case(f"euid-{name}", "euid.invalid", base.but(euid=value))
    for name, good in {"1": 1, "max": top}.items():
        yield from passing_entry(f, f"euid-{name}", "euid.invalid", base.but(euid=good))


def contacts_cases(f: Factory) -> Iterator[Case]:
    base = f.base()
    for name, value in {
        "missing": OMIT,
        "null": None,
        "string": "x",
        "array": [],
        "pairs": [[f.types[0], "v"]],
        "number": 1,
        "zero": 0,
        "float": 1.5,
        "true": True,
        "false": False,
        "empty-string": "",
        "json-in-a-string": f'{{"{f.types[0]}":"v"}}',
        "array-of-object": [{f.types[0]: "v"}],
        "array-of-null": [None],
    }.items():
        yield f.case(f"contacts-{name}", "contacts.type", base.but(contacts=value))
    yield f.case("contacts-empty", "contacts.empty", base.but(contacts={}))
    limit = f.oracle.spec.limits.max_contacts
    for n in (limit + 1, limit + 50):
        yield f.case(f"contacts-{n}-entries", "contacts.count", base.but(fill_to=n))
    yield f.case(
        f"contacts-{limit + 1}-invalid-names",
        "contacts.count",
        base.but(contacts={f"{i}bad": None for i in range(limit + 1)}),
    )
    full = tuple((t, "v") for t in f.types[:limit])
    expected = 0 if len(f.types) >= limit else f.oracle.rule_code("entry.name_unsupported")
    yield f.case(f"contacts-{limit}-entries", "contacts.count", base.but(entries=full, fill_to=limit), code=expected)
    if len(f.types) > 1:
        yield from passing_entry(f, "contacts-all-types", "success", base.but(entries=tuple((t, "v") for t in f.types)))


def name_cases(f: Factory) -> Iterator[Case]:
    base = f.base()
    width = f.oracle.spec.limits.max_name_length
    for name in (
        "",
        "1email",
        "e-mail",
        "e mail",
        "email\n",
        "\nemail",
        " email",
        "email ",
        "\u00e9",
        "em\u00e4il",
        "a" * (width + 1),
        "e.mail",
        "$",
        "\x00",
        "email\x00",
        "\uff45mail",
        "a" * 1000,
    ):
        yield f.case(f"name-{name[:70]!r}", "entry.name_invalid", base.with_entry(0, name=name))
    for name in (
        "a" * width,
        "_",
        "Email",
        "EMAIL",
        "mobile",
        "_email",
        "phone",
        "user_id",
        "email_",
        "a" * (width - 1),
        # Channels a target might quietly accept although the profile does not list them.
        "sms",
        "wechat",
        "whatsapp",
        "line",
        "phone_number",
    ):
        if name not in f.types:
            yield f.case(f"name-{name!r}", "entry.name_unsupported", base.with_entry(0, name=name))


def value_cases(f: Factory) -> Iterator[Case]:
    base = f.base()
    for name, value in {
        "int": 5,
        "zero": 0,
        "float": 1.5,
        "true": True,
        "false": False,
        "array": [],
        "array-1": ["v"],
        "object": {},
        "object-1": {"a": "b"},
    }.items():
        yield f.case(f"value-{name}", "entry.value_type", base.with_entry(0, value=value))
    yield f.case("value-null", "entry.value_null", base.with_entry(0, value=None))
    blanks = ["", "   ", " \t\n\r", "\u3000\u00a0", *sorted(f.oracle.spec.white_space)]
    for value in blanks:
        yield f.case(
            f"value-blank-{value.encode('unicode_escape').decode()}",
            "entry.value_blank",
            base.with_entry(0, value=value),
        )
    width = f.oracle.spec.limits.max_value_length
    for char in ("a", "\u00e9", "\U0001f600", "\u4e2d"):
        label = f"U+{ord(char):04X}"
        yield f.case(f"value-{width + 1}x{label}", "entry.value_length", base.with_entry(0, value=char * (width + 1)))
        yield from passing_entry(
            f, f"value-{width}x{label}", "entry.value_length", base.with_entry(0, value=char * width)
        )
    # Code points, not grapheme clusters or NFC: 'e' + U+0301 is two.
    combining = "e\u0301" * width
    yield f.case(f"value-{width}x-e-U+0301", "entry.value_length", base.with_entry(0, value=combining))
    yield f.case(f"value-{width + 1}-blank", "entry.value_blank", base.with_entry(0, value=" " * (width + 1)))
    yield f.case(f"value-{width + 1}-padded", "entry.value_length", base.with_entry(0, value="a" + " " * width))
    for char in ("\x1c", "\x1d", "\x1e", "\x1f", "\u200b", "\ufeff", "\u180e", "\x00"):
        label = f"U+{ord(char):04X}"
        # Not White_Space: over-long runs of it are too long, not blank.
        yield f.case(
            f"value-not-blank-{label}x{width + 1}",
            "entry.value_blank",
            base.with_entry(0, value=char * (width + 1)),
            rule_of_code="entry.value_length",
        )
        yield from passing_entry(f, f"value-not-blank-{label}", "entry.value_blank", base.with_entry(0, value=char))
    yield from passing_entry(f, "value-opaque", "entry.value_length", base.with_entry(0, value="not an e-mail <>\"'\\"))


FIELD_TABLES: tuple[Table, ...] = (euid_cases, contacts_cases, name_cases, value_cases)
