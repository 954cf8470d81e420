"""One-rule deviations of the faithful implementation: each breaks exactly one sentence of
contact-api.md by overriding one decision of :class:`faithful.Faithful`.

``DEVIANTS`` covers every section of the contract (route and method, CORS, each auth
rule and what a 40050 may reveal, the body steps and their order, the JSON fine print,
euid, contacts, each entry rule and the entry order, success, statuses, response shape).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faithful import DELETED_DATASOURCE, DELETED_PROJECT, PATH, Faithful, Reject, Reply, Request


@dataclass(frozen=True)
class Deviant:
    name: str
    section: str  # the part of contact-api.md it breaks
    overrides: dict[str, Any]

    def build(self) -> Faithful:
        cls = type("Deviant_" + re.sub(r"\W", "_", self.name), (Faithful,), dict(self.overrides))
        return cls()  # type: ignore[no-any-return]


DEVIANTS: list[Deviant] = []


def deviant(name: str, section: str, /, **overrides: Any) -> None:
    DEVIANTS.append(Deviant(name, section, overrides))


def _wrap_answer(change: Callable[[Faithful, Request, Reply], Reply]) -> Callable[[Faithful, Request], Reply]:
    def answer(self: Faithful, req: Request) -> Reply:
        return change(self, req, Faithful.answer(self, req))

    return answer


def _on_code(code: int, change: Callable[[Reply], None]) -> Callable[[Faithful, Request], Reply]:
    def edit(self: Faithful, req: Request, reply: Reply) -> Reply:
        if reply.code == code:
            change(reply)
        return reply

    return _wrap_answer(edit)


def _set_status(status: int) -> Callable[[Reply], None]:
    def change(reply: Reply) -> None:
        reply.status = status

    return change


def _set_code(code: int) -> Callable[[Reply], None]:
    def change(reply: Reply) -> None:
        reply.code = code

    return change


# ---- 1. route and method ------------------------------------------------------------------
def _route_with(normalise: Callable[[str], str]) -> Callable[[Faithful, str], str]:
    return lambda self, path: normalise(Faithful.routed_path(self, path))


deviant("trailing-slash-served", "route", routed_path=_route_with(lambda p: p.rstrip("/") or "/"))
deviant("path-case-insensitive", "route", routed_path=_route_with(str.lower))
deviant("repeated-slashes-collapsed", "route", routed_path=_route_with(lambda p: re.sub("/+", "/", p)))
deviant(
    "dot-segments-resolved",
    "route",
    routed_path=_route_with(lambda p: __import__("posixpath").normpath(p) if "/." in p else p),
)
deviant("semicolon-params-stripped", "route", routed_path=_route_with(lambda p: p.split(";", 1)[0]))
deviant("suffix-json-served", "route", routed_path=_route_with(lambda p: p.removesuffix(".json")))
deviant("prefix-match-served", "route", routed_path=_route_with(lambda p: PATH if p.startswith(PATH) else p))


def _query_is_route(self: Faithful, req: Request) -> Reply | None:
    if "?" in req.target:
        return self.reply(self.not_found_code, "query", 404)
    return Faithful.route(self, req)


deviant("query-string-routes-404", "route", route=_query_is_route)


def _method_folded(self: Faithful, req: Request) -> Reply | None:
    req.method = req.method.upper()
    return Faithful.route(self, req)


deviant("method-case-insensitive", "route", route=_method_folded)


def _status_for_method(method: str, status: int, code: int | None = None) -> Callable[[Faithful, Request], Any]:
    def route(self: Faithful, req: Request) -> Reply | None:
        reply = Faithful.route(self, req)
        if reply is not None and req.method == method and reply.status == 405:
            reply.status = status
            if code is not None:
                reply.code = code
        return reply

    return route


deviant("put-answers-404", "route", route=_status_for_method("PUT", 404))
deviant("get-answers-400", "route", route=_status_for_method("GET", 400))
deviant("options-answers-204", "route", route=_status_for_method("OPTIONS", 204, 0))
deviant("options-answers-200", "route", route=_status_for_method("OPTIONS", 200))
deviant("head-answers-200", "route", route=_status_for_method("HEAD", 200))
deviant("trace-answers-501", "route", route=_status_for_method("TRACE", 501))
deviant("delete-answers-403", "route", route=_status_for_method("DELETE", 403))
deviant("method-not-allowed-code-0", "route", not_allowed_code=0)
deviant("not-found-code-0", "route", not_found_code=0)
deviant("not-found-55104", "route", not_found_code=55104)


def _unknown_path_405(self: Faithful, req: Request) -> Reply | None:
    reply = Faithful.route(self, req)
    if reply is not None and reply.status == 404 and req.method != "POST":
        reply.status = 405
    return reply


deviant("unknown-path-non-post-405", "route", route=_unknown_path_405)


def _auth_before_route(self: Faithful, req: Request) -> Reply | None:
    self.authenticate(req)
    return Faithful.route(self, req)


deviant("auth-before-route", "route/precedence", route=_auth_before_route)


def _html_404(self: Faithful, req: Request, reply: Reply) -> Reply:
    if reply.status == 404:
        reply.raw = b"<html><body>404 Not Found</body></html>"
        reply.headers = [("Content-Type", "text/html")]
    return reply


deviant("html-404-page", "route", answer=_wrap_answer(_html_404))


def _percent_other(self: Faithful, req: Request) -> Reply | None:
    if "%" in req.path:
        return self.reply(55004, "encoded path", 400)
    return Faithful.route(self, req)


deviant("percent-path-answers-400", "route", route=_percent_other)


def _percent_half(self: Faithful, req: Request) -> Reply | None:
    if "%" in req.path and req.method != "POST":
        return self.reply(0, "", 200)
    return Faithful.route(self, req)


deviant("percent-path-get-succeeds", "route", route=_percent_half)


# ---- CORS ------------------------------------------------------------------------------------
def _cors_all(self: Faithful, req: Request, reply: Reply) -> Reply:
    reply.headers.append(("Access-Control-Allow-Origin", "*"))
    return reply


def _cors_echo(self: Faithful, req: Request, reply: Reply) -> Reply:
    origin = req.header("Origin")
    if origin:
        reply.headers.append(("Access-Control-Allow-Origin", origin))
    return reply


def _cors_preflight(self: Faithful, req: Request) -> Reply | None:
    if req.method == "OPTIONS" and req.header("Access-Control-Request-Method"):
        reply = self.reply(0, "", 204)
        reply.headers.append(("Access-Control-Allow-Methods", "POST"))
        return reply
    return Faithful.route(self, req)


def _cors_success_only(self: Faithful, req: Request, reply: Reply) -> Reply:
    if reply.code == 0 and req.header("Origin"):
        reply.headers.append(("Access-Control-Allow-Credentials", "true"))
    return reply


deviant("cors-allow-origin-everywhere", "cors", answer=_wrap_answer(_cors_all))
deviant("cors-origin-echoed", "cors", answer=_wrap_answer(_cors_echo))
deviant("cors-preflight-answered", "cors", route=_cors_preflight)
deviant("cors-credentials-on-success", "cors", answer=_wrap_answer(_cors_success_only))


# ---- 2. authentication -------------------------------------------------------------------------
def _credentials_with(header_fix: Callable[[str], str]) -> Callable[[Faithful, str | None], tuple[str, str]]:
    return lambda self, header: Faithful.credentials(self, header_fix(header) if header is not None else None)


deviant(
    "scheme-case-sensitive",
    "auth.header",
    credentials=lambda self, h: (
        Faithful.credentials(self, h)
        if h is None or h.startswith("Basic")
        else (_ for _ in ()).throw(Reject(40050, "scheme"))
    ),
)
deviant("tab-after-scheme-accepted", "auth.header", credentials=_credentials_with(lambda h: h.replace("\t", " ", 1)))
deviant(
    "no-space-after-scheme-accepted",
    "auth.header",
    credentials=_credentials_with(lambda h: re.sub(r"^(?i:basic)(?=[A-Za-z0-9+/])", "Basic ", h)),
)
deviant(
    "single-space-only",
    "auth.header",
    credentials=_credentials_with(lambda h: h.replace("  ", "\t") if re.match("(?i)basic  ", h) else h),
)
deviant(
    "other-scheme-accepted",
    "auth.header",
    credentials=_credentials_with(lambda h: re.sub(r"^(Bearer|Token) ", "Basic ", h)),
)


def _lenient_b64(self: Faithful, token: str) -> bytes:
    try:
        return base64.b64decode(token + "==", validate=False)
    except (binascii.Error, ValueError):
        raise Reject(40050, "bad base64") from None


def _noncanonical_ok(self: Faithful, token: str) -> bytes:
    try:
        return base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise Reject(40050, "bad base64") from None


def _unpadded_ok(self: Faithful, token: str) -> bytes:
    if len(token) % 4:
        token += "=" * (-len(token) % 4)
    return Faithful.decode_base64(self, token)


def _urlsafe_ok(self: Faithful, token: str) -> bytes:
    return Faithful.decode_base64(self, token.rstrip("-_"))


def _spaces_in_token_ok(self: Faithful, token: str) -> bytes:
    return Faithful.decode_base64(self, token.replace(" ", ""))


deviant("base64-lenient-decoder", "auth.header", decode_base64=_lenient_b64)
deviant("base64-non-canonical-bits-accepted", "auth.header", decode_base64=_noncanonical_ok)
deviant("base64-unpadded-accepted", "auth.header", decode_base64=_unpadded_ok)
deviant("base64-urlsafe-noise-ignored", "auth.header", decode_base64=_urlsafe_ok)
deviant("base64-inner-spaces-ignored", "auth.header", decode_base64=_spaces_in_token_ok)


def _latin1_credentials(self: Faithful, header: str | None) -> tuple[str, str]:
    if header is None:
        raise Reject(40050, "no credentials")
    try:
        text = base64.b64decode(header.split(" ")[-1], validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return Faithful.credentials(self, header)
    key, _, secret = text.partition(":")
    if not key or not secret:
        return Faithful.credentials(self, header)
    return key, secret


deviant("credentials-decoded-as-latin1", "auth.header", credentials=_latin1_credentials)
deviant("split-at-last-colon", "auth.header", split=lambda self, text: text.rpartition(":"))
deviant(
    "empty-secret-reaches-lookup",
    "auth.header",
    split=lambda self, text: (lambda k, c, s: (k, c, s or "\x00"))(*text.partition(":")),
)
deviant(
    "no-colon-is-key-only",
    "auth.header",
    split=lambda self, text: text.partition(":") if ":" in text else (text, ":", "\x00"),
)
deviant("key-case-insensitive", "auth.key_format", key_pattern=re.compile(r"[0-9a-fA-F]{24}"))
deviant(
    "key-dollar-allows-newline",
    "auth.key_format",
    key_pattern=type("P", (), {"fullmatch": staticmethod(lambda s: re.match(r"^[0-9a-f]{24}$", s))})(),
)
deviant("key-length-23-to-25", "auth.key_format", key_pattern=re.compile(r"[0-9a-f]{23,25}"))
deviant("key-unicode-digits", "auth.key_format", key_pattern=re.compile(r"[\da-f]{24}"))


def _auth_swap(old: int, new: int, detail: str = "") -> Callable[[Faithful, Request], str]:
    def authenticate(self: Faithful, req: Request) -> str:
        try:
            return Faithful.authenticate(self, req)
        except Reject as rejected:
            if rejected.code == old and (not detail or rejected.detail == detail):
                raise Reject(new, rejected.detail) from None
            raise

    return authenticate


deviant("malformed-key-50034", "auth.key_format", authenticate=_auth_swap(50031, 50034))
deviant("unknown-key-40050", "auth.key_unknown", authenticate=_auth_swap(50034, 40050, "unknown key"))
deviant("unknown-key-50031", "auth.key_unknown", authenticate=_auth_swap(50034, 50031, "unknown key"))
deviant("deleted-project-40050", "auth.project_deleted", authenticate=_auth_swap(50034, 40050, "project deleted"))
deviant("deleted-project-50074", "auth.project_deleted", authenticate=_auth_swap(50034, 50074, "project deleted"))
deviant("deleted-datasource-50034", "auth.datasource_deleted", authenticate=_auth_swap(50074, 50034))
deviant("missing-header-50031", "auth.header", authenticate=_auth_swap(40050, 50031, "no credentials"))
deviant("wrong-secret-50034", "auth.secret", authenticate=_auth_swap(40050, 50034, "bad credentials"))
deviant(
    "secret-case-insensitive", "auth.secret", secret_matches=lambda self, sent, stored: sent.lower() == stored.lower()
)
deviant(
    "secret-prefix-accepted",
    "auth.secret",
    secret_matches=lambda self, sent, stored: stored.startswith(sent) or sent.startswith(stored),
)
deviant(
    "secret-trimmed",
    "auth.secret",
    secret_matches=lambda self, sent, stored: sent.split(":")[0] == stored.split(":")[0],
)


def _status_first(self: Faithful, req: Request) -> str:
    """Reveals the project's status before checking the secret."""
    key, _ = self.credentials(req.header("Authorization"))
    project = self.projects.get(key)
    if project is not None and project[1] == "project_deleted":
        raise Reject(50034, "project deleted")
    if project is not None and project[1] == "datasource_deleted":
        raise Reject(50074, "data source deleted")
    return Faithful.authenticate(self, req)


