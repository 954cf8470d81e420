"""Explicit case tables: every rule of errors.json, its boundaries and its pass side.

A request that must *pass* a rule is sent twice: once as it is (a success,
only where writes are allowed) and once with a later failure appended, so
that a read-safe run still proves the rule let it through.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import replace

from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.draft import OMIT, Draft, Raw, basic

Table = Callable[[Factory], Iterator[Case]]
NOT_A_NUMBER = "not-a-number"


def passing(
    f: Factory, case_id: str, rule: str, draft: Draft, needs: tuple[str, ...] = ("credentials",)
) -> Iterator[Case]:
    """The draft must get past `rule`: success as is, the later failure otherwise."""
    yield f.case(f"{case_id}/success", "success", draft, code=0, needs=needs)
    if draft.euid not in (OMIT, None, "") and draft.raw_body is None:
        yield f.case(
            f"{case_id}/then-euid-invalid", rule, draft.but(euid=NOT_A_NUMBER), needs=needs, rule_of_code="euid.invalid"
        )


def passing_entry(f: Factory, case_id: str, rule: str, draft: Draft) -> Iterator[Case]:
    """Like `passing`, proving an entry passed by failing on the next entry."""
    yield f.case(f"{case_id}/success", "success", draft, code=0)
    used = {name for name, _ in draft.entries}
    spare = next((t for t in f.types if t not in used), None)
    name, fails = (spare, "entry.value_null") if spare else ("zz_not_a_contact_type", "entry.name_unsupported")
    later = draft.but(entries=(*draft.entries, (name, None)))
    yield f.case(f"{case_id}/then-next-entry-fails", rule, later, rule_of_code=fails)


def guarded(f: Factory, draft: Draft) -> Draft:
    """Without write permission a request that should fail early must not be able
    to write if the target wrongly lets it through: give it an invalid euid."""
    return draft if f.config.writes else draft.but(euid=NOT_A_NUMBER)


def _token(text: bytes) -> str:
    return base64.b64encode(text).decode()


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical(suffix: str, token: str) -> dict[str, str]:
    """Spellings of a padded token that only a lenient decoder reads as the same bytes."""
    if not token.endswith("="):
        return {}
    pos = len(token.rstrip("=")) - 1
    flipped = _B64[_B64.index(token[pos]) ^ 1]  # an unused low bit
    return {
        f"unpadded{suffix}": f"Basic {token.rstrip('=')}",
        f"non-canonical-bits{suffix}": f"Basic {token[:pos]}{flipped}{token[pos + 1 :]}",
        f"extra-padding{suffix}": f"Basic {token}=",
        f"inner-space{suffix}": f"Basic {token[:4]} {token[4:]}",
    }


def auth_cases(f: Factory) -> Iterator[Case]:
    c = f.creds()
    base = guarded(f, f.base())
    good = _token(f"{c.key}:{c.secret}".encode())
    header: dict[str, str | bytes | None] = {
        "missing": None,
        "empty": "",
        "bearer": f"Bearer {good}",
        "scheme-only": "Basic",
        "scheme-space": "Basic ",
        "no-space": f"Basic{good}",
        "not-base64": "Basic !!!!",
        "base64-with-space": f"Basic {good[:8]} {good[8:]}",
        "urlsafe-noise": f"Basic {good}-_",
        "no-colon": f"Basic {_token((c.key + c.secret.replace(':', '')).encode())}",
        "empty-key": f"Basic {_token((':' + c.secret).encode())}",
        "empty-secret": f"Basic {_token((c.key + ':').encode())}",
        "empty-both": f"Basic {_token(b':')}",
        "not-utf8": "Basic " + _token(c.key.encode()[:-1] + b"\xff:" + c.secret.encode()),
        "raw-latin1-bytes": b"Basic \xe9\xff",
        "double-scheme": f"Basic Basic {good}",
        "tab-separator": f"Basic\t{good}",  # "one or more spaces": a tab is not one
    }
    header.update(_non_canonical("", good))
    # Real credentials may encode without padding; an unknown key with a padded encoding shows
    # whether padding and unused bits are checked (a lenient decoder answers 50034).
    for pad in (1, 2):
        payload = f"{f.unknown_key}:{'s' * (3 + pad)}".encode()
        header.update(_non_canonical(f"-unknown-key-pad{pad}", _token(payload)))
    for name, value in header.items():
        yield f.case(f"header-{name}", "auth.header", base.but(authorization=value))
    for name, value in {
        "lowercase-scheme": f"basic {good}",
        "uppercase-scheme": f"BASIC {good}",
        "several-spaces": f"Basic    {good}",
    }.items():
        yield from passing(f, f"header-{name}", "auth.header", f.base().but(authorization=value))
    for name, key in {
        "uppercase": c.key.upper(),
        "short": c.key[:-1],
        "long": c.key + "0",
        "non-hex": "g" * 24,
        "trailing-newline": c.key + "\n",
        "inner-space": c.key[:12] + " " + c.key[13:],
        "unicode-digits": "\u0660" * 24,
    }.items():
        if key != c.key:
            yield f.case(f"key-{name}", "auth.key_format", base.but(authorization=basic(key, c.secret)))
    unknown = f.unknown_key
    yield f.case("key-unknown", "auth.key_unknown", base.but(authorization=basic(unknown, c.secret)), needs=())
    yield f.case("key-unknown-other-secret", "auth.key_unknown", base.but(authorization=basic(unknown, "x")), needs=())
    for name, secret in {
        "wrong": "wrong-secret",
        "extra-char": c.secret + "0",
        "prefix": c.secret[:-1],
        "case": c.secret.upper(),
        "colon-suffix": c.secret + ":x",
        "colon-prefix": ":" + c.secret,
    }.items():
        if secret != c.secret:
            yield f.case(f"secret-{name}", "auth.secret", base.but(authorization=basic(c.key, secret)))
    yield f.case("secret-wrong-huge-body", "auth.secret", base.but(authorization=basic(c.key, "wrong"), size=2 << 20))
    yield f.case("missing-huge-body", "auth.header", base.but(authorization=None, size=2 << 20), needs=())
    yield from _deleted(f, base)
    yield from wrong_secret_alike(f, base)


WRONG_SECRET = "not-the-secret-0"


def wrong_secret_alike(f: Factory, base: Draft) -> Iterator[Case]:
    """One wrong secret against the key of each known project: a key's status is only revealed to its
    secret's holder, so all these answers must be the same (the key itself aside)."""
    for which in ("credentials", "deleted_project", "deleted_datasource"):
        key = f.creds(which).key
        case = f.case(
            f"wrong-secret-alike/{which}",
            "auth.status_hidden",
            base.but(authorization=basic(key, WRONG_SECRET)),
            needs=(which,),
            rule_of_code="auth.secret",
        )
        yield replace(case, compare="wrong-secret")


