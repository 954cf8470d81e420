"""Explicit case tables: every rule of errors.json, its boundaries and its pass side.

A request that must *pass* a rule is sent twice: once as it is (a success,
only where writes are allowed) and once with a later failure appended, so
that a read-safe run still proves the rule let it through.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

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
        yield f.case(f"{case_id}/then-euid-invalid", rule, draft.but(euid=NOT_A_NUMBER), code=55108, needs=needs)


def passing_entry(f: Factory, case_id: str, rule: str, draft: Draft) -> Iterator[Case]:
    """Like `passing`, proving an entry passed by failing on the next entry."""
    yield f.case(f"{case_id}/success", "success", draft, code=0)
    used = {name for name, _ in draft.entries}
    spare = next((t for t in f.types if t not in used), None)
    name, code = (spare, 55103) if spare else ("zz_not_a_contact_type", 55106)
    later = draft.but(entries=(*draft.entries, (name, None)))
    yield f.case(f"{case_id}/then-next-entry-fails", rule, later, code=code)


def guarded(f: Factory, draft: Draft) -> Draft:
    """Without write permission a request that should fail early must not be able
    to write if the target wrongly lets it through: give it an invalid euid."""
    return draft if f.config.writes else draft.but(euid=NOT_A_NUMBER)


def route_cases(f: Factory) -> Iterator[Case]:
    base = guarded(f, f.base())
    # Methods are case-sensitive (RFC 9110): "post" is not POST.
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "post", "Post"):
        yield f.case(f"method-{method}", "route.method", base.but(method=method))
    yield f.case("method-PUT-unauthenticated", "route.method", base.but(method="PUT", authorization=None))
    for path in (
        "/v1/user/contact/",
        "/v1/user/contacts",
        "/v1/user/Contact",
        "/V1/user/contact",
        "/v1/user",
        "/",
        "/v1/user/contact.json",
        "/v2/user/contact",
        "/v1/user/contact/x",
    ):
        yield f.case(f"path-{path}", "route.path", base.but(path=path))
    yield f.case("path-unknown-GET", "route.path", base.but(path="/v1/user/unknown", method="GET"))
    yield from passing(f, "query-string-ignored", "route.path", f.base().but(query="euid=1&x=%00"))


def _token(text: bytes) -> str:
    return base64.b64encode(text).decode()


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
        "no-colon": f"Basic {_token((c.key + c.secret).encode())}",
        "empty-key": f"Basic {_token((':' + c.secret).encode())}",
        "empty-secret": f"Basic {_token((c.key + ':').encode())}",
        "empty-both": f"Basic {_token(b':')}",
        "not-utf8": "Basic " + _token(c.key.encode()[:-1] + b"\xff:" + c.secret.encode()),
        "raw-latin1-bytes": b"Basic \xe9\xff",
        "double-scheme": f"Basic Basic {good}",
        "tab-separator": f"Basic\t{good}",  # "one or more spaces": a tab is not one
    }
    if good.endswith("="):
        header["unpadded"] = f"Basic {good.rstrip('=')}"
        pos = len(good.rstrip("=")) - 1
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        # Flip an unused low bit: lenient decoders still read the same bytes.
        header["non-canonical-bits"] = f"Basic {good[:pos]}{alphabet[alphabet.index(good[pos]) ^ 1]}{good[pos + 1 :]}"
        header["extra-padding"] = f"Basic {good}="
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
        code=0 if len(f.types) >= limit else 55106,
    )


REQUEST_TABLES: tuple[Table, ...] = (
    route_cases,
    auth_cases,
    content_type_cases,
    encoding_cases,
    syntax_cases,
    size_cases,
    duplicate_key_cases,
)