def _status_first_datasource(self: Faithful, req: Request) -> str:
    key, _ = self.credentials(req.header("Authorization"))
    if key == DELETED_DATASOURCE[0]:
        raise Reject(50074, "data source deleted")
    return Faithful.authenticate(self, req)


def _hint_in_message(self: Faithful, req: Request, reply: Reply) -> Reply:
    key = _sent_key(req)
    if reply.code == 40050 and key in (DELETED_PROJECT[0], DELETED_DATASOURCE[0]):
        reply.message += " (note: project inactive)"
    return reply


def _hint_in_status(self: Faithful, req: Request, reply: Reply) -> Reply:
    if reply.code == 40050 and _sent_key(req) == DELETED_PROJECT[0]:
        reply.status = 403
    return reply


def _hint_in_header(self: Faithful, req: Request, reply: Reply) -> Reply:
    if reply.code == 40050 and _sent_key(req) == DELETED_DATASOURCE[0]:
        reply.headers.append(("X-Datasource-State", "removed"))
    return reply


def _echo_secret(self: Faithful, req: Request, reply: Reply) -> Reply:
    secret = _sent_secret(req)
    if reply.code == 40050 and secret:
        reply.message += f" (secret {secret!s} does not match)"
    return reply


def _echo_token(self: Faithful, req: Request, reply: Reply) -> Reply:
    header = req.header("Authorization") or ""
    if reply.code != 0 and header:
        reply.headers.append(("X-Echo-Authorization", header))
    return reply