def _deleted(f: Factory, base: Draft) -> Iterator[Case]:
    for which, rule in (("deleted_project", "auth.project_deleted"), ("deleted_datasource", "auth.datasource_deleted")):
        d = f.creds(which)
        yield f.case(f"{which}", rule, base.but(authorization=basic(d.key, d.secret)), needs=(which,))
        yield f.case(
            f"{which}-wrong-secret", "auth.secret", base.but(authorization=basic(d.key, d.secret + "x")), needs=(which,)
        )


def content_type_cases(f: Factory) -> Iterator[Case]:
    base = guarded(f, f.base())
    for ctype in (
        None,
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/vnd.api+json",
        "application/merge-patch+json",
        "application/problem+json",
        "application/json; charset=latin-1",
        "application/json; charset=iso-8859-1",
        "application/json; charset=utf-16",
        "application/jsonx",
        "json",
        "text/json",
    ):
        yield f.case(f"content-type-{ctype}", "body.content_type", base.but(content_type=ctype))
    for ctype in (
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "Application/Json; Charset=UTF-8",
        "application/json;charset=utf-8",
        "application/json; foo=bar",  # parameters such as charset: others are allowed too
    ):
        yield from passing(f, f"content-type-{ctype}", "body.content_type", f.base().but(content_type=ctype))


def encoding_cases(f: Factory) -> Iterator[Case]:
    base = guarded(f, f.base())
    for name, raw in {
        "invalid-byte": b'"\xff"',
        "overlong": b'"\xc0\xaf"',
        "utf8-surrogate": b'"\xed\xa0\x80"',
        "truncated": b'"\xe2\x82"',
        "latin1": b'"caf\xe9"',
    }.items():
        yield f.case(f"utf8-{name}", "body.utf8", base.with_entry(0, value=Raw(raw)))
    body = base.body()
    yield f.case("utf8-bom", "body.utf8", base.but(raw_body=b"\xef\xbb\xbf" + body))
    yield f.case("utf16", "body.utf8", base.but(raw_body=body.decode().encode("utf-16")))


