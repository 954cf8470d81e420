"""Route cases: methods, unknown spellings of the path, percent-encoded spellings, CORS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from engagelab_kit.contract_tests.case import Case, Factory
from engagelab_kit.contract_tests.tables import NOT_A_NUMBER, Table, guarded, passing

# Spellings the contract names as unknown paths: trailing slash, repeated slashes, dot segments,
# ';' parameters, case changes; and some plain neighbours.
UNKNOWN_SPELLINGS = (
    "/v1/user/contact/",
    "/v1//user/contact",
    "/v1/user//contact",
    "/v1/user/contact//",
    "/v1/./user/contact",
    "/v1/user/./contact",
    "/v1/user/contact/.",
    "/v1/x/../user/contact",
    "/v1/user/contact/..",
    "/v1/user/contact;",
    "/v1/user/contact;v=1",
    "/v1/user;x/contact",
    "/v1/user/Contact",
    "/V1/user/contact",
    "/V1/USER/CONTACT",
    "/v1/User/contact",
    "/v1/user/contacts",
    "/v1/user",
    "/",
    "/v1/user/contact.json",
    "/v2/user/contact",
    "/v1/user/contact/x",
)
# Ambiguous spellings: percent-encoding of the path itself; 404 or the endpoint's own answer.
PERCENT_SPELLINGS = (
    "/v1/user/%63ontact",
    "/v1%2Fuser%2Fcontact",
    "/v1%2fuser%2fcontact",
    "/%76%31/%75%73%65%72/%63%6F%6E%74%61%63%74",
    "/v1/user/contac%74",
)
METHODS = ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "post", "Post")
ORIGIN = "https://app.example.com"


def route_cases(f: Factory) -> Iterator[Case]:
    base = guarded(f, f.base())
    # Methods are case-sensitive (RFC 9110): "post" is not POST.
    for method in METHODS:
        yield f.case(f"method-{method}", "route.method", base.but(method=method))
    yield f.case("method-PUT-unauthenticated", "route.method", base.but(method="PUT", authorization=None))
    for path in UNKNOWN_SPELLINGS:
        if path != f.oracle.spec.contact_path:
            yield f.case(f"path-{path}", "route.path", base.but(path=path))
    for method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        yield f.case(f"path-unknown-{method}", "route.path", base.but(path="/v1/user/unknown", method=method))
    yield f.case("path-unknown-unauthenticated", "route.path", base.but(path="/nowhere", authorization=None))
    yield from passing(f, "query-string-ignored", "route.path", f.base().but(query="euid=1&x=%00"))
    yield from passing(f, "query-string-path-like", "route.path", f.base().but(query="/v1/user/contact/"))
    yield from percent_cases(f)
    yield from cors_cases(f)


def percent_cases(f: Factory) -> Iterator[Case]:
    """Either a 404 (any non-zero code) or exactly what the endpoint answers the same request."""
    unknown = (None, 404)
    for path in PERCENT_SPELLINGS:
        for label, draft in (
            ("success", f.base()),
            ("auth", guarded(f, f.base()).but(authorization=None)),
            ("euid", f.base().but(euid=NOT_A_NUMBER)),
        ):
            code = 0 if label == "success" else None
            case = f.case(
                f"percent-{path}/{label}",
                "route.percent_encoded",
                draft.but(path=path),
                code=code,
                rule_of_code={"auth": "auth.header", "euid": "euid.invalid"}.get(label, "success"),
            )
            yield replace(case, also=(unknown,))
        get = f.case(
            f"percent-{path}/GET",
            "route.percent_encoded",
            f.base().but(path=path, method="GET"),
            rule_of_code="route.method",
        )
        yield replace(get, also=(unknown,))


def cors_cases(f: Factory) -> Iterator[Case]:
    """No CORS: a preflight is just another method (405), and no answer carries Access-Control-* headers."""
    base = guarded(f, f.base())
    preflight = (
        ("Origin", ORIGIN),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "authorization,content-type"),
    )
    yield f.case(
        "cors-preflight",
        "route.no_cors",
        base.but(method="OPTIONS", extra_headers=preflight),
        rule_of_code="route.method",
    )
    yield f.case(
        "cors-preflight-unknown-path",
        "route.no_cors",
        base.but(method="OPTIONS", path="/v1/user", extra_headers=preflight),
        rule_of_code="route.path",
    )
    origin = (("Origin", ORIGIN),)
    yield f.case(
        "cors-origin-success", "route.no_cors", f.base().but(extra_headers=origin), code=0, rule_of_code="success"
    )
    yield f.case(
        "cors-origin-rejected",
        "route.no_cors",
        base.but(authorization=None, extra_headers=origin),
        rule_of_code="auth.header",
    )
    null_origin = f.base().but(euid=NOT_A_NUMBER, extra_headers=(("Origin", "null"),))
    yield f.case("cors-origin-null", "route.no_cors", null_origin, rule_of_code="euid.invalid")


ROUTE_TABLES: tuple[Table, ...] = (route_cases,)