def _echo_secret_everywhere(self: Faithful, req: Request, reply: Reply) -> Reply:
    secret = _sent_secret(req)
    if reply.code == 55108 and secret:
        reply.message += f" [caller {_sent_key(req)}:{secret}]"
    return reply


deviant("wrong-secret-reveals-deleted-project", "auth.status_hidden", authenticate=_status_first)
deviant("wrong-secret-reveals-deleted-datasource", "auth.status_hidden", authenticate=_status_first_datasource)
deviant("wrong-secret-message-hints-status", "auth.status_hidden", answer=_wrap_answer(_hint_in_message))
deviant("wrong-secret-status-hints-project", "auth.status_hidden", answer=_wrap_answer(_hint_in_status))
deviant("wrong-secret-header-hints-datasource", "auth.status_hidden", answer=_wrap_answer(_hint_in_header))
deviant("40050-echoes-secret", "auth.no_echo", answer=_wrap_answer(_echo_secret))
deviant("errors-echo-authorization", "auth.no_echo", answer=_wrap_answer(_echo_token))
deviant("55108-echoes-credentials", "auth.no_echo", answer=_wrap_answer(_echo_secret_everywhere))


def _sent_secret(req: Request) -> str:
    return _sent_pair(req)[1]


def _sent_key(req: Request) -> str:
    return _sent_pair(req)[0]