def syntax_cases(f: Factory) -> Iterator[Case]:
    base = guarded(f, f.base())
    body = base.body()
    for name, raw in {
        "empty": b"",
        "brace": b"{",
        "trailing-comma": body[:-1] + b",}",
        "single-quotes": body.replace(b'"', b"'"),
        "trailing-garbage": body + b" x",
        "two-documents": body + body,
        "comment": b"/*x*/" + body,
        "unclosed-deep": b"[" * 100000,
    }.items():
        yield f.case(f"json-{name}", "body.json", base.but(raw_body=raw))
    for const in (b"NaN", b"Infinity", b"-Infinity"):
        yield f.case(f"json-euid-{const.decode()}", "body.json", base.but(euid=Raw(const)))
        yield f.case(f"json-ignored-field-{const.decode()}", "body.json", base.but(extra=(("junk", Raw(const)),)))
    for name, raw in {
        "lone-high": b'"\\ud800"',
        "lone-low": b'"\\udfff"',
        "reversed-pair": b'"\\udc00\\ud800"',
        "high-then-char": b'"\\ud800x"',
        "raw-nul": b'"a\x00b"',
        "raw-newline": b'"a\nb"',
        "raw-tab": b'"a\tb"',
        "raw-unit-separator": b'"a\x1fb"',
        "bad-escape": b'"\\x41"',
    }.items():
        yield f.case(f"json-value-{name}", "body.json", base.with_entry(0, value=Raw(raw)))
    yield f.case(
        "json-name-lone-surrogate",
        "body.json",
        base.but(raw_body=body.replace(f'"{f.types[0]}"'.encode(), b'"\\ud800"')),
    )
    yield from passing_entry(
        f, "json-value-surrogate-pair", "body.json", f.base().with_entry(0, value=Raw(b'"\\ud83d\\ude00"'))
    )
    yield from passing_entry(f, "json-value-del-char", "body.json", f.base().with_entry(0, value="a\x7fb"))
    yield from passing_entry(
        f, "json-value-escapes", "body.json", f.base().with_entry(0, value=Raw(b'"\\u0041\\n\\/"'))
    )
    depth = f.oracle.spec.limits.max_json_depth
    nests: dict[str, Callable[[int], str]] = {
        "arrays": lambda n: "[" * n + "]" * n,
        "objects": lambda n: '{"a":' * (n - 1) + "{}" + "}" * (n - 1),
    }
    for kind, nest in nests.items():
        # The top-level object is depth 1: n containers under it reach depth 1 + n.
        ok, deeper = Raw(nest(depth - 1).encode()), Raw(nest(depth).encode())
        yield from passing(f, f"json-depth-{depth}-{kind}", "body.json", f.base().but(extra=(("deep", ok),)))
        yield f.case(f"json-depth-{depth + 1}-{kind}", "body.json", base.but(extra=(("deep", deeper),)))
    yield f.case("json-depth-10000", "body.json", base.but(extra=(("deep", Raw(b"[" * 9999 + b"]" * 9999)),)))
    for name, top in {
        "array": b"[]",
        "wrapped": b"[" + body + b"]",
        "string": b'"x"',
        "number": b"1",
        "null": b"null",
        "true": b"true",
    }.items():
        yield f.case(f"top-level-{name}", "body.object", base.but(raw_body=top))
    yield from passing(
        f, "unknown-fields-ignored", "body.object", f.base().but(extra=(("unknown", {"a": [1]}), ("x", None)))
    )


def size_cases(f: Factory) -> Iterator[Case]:
    limit = f.oracle.spec.limits.max_body_bytes
    base = guarded(f, f.base())
    yield f.case("size-limit-plus-1", "body.size", base.but(size=limit + 1))
    yield f.case("size-5MiB", "body.size", base.but(size=5 << 20))
    yield f.case("size-limit-plus-1-bad-json", "body.size", base.but(size=limit + 1, euid=Raw(b"NaN")))
    yield from passing(f, "size-limit-exact", "body.size", f.base().but(size=limit))