def _sent_pair(req: Request) -> tuple[str, str]:
    try:
        text = base64.b64decode((req.header("Authorization") or "").split(" ")[-1]).decode()
    except (binascii.Error, ValueError):
        return "", ""
    key, _, secret = text.partition(":")
    return key, secret


# ---- 3. body -------------------------------------------------------------------------------------
def _size_before_auth(self: Faithful, req: Request) -> str:
    if len(req.body) > self.max_body:
        raise Reject(55004, "too large", 413)
    return Faithful.authenticate(self, req)


def _ctype_before_size(self: Faithful, req: Request) -> dict[str, Any]:
    self.content_type(req.header("Content-Type"))
    return Faithful.body(self, req)


# Not a deviant: parsing the JSON before checking the Content-Type answers every request alike
# (both failures are 55004 with HTTP 400), so no client can tell; the contract's order is invisible there.


deviant("size-limit-plus-one-accepted", "body.size", max_body=(1 << 20) + 1)
deviant("size-limit-exact-refused", "body.size", max_body=(1 << 20) - 1)
deviant("size-checked-before-auth", "body.size", authenticate=_size_before_auth)
deviant("content-type-before-size", "body.size", body=_ctype_before_size)
deviant(
    "413-answered-400",
    "body.size",
    reply=lambda self, code, detail, status=None: Faithful.reply(self, code, detail, 400 if status == 413 else status),
)
deviant(
    "413-with-code-55101",
    "body.size",
    reply=lambda self, code, detail, status=None: Faithful.reply(
        self, 55101 if status == 413 else code, detail, status
    ),
)


def _ctype_lenient(accept: Callable[[str | None], bool]) -> Callable[[Faithful, str | None], None]:
    def content_type(self: Faithful, value: str | None) -> None:
        if accept(value):
            return
        Faithful.content_type(self, value)

    return content_type


deviant("content-type-missing-accepted", "body.content_type", content_type=_ctype_lenient(lambda v: v is None))
deviant("content-type-empty-accepted", "body.content_type", content_type=_ctype_lenient(lambda v: v == ""))
deviant(
    "content-type-text-plain-accepted",
    "body.content_type",
    content_type=_ctype_lenient(lambda v: (v or "").startswith("text/plain")),
)
deviant(
    "content-type-plus-json-accepted",
    "body.content_type",
    content_type=_ctype_lenient(lambda v: (v or "").split(";")[0].strip().endswith("+json")),
)
deviant(
    "content-type-charset-ignored",
    "body.content_type",
    content_type=_ctype_lenient(lambda v: (v or "").lower().startswith("application/json")),
)
deviant(
    "content-type-prefix-match",
    "body.content_type",
    content_type=_ctype_lenient(lambda v: (v or "").startswith("application/json")),
)
deviant("content-type-text-json-accepted", "body.content_type", content_type=_ctype_lenient(lambda v: v == "text/json"))


def _ctype_case_sensitive(self: Faithful, value: str | None) -> None:
    if value is not None and not value.startswith("application/json"):
        raise Reject(55004, "Content-Type")
    Faithful.content_type(self, value)


def _ctype_no_params(self: Faithful, value: str | None) -> None:
    if value is not None and ";" in value:
        raise Reject(55004, "Content-Type parameters")
    Faithful.content_type(self, value)


deviant("content-type-case-sensitive", "body.content_type", content_type=_ctype_case_sensitive)
deviant("content-type-parameters-refused", "body.content_type", content_type=_ctype_no_params)
deviant("bom-accepted", "body.utf8", utf8=lambda self, body: Faithful.utf8(self, body.removeprefix(b"\xef\xbb\xbf")))
deviant("utf8-decoded-with-replacement", "body.utf8", utf8=lambda self, body: body.decode("utf-8", "replace"))
deviant(
    "utf16-detected",
    "body.utf8",
    utf8=lambda self, body: (
        body.decode("utf-16") if body[:2] in (b"\xff\xfe", b"\xfe\xff") else Faithful.utf8(self, body)
    ),
)
deviant(
    "latin1-fallback",
    "body.utf8",
    utf8=lambda self, body: Faithful.utf8(self, body) if _is_utf8(body) else body.decode("latin-1"),
)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---- JSON fine print --------------------------------------------------------------------------------
deviant("nan-accepted", "body.json", constant=lambda self, name: float(name.replace("Infinity", "inf")))
deviant(
    "control-characters-accepted",
    "body.json",
    parse=lambda self, text: (
        Faithful.parse(self, re.sub(r"[\x00-\x1f]", " ", text)) if self.depth(text) < 32 else Faithful.parse(self, text)
    ),
)
deviant("lone-surrogates-accepted", "body.json", pairs=lambda self, items: dict(items))


def _surrogates_final_only(self: Faithful, items: list[tuple[str, Any]]) -> dict[str, Any]:
    return Faithful.pairs(self, list(dict(items).items()))


deviant("surrogates-checked-after-duplicates", "body.json", pairs=_surrogates_final_only)


def _nan_final_only(self: Faithful, text: str) -> Any:
    doc = json.loads(text, object_pairs_hook=lambda items: dict(items)) if self.depth(text) <= 32 else None
    if doc is None:
        return Faithful.parse(self, text)
    if "NaN" in text or "Infinity" in text:
        if _has_nonfinite(doc):
            raise Reject(55004, "NaN")
        return Faithful.parse(self, text.replace("-Infinity", "0").replace("Infinity", "0").replace("NaN", "0"))
    return Faithful.parse(self, text)


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nonfinite(v) for v in value)
    return False


deviant("nan-checked-after-duplicates", "body.json", parse=_nan_final_only)


def _depth_of_tree(self: Faithful, text: str) -> int:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return Faithful.depth(self, text)
    return _tree_depth(doc)


def _tree_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_tree_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_tree_depth(v) for v in value), default=0)
    return 0


deviant("depth-checked-after-duplicates", "body.json", depth=_depth_of_tree)
deviant(
    "depth-counts-brackets-in-strings",
    "body.json",
    depth=lambda self, text: max(Faithful.depth(self, text), _naive_depth(text)),
)
deviant("depth-limit-33", "body.json", max_depth=33)
deviant("depth-limit-31", "body.json", max_depth=31)
deviant(
    "depth-counts-objects-only",
    "body.json",
    depth=lambda self, text: Faithful.depth(self, text.replace("[", "(").replace("]", ")")),
)


def _naive_depth(text: str) -> int:
    deepest = level = 0
    for ch in text:
        if ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


deviant(
    "trailing-garbage-accepted",
    "body.json",
    parse=lambda self, text: Faithful.parse(self, text[: _first_value_end(text)]),
)
deviant("outer-whitespace-stripped", "body.json", parse=lambda self, text: Faithful.parse(self, text.strip()))
deviant(
    "big-integer-crashes",
    "euid.invalid",
    integer=lambda self, literal: (
        int(literal) if len(literal) < 4000 else (_ for _ in ()).throw(Reject(-1, "internal", 500))
    ),
)
deviant(
    "leading-zero-accepted",
    "body.json",
    parse=lambda self, text: Faithful.parse(self, re.sub(r"(?<=[:\[,])0+(\d)", r"\1", text)),
)


def _first_value_end(text: str) -> int:
    try:
        return json.JSONDecoder().raw_decode(text.lstrip())[1] + (len(text) - len(text.lstrip()))
    except ValueError:
        return len(text)


def _first_duplicate_wins(self: Faithful, items: list[tuple[str, Any]]) -> dict[str, Any]:
    Faithful.pairs(self, items)
    out: dict[str, Any] = {}
    for name, value in items:
        out.setdefault(name, value)
    return out