def duplicate_key_cases(f: Factory) -> Iterator[Case]:
    t, e = f.types[0], f.euid
    yield from passing(
        f,
        "duplicate-euid-last-wins",
        "body.json",
        f.base().but(raw_body=f'{{"euid":"x","euid":{e},"contacts":{{"{t}":"v"}}}}'.encode()),
    )
    yield f.case(
        "duplicate-euid-last-invalid",
        "euid.invalid",
        f.base().but(raw_body=f'{{"euid":{e},"euid":"x","contacts":{{"{t}":"v"}}}}'.encode()),
    )
    yield f.case(
        "duplicate-name-last-wins",
        "success",
        f.base().but(raw_body=f'{{"euid":{e},"contacts":{{"{t}":null,"{t}":"v"}}}}'.encode()),
        code=0,
    )
    yield f.case(
        "duplicate-name-last-null",
        "entry.value_null",
        guarded(f, f.base()).but(raw_body=f'{{"euid":{e},"contacts":{{"{t}":"v","{t}":null}}}}'.encode()),
    )
    limit = f.oracle.spec.limits.max_contacts
    fillers = ",".join(f'"unsupported_{i}":"x"' for i in range(1, limit))
    raw = f'{{"euid":{e},"contacts":{{"{t}":"v",{fillers},"{t}":"v"}}}}'.encode()  # limit+1 pairs, limit names
    yield f.case(
        "duplicate-names-count-once",
        "contacts.count",
        f.base().but(raw_body=raw),
        code=0 if len(f.types) >= limit else f.oracle.rule_code("entry.name_unsupported"),
    )


def whole_text_cases(f: Factory) -> Iterator[Case]:
    """The JSON text rules hold for the whole body, a value a later duplicate overrides included."""
    t, e = f.types[0], f.euid
    bad = guarded(f, f.base())
    e_bad = bad.euid if isinstance(bad.euid, int) else f'"{bad.euid}"'
    overridden = {
        "lone-surrogate": b'"\\ud800"',
        "lone-low-surrogate": b'"\\udfff"',
        "NaN": b"NaN",
        "Infinity": b"-Infinity",
        "raw-control": b'"a\x01b"',
        "deep": b"[" * 40 + b"]" * 40,
        "bad-escape": b'"\\q"',
        "leading-zero": b"01",
    }
    for name, raw in overridden.items():
        for field in ("x", "euid", "contacts"):
            body = b'{"%s":%s,"%s":%s,"euid":%s,"contacts":{"%s":"v"}}' % (
                field.encode(),
                raw,
                field.encode(),
                b"1" if field != "contacts" else b"{}",
                str(e_bad).encode(),
                t.encode(),
            )
            if field == "euid":
                body = b'{"euid":%s,"euid":%s,"contacts":{"%s":"v"}}' % (raw, str(e_bad).encode(), t.encode())
            if field == "contacts":
                body = b'{"euid":%s,"contacts":%s,"contacts":{"%s":"v"}}' % (str(e_bad).encode(), raw, t.encode())
            yield f.case(f"json-overridden-{field}-{name}", "body.json", bad.but(raw_body=body))
        entry = b'{"euid":%s,"contacts":{"%s":%s,"%s":"v"}}' % (str(e_bad).encode(), t.encode(), raw, t.encode())
        yield f.case(f"json-overridden-entry-{name}", "body.json", bad.but(raw_body=entry))
    key = b'{"euid":%s,"\\ud800":1,"contacts":{"%s":"v"}}' % (str(e_bad).encode(), t.encode())
    yield f.case("json-lone-surrogate-unknown-key", "body.json", bad.but(raw_body=key))
    good = f'{{"euid":{e},"contacts":{{"{t}":"v"}}}}'.encode()
    yield from passing(f, "json-brackets-in-strings", "body.json", f.base().but(extra=(("s", "[" * 40 + "{" * 40),)))
    yield from passing(f, "json-surrounding-whitespace", "body.json", f.base().but(raw_body=b" \r\n\t" + good + b"\n "))
    yield from passing(f, "json-escaped-control", "body.json", f.base().with_entry(0, value=Raw(b'"a\\u0001b"')))
    yield from passing(
        f,
        "json-duplicate-contacts-last-wins",
        "body.json",
        f.base().but(raw_body=f'{{"euid":{e},"contacts":5,"contacts":{{"{t}":"v"}}}}'.encode()),
    )
    for name, prefix in {
        "form-feed": b"\x0c",
        "nbsp": b"\xc2\xa0",
        "vertical-tab": b"\x0b",
        "unit-separator": b"\x1f",
    }.items():
        yield f.case(f"json-outer-{name}", "body.json", bad.but(raw_body=prefix + bad.body()))
    for literal in (b"01", b"+1", b"1.", b".5", b"0x1", b"-", b"1e", b"True", b"nul"):
        yield f.case(f"json-number-{literal.decode()}", "body.json", bad.but(extra=(("n", Raw(literal)),)))


REQUEST_TABLES: tuple[Table, ...] = (
    auth_cases,
    content_type_cases,
    encoding_cases,
    syntax_cases,
    size_cases,
    duplicate_key_cases,
    whole_text_cases,
)