def _duplicates_refused(self: Faithful, items: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({n for n, _ in items}) != len(items):
        raise ValueError("duplicate key")
    return Faithful.pairs(self, items)


deviant("first-duplicate-wins", "body.json", pairs=_first_duplicate_wins)
deviant("duplicate-keys-refused", "body.json", pairs=_duplicates_refused)
deviant(
    "top-level-array-unwrapped",
    "body.object",
    parse=lambda self, text: (lambda d: d[0] if isinstance(d, list) and d and isinstance(d[0], dict) else d)(
        Faithful.parse(self, text)
    ),
)
deviant(
    "unknown-fields-refused",
    "body.object",
    euid=lambda self, doc: (
        Faithful.euid(self, doc)
        if set(doc) <= {"euid", "contacts"}
        else (_ for _ in ()).throw(Reject(55004, "unknown field"))
    ),
)


# ---- 4. euid ---------------------------------------------------------------------------------------
def _euid_with(change: Callable[[Any], Any]) -> Callable[[Faithful, dict[str, Any]], int]:
    def euid(self: Faithful, doc: dict[str, Any]) -> int:
        return Faithful.euid(self, {**doc, "euid": change(doc.get("euid"))} if "euid" in doc else doc)

    return euid


deviant("euid-bool-accepted", "euid.invalid", euid=_euid_with(lambda v: int(v) if isinstance(v, bool) else v))
deviant(
    "euid-numeric-string-accepted",
    "euid.invalid",
    euid=_euid_with(lambda v: int(v) if isinstance(v, str) and v.isdigit() else v),
)
deviant(
    "euid-integral-float-accepted",
    "euid.invalid",
    euid=_euid_with(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v),
)
deviant("euid-zero-accepted", "euid.invalid", euid_min=0)
deviant("euid-one-refused", "euid.invalid", euid_min=2)
deviant("euid-unsigned-64", "euid.invalid", euid_max=2**64 - 1)
deviant("euid-max-refused", "euid.invalid", euid_max=2**63 - 2)
deviant("euid-negative-absolute", "euid.invalid", euid=_euid_with(lambda v: abs(v) if type(v) is int else v))
deviant(
    "euid-empty-string-55108",
    "euid.missing",
    euid=lambda self, doc: (
        (_ for _ in ()).throw(Reject(55108, "euid")) if doc.get("euid") == "" else Faithful.euid(self, doc)
    ),
)
deviant(
    "euid-null-55108",
    "euid.missing",
    euid=lambda self, doc: (
        (_ for _ in ()).throw(Reject(55108, "euid"))
        if "euid" in doc and doc["euid"] is None
        else Faithful.euid(self, doc)
    ),
)
deviant(
    "euid-missing-55004",
    "euid.missing",
    euid=lambda self, doc: (
        (_ for _ in ()).throw(Reject(55004, "euid")) if "euid" not in doc else Faithful.euid(self, doc)
    ),
)
deviant(
    "euid-zero-40007",
    "euid.invalid",
    euid=lambda self, doc: (
        (_ for _ in ()).throw(Reject(40007, "euid"))
        if doc.get("euid") == 0 and type(doc.get("euid")) is int
        else Faithful.euid(self, doc)
    ),
)


def _euid_after(self: Faithful, doc: dict[str, Any]) -> int:
    self.contacts(doc)
    return Faithful.euid(self, doc)


deviant("contacts-checked-before-euid", "precedence", euid=_euid_after)


# ---- 5. contacts as a whole ------------------------------------------------------------------------
def _contacts_with(change: Callable[[Any], Any]) -> Callable[[Faithful, dict[str, Any]], dict[str, Any]]:
    def contacts(self: Faithful, doc: dict[str, Any]) -> dict[str, Any]:
        return Faithful.contacts(self, {**doc, "contacts": change(doc.get("contacts"))})

    return contacts


deviant(
    "contacts-falsy-empty",
    "contacts.type",
    contacts=_contacts_with(lambda v: {} if v in (None, False, "", 0, []) and "x" else v),
)
deviant("contacts-array-empty-55103", "contacts.type", contacts=_contacts_with(lambda v: {} if v == [] else v))
deviant(
    "contacts-pairs-accepted",
    "contacts.type",
    contacts=_contacts_with(
        lambda v: dict(v) if isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v) and v else v
    ),
)
deviant(
    "contacts-json-string-parsed",
    "contacts.type",
    contacts=_contacts_with(lambda v: _json_or(v) if isinstance(v, str) else v),
)
deviant(
    "contacts-array-of-objects-merged",
    "contacts.type",
    contacts=_contacts_with(
        lambda v: (
            {k: x for d in v for k, x in d.items()}
            if isinstance(v, list) and v and all(isinstance(d, dict) for d in v)
            else v
        )
    ),
)
deviant(
    "contacts-false-55103",
    "contacts.type",
    contacts=lambda self, doc: (
        (_ for _ in ()).throw(Reject(55103, "contacts"))
        if doc.get("contacts") is False
        else Faithful.contacts(self, doc)
    ),
)
deviant(
    "contacts-null-55103",
    "contacts.type",
    contacts=lambda self, doc: (
        (_ for _ in ()).throw(Reject(55103, "contacts"))
        if "contacts" in doc and doc["contacts"] is None
        else Faithful.contacts(self, doc)
    ),
)
deviant(
    "contacts-empty-55004",
    "contacts.empty",
    contacts=lambda self, doc: (
        (_ for _ in ()).throw(Reject(55004, "contacts")) if doc.get("contacts") == {} else Faithful.contacts(self, doc)
    ),
)
deviant("contacts-101-accepted", "contacts.count", max_contacts=101)
deviant("contacts-100-refused", "contacts.count", max_contacts=99)


def _json_or(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _count_after_entries(self: Faithful, doc: dict[str, Any]) -> dict[str, Any]:
    value = doc.get("contacts")
    if isinstance(value, dict) and value:
        self.entries(dict(list(value.items())[:2]))
    return Faithful.contacts(self, doc)


deviant("count-after-first-entries", "contacts.count", contacts=_count_after_entries)


# ---- 6. entries --------------------------------------------------------------------------------------
def _name_rule(pattern: str | None = None, **attrs: Any) -> dict[str, Any]:
    if pattern is not None:
        attrs["name_pattern"] = re.compile(pattern)
    return attrs


deviant("name-allows-hyphen", "entry.name_invalid", **_name_rule(r"[A-Za-z_][A-Za-z0-9_\-]*"))
deviant("name-allows-leading-digit", "entry.name_invalid", **_name_rule(r"[A-Za-z0-9_]+"))
deviant("name-unicode-word", "entry.name_invalid", **_name_rule(r"(?!\d)\w+"))
deviant(
    "name-dollar-newline",
    "entry.name_invalid",
    name_pattern=type("P", (), {"fullmatch": staticmethod(lambda s: re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", s))})(),
)
deviant(
    "name-search-not-fullmatch",
    "entry.name_invalid",
    name_pattern=type("P", (), {"fullmatch": staticmethod(lambda s: re.search(r"[A-Za-z_][A-Za-z0-9_]*", s))})(),
)
deviant("name-65-characters-accepted", "entry.name_invalid", max_name=65)
deviant("name-64-characters-refused", "entry.name_invalid", max_name=63)
deviant(
    "name-empty-55106",
    "entry.name_invalid",
    name=lambda self, name: (_ for _ in ()).throw(Reject(55106, "name")) if name == "" else Faithful.name(self, name),
)
deviant(
    "name-types-case-insensitive",
    "entry.name_unsupported",
    name=lambda self, name: Faithful.name(self, name.lower() if name.lower() in self.contact_types else name),
)
deviant("name-wechat-accepted", "entry.name_unsupported", contact_types=("mobile_phone", "email", "wechat"))
deviant("name-sms-accepted", "entry.name_unsupported", contact_types=("mobile_phone", "email", "sms"))
deviant(
    "name-unsupported-55102",
    "entry.name_unsupported",
    name=lambda self, name: Faithful.name(
        self, "1" + name if self.name_pattern.fullmatch(name) and name not in self.contact_types else name
    ),
)


def _value_with(change: Callable[[Any], Any]) -> Callable[[Faithful, str, Any], None]:
    return lambda self, name, value: Faithful.value(self, name, change(value))


deviant(
    "value-numbers-coerced",
    "entry.value_type",
    value=_value_with(lambda v: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v),
)
deviant(
    "value-bools-coerced", "entry.value_type", value=_value_with(lambda v: str(v).lower() if isinstance(v, bool) else v)
)
deviant(
    "value-arrays-joined",
    "entry.value_type",
    value=_value_with(lambda v: ",".join(map(str, v)) if isinstance(v, list) and v else v),
)
deviant(
    "value-objects-serialised",
    "entry.value_type",
    value=_value_with(lambda v: json.dumps(v) if isinstance(v, dict) and v else v),
)
deviant(
    "value-null-deletes",
    "entry.value_null",
    value=lambda self, name, value: None if value is None else Faithful.value(self, name, value),
)
deviant("value-null-55107", "entry.value_null", value=_value_with(lambda v: "" if v is None else v))
deviant(
    "value-empty-55103",
    "entry.value_blank",
    value=lambda self, name, value: (
        (_ for _ in ()).throw(Reject(55103, name)) if value == "" else Faithful.value(self, name, value)
    ),
)
deviant("blank-is-isspace", "entry.value_blank", blank=lambda self, v: v == "" or v.isspace())
deviant("blank-ascii-only", "entry.value_blank", blank=lambda self, v: v.strip(" \t\n\r") == "")
deviant(
    "blank-includes-zero-width",
    "entry.value_blank",
    blank=lambda self, v: all(c in self.white_space or c in "\u200b\ufeff\u180e" for c in v),
)
deviant(
    "blank-misses-ideographic-space",
    "entry.value_blank",
    blank=lambda self, v: all(c in self.white_space and c != "\u3000" for c in v),
)
deviant("value-length-255", "entry.value_length", max_value=255)
deviant("value-length-257", "entry.value_length", max_value=257)
deviant("value-length-utf8-bytes", "entry.value_length", length=lambda self, v: len(v.encode("utf-8")))
deviant(
    "value-length-utf16-units",
    "entry.value_length",
    length=lambda self, v: len(v.encode("utf-16-le", "surrogatepass")) // 2,
)
deviant("value-length-after-strip", "entry.value_length", length=lambda self, v: len(v.strip()))
deviant("value-length-nfc", "entry.value_length", length=lambda self, v: len(unicodedata.normalize("NFC", v)))
deviant(
    "value-length-graphemes",
    "entry.value_length",
    length=lambda self, v: sum(1 for c in v if not unicodedata.combining(c)),
)


def _length_before_blank(self: Faithful, name: str, value: Any) -> None:
    if isinstance(value, str) and self.length(value) > self.max_value:
        raise Reject(55105, name)
    Faithful.value(self, name, value)


def _value_before_name(self: Faithful, name: str, value: Any) -> None:
    self.value(name, value)
    self.name(name)


def _null_before_type(self: Faithful, name: str, value: Any) -> None:
    if value is None:
        raise Reject(55103, name)
    Faithful.value(self, name, value)


def _blank_before_null(self: Faithful, name: str, value: Any) -> None:
    if isinstance(value, str) and self.blank(value):
        raise Reject(55107, name)
    Faithful.value(self, name, value)


deviant("length-checked-before-blank", "entry.value_length", value=_length_before_blank)
deviant("value-checked-before-name", "entry.order", entry=_value_before_name)


def _rule_by_rule(self: Faithful, contacts: dict[str, Any]) -> None:
    for name in contacts:
        self.name(name)
    for name, value in contacts.items():
        self.value(name, value)


def _sorted_entries(self: Faithful, contacts: dict[str, Any]) -> None:
    for name in sorted(contacts):
        self.entry(name, contacts[name])


def _reversed_entries(self: Faithful, contacts: dict[str, Any]) -> None:
    for name in reversed(list(contacts)):
        self.entry(name, contacts[name])


def _first_entry_only(self: Faithful, contacts: dict[str, Any]) -> None:
    name, value = next(iter(contacts.items()))
    self.entry(name, value)


def _names_unsupported_last(self: Faithful, contacts: dict[str, Any]) -> None:
    for name, value in contacts.items():
        if not name or len(name) > self.max_name or not self.name_pattern.fullmatch(name):
            raise Reject(55102, name)
        if name in self.contact_types:
            self.value(name, value)
    Faithful.entries(self, contacts)


deviant("entries-checked-rule-by-rule", "entry.order", entries=_rule_by_rule)
deviant("entries-sorted-by-name", "entry.order", entries=_sorted_entries)
deviant("entries-checked-last-first", "entry.order", entries=_reversed_entries)
deviant("only-first-entry-checked", "entry.order", entries=_first_entry_only)
deviant("unsupported-names-checked-last", "entry.order", entries=_names_unsupported_last)


# ---- 7. success and the response -----------------------------------------------------------------------
def _not_idempotent(self: Faithful, key: str, euid: int, contacts: dict[str, str]) -> None:
    with self.lock:
        stored = self.store.setdefault((key, euid), {})
        if stored and all(stored.get(k) == v for k, v in contacts.items()):
            raise Reject(55004, "already set")
        stored.update(contacts)


deviant("success-not-idempotent", "success", write=_not_idempotent)
deviant("success-message-ok", "response.shape", answer=_on_code(0, lambda r: setattr(r, "message", "OK")))
deviant("success-201", "response.status", answer=_on_code(0, _set_status(201)))
deviant("message-empty", "response.shape", answer=_on_code(55108, lambda r: setattr(r, "message", "")))
deviant(
    "message-without-description",
    "response.shape",
    answer=_on_code(55107, lambda r: setattr(r, "message", "value is blank")),
)
deviant(
    "code-as-string",
    "response.shape",
    answer=_wrap_answer(lambda self, req, r: _raw(r, {"code": str(r.code), "message": r.message})),
)
deviant(
    "extra-response-field",
    "response.shape",
    answer=_wrap_answer(lambda self, req, r: _raw(r, {"code": r.code, "message": r.message, "request_id": "x"})),
)
deviant(
    "text-plain-content-type",
    "response.shape",
    answer=_wrap_answer(lambda self, req, r: (setattr(r, "headers", [("Content-Type", "text/plain")]), r)[1]),
)
deviant("undocumented-55104-for-blank", "response.no_55104", answer=_on_code(55107, _set_code(55104)))
deviant(
    "internal-error-on-long-name",
    "response.no_internal_error",
    name=lambda self, name: (
        (_ for _ in ()).throw(Reject(-1, "crash", 500)) if len(name) > 500 else Faithful.name(self, name)
    ),
)
for _code, _status in (
    (40050, 403),
    (50031, 400),
    (50034, 404),
    (50074, 403),
    (40007, 422),
    (55004, 422),
    (55101, 413),
    (55102, 422),
    (55103, 422),
    (55105, 422),
    (55106, 422),
    (55107, 422),
    (55108, 422),
):
    deviant(f"status-{_code}-as-{_status}", "response.status", answer=_on_code(_code, _set_status(_status)))
for _old, _new in (
    (55105, 55107),
    (55107, 55103),
    (55103, 55107),
    (55106, 55102),
    (55102, 55106),
    (55108, 40007),
    (40007, 55108),
    (55101, 55004),
    (50031, 40050),
    (55004, 55102),
):
    deviant(f"code-{_old}-as-{_new}", "codes", answer=_on_code(_old, _set_code(_new)))


def _raw(reply: Reply, payload: dict[str, Any]) -> Reply:
    reply.raw = json.dumps(payload).encode()
    return reply


deviant("head-with-body", "route", head_body=True)
