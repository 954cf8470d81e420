"""Deliberately drifted targets: WSGI middlewares around the mock, one drift each.

Each deviant names the case (glob) the suite must flag, so a test proves the
right check fired, not just that something failed.
"""

from __future__ import annotations

import base64
import io
import json
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WsgiApp = Callable[..., Any]


@dataclass
class Exchange:
    environ: dict[str, Any]
    body: bytes
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    out: bytes = b""

    def doc(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    def contacts(self) -> dict[str, Any]:
        doc = self.doc()
        value = doc.get("contacts") if isinstance(doc, dict) else None
        return value if isinstance(value, dict) else {}

    def code(self) -> Any:
        try:
            return json.loads(self.out).get("code")
        except (ValueError, AttributeError):
            return None

    def answer(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        self.status = status
        self.out = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.headers = [("Content-Type", content_type), ("Content-Length", str(len(self.out)))]

    def fail(self, code: int, status: int = 400, message: str = "Business parameters are invalid.") -> None:
        messages = {
            55105: "The value of the user identifier cannot exceed 256 characters.",
            55107: "The value of the user identifier is empty.",
            55108: "Invalid EUID.",
            55101: "The number of user identifiers exceeds the limit.",
            50034: "Project ID does not exist.",
            -1: "Internal server error.",
        }
        self.answer(status, {"code": code, "message": messages.get(code, message)})

    def auth_key(self) -> str:
        header = self.environ.get("HTTP_AUTHORIZATION", "")
        try:
            return base64.b64decode(header.split(" ")[-1]).decode().split(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""


Hook = Callable[[Exchange], None]


def wrap(app: WsgiApp, before: Hook | None = None, after: Hook | None = None) -> WsgiApp:
    """`before` may rewrite the request or answer it; `after` may rewrite the answer."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        ex = Exchange(environ, environ["wsgi.input"].read(length))
        if before is not None:
            before(ex)
        if not ex.status:
            environ["wsgi.input"] = io.BytesIO(ex.body)
            environ["CONTENT_LENGTH"] = str(len(ex.body))

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                ex.status, ex.headers = int(status.split()[0]), list(headers)
                return lambda data: None

            result = app(environ, capture)
            ex.out = b"".join(result)
            if after is not None:
                after(ex)
        headers = [(k, v) for k, v in ex.headers if k.lower() != "content-length"]
        start_response(f"{ex.status} X", [*headers, ("Content-Length", str(len(ex.out)))])
        return [ex.out]

    return middleware


def _swap_code(old: int, new: int) -> Hook:
    def after(ex: Exchange) -> None:
        if ex.code() == old:
            body = json.loads(ex.out)
            body["code"] = new
            ex.out = json.dumps(body).encode()

    return after


def _value_len(limit: int, measure: Callable[[str], int] = len) -> Hook:
    def before(ex: Exchange) -> None:
        if any(isinstance(v, str) and v.strip() and measure(v) > limit for v in ex.contacts().values()):
            ex.fail(55105)

    return before


def _rewrite_header(name: str, change: Callable[[str], str]) -> Hook:
    def before(ex: Exchange) -> None:
        if name in ex.environ:
            ex.environ[name] = change(ex.environ[name])

    return before


def _lower_key(value: str) -> str:
    scheme, _, token = value.partition(" ")
    try:
        key, _, secret = base64.b64decode(token).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return value
    return f"{scheme} {base64.b64encode(f'{key.lower()}:{secret}'.encode()).decode()}"


def _any_secret(value: str) -> str:
    _, _, token = value.partition(" ")
    try:
        key = base64.b64decode(token).decode().partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return value
    if key == "7d431e42dfa6a6d693ac2d04":
        return "Basic " + base64.b64encode(b"7d431e42dfa6a6d693ac2d04:5e987ac6d2e04d95a9d8f0d1").decode()
    return value


def _body_json(change: Callable[[dict[str, Any]], bool]) -> Hook:
    """Rewrite the parsed body when `change` edits it in place and returns True."""

    def before(ex: Exchange) -> None:
        doc = ex.doc()
        if isinstance(doc, dict) and change(doc):
            ex.body = json.dumps(doc).encode()

    return before


def _float_euid(doc: dict[str, Any]) -> bool:
    if isinstance(doc.get("euid"), float) and doc["euid"].is_integer():
        doc["euid"] = int(doc["euid"])
        return True
    return False


def _strip_names(doc: dict[str, Any]) -> bool:
    contacts = doc.get("contacts")
    if isinstance(contacts, dict) and any(k != k.rstrip("\n") for k in contacts):
        doc["contacts"] = {k.rstrip("\n"): v for k, v in contacts.items()}
        return True
    return False


def _isspace_blank(ex: Exchange) -> None:
    if any(isinstance(v, str) and v and v.isspace() for v in ex.contacts().values()):
        ex.fail(55107)


def _count_100(ex: Exchange) -> None:
    if len(ex.contacts()) >= 100:
        ex.fail(55101)


def _euid_before_auth(ex: Exchange) -> None:
    if ex.code() in (40050, 50031, 50034) and isinstance(ex.doc(), dict) and isinstance(ex.doc().get("euid"), str):
        ex.fail(55108)


def _extra_field(ex: Exchange) -> None:
    body = json.loads(ex.out or b"{}")
    body["request_id"] = "abc"
    ex.out = json.dumps(body).encode()


def _string_code(ex: Exchange) -> None:
    body = json.loads(ex.out or b"{}")
    if body.get("code") == 55108:
        body["code"] = "55108"
        ex.out = json.dumps(body).encode()


def _status(code: int, status: int) -> Hook:
    def after(ex: Exchange) -> None:
        if ex.code() == code:
            ex.status = status

    return after


def _slow_success(ex: Exchange) -> None:
    if ex.code() == 0:
        time.sleep(0.25)


def _method_upper(ex: Exchange) -> None:
    ex.environ["REQUEST_METHOD"] = ex.environ["REQUEST_METHOD"].upper()


def _tab_as_space(value: str) -> str:
    return value.replace("\t", " ", 1)


def _nfc_values(doc: dict[str, Any]) -> bool:
    contacts = doc.get("contacts")
    if not isinstance(contacts, dict):
        return False
    for name, value in contacts.items():
        if isinstance(value, str):
            contacts[name] = unicodedata.normalize("NFC", value)
    return True


def _accept_wechat(doc: dict[str, Any]) -> bool:
    contacts = doc.get("contacts")
    if not isinstance(contacts, dict) or "wechat" not in contacts:
        return False
    contacts["email"] = contacts.pop("wechat")
    return True


def _html_404(ex: Exchange) -> None:
    if ex.status == 404:
        ex.answer(404, b"<html><body>Not Found</body></html>", "text/html")


def _head_body(ex: Exchange) -> None:
    if ex.environ["REQUEST_METHOD"] == "HEAD":
        ex.out = b'{"code":55004,"message":"Business parameters are invalid."}'


def _message(ex: Exchange) -> None:
    if ex.code() == 0:
        ex.out = b'{"code":0,"message":"OK"}'


def _deep_crash(ex: Exchange) -> None:
    if ex.body.count(b"[") > 100:
        ex.fail(-1, 500)


def _size_before_auth(ex: Exchange) -> None:
    if len(ex.body) > 1 << 20:
        ex.fail(55004, 413)


def _reveal_deleted(ex: Exchange) -> None:
    if ex.auth_key() == "dead0000000000000000beef":
        ex.fail(50034, 401)


def _big_int_crash(ex: Exchange) -> None:
    if b"0" * 4400 in ex.body:
        ex.answer(500, b"Internal Server Error", "text/plain")


def _query_404(ex: Exchange) -> None:
    if ex.environ.get("QUERY_STRING"):
        ex.fail(55004, 404)


def _put_404(ex: Exchange) -> None:
    if ex.environ["REQUEST_METHOD"] == "PUT":
        ex.fail(55004, 404)


def _bom_ok(ex: Exchange) -> None:
    if ex.body.startswith(b"\xef\xbb\xbf"):
        ex.body = ex.body[3:]


def _flaky() -> Hook:
    calls = [0]

    def after(ex: Exchange) -> None:
        if ex.code() == 55108:
            calls[0] += 1
            if calls[0] % 2:
                ex.fail(55004)

    return after


def _not_idempotent() -> Hook:
    seen: set[bytes] = set()

    def after(ex: Exchange) -> None:
        if ex.code() == 0:
            if ex.body in seen:
                ex.fail(55004)
            seen.add(ex.body)

    return after


@dataclass(frozen=True)
class Deviant:
    name: str
    expect: str  # glob over drifted case ids
    before: Hook | None = None
    after: Hook | Callable[[], Hook] | None = None
    fresh_after: bool = False  # `after` is a factory of stateful hooks
    kind: str | None = None  # drift kind that must be among the reported ones
    options: dict[str, Any] = field(default_factory=dict)
    select: tuple[str, ...] = ("*",)  # case-id globs to run (slow deviants run a few)

    def build(self, app: WsgiApp) -> WsgiApp:
        after: Any = self.after() if self.fresh_after and self.after else self.after  # type: ignore[call-arg]
        return wrap(app, self.before, after)


DEVIANTS: tuple[Deviant, ...] = (
    Deviant("code-swapped-55105-to-55107", "value-257x*", after=_swap_code(55105, 55107), kind="code"),
    Deviant("value-limit-off-by-one", "value-256xU+0061/*", before=_value_len(255)),
    Deviant(
        "value-length-in-utf16-units",
        "value-256xU+1F600/*",
        before=_value_len(256, lambda v: len(v.encode("utf-16-le", "surrogatepass")) // 2),
    ),
    Deviant("isspace-counts-U+001C-as-blank", "value-not-blank-U+001C*", before=_isspace_blank),
    Deviant("secret-check-skipped", "secret-*", before=_rewrite_header("HTTP_AUTHORIZATION", _any_secret)),
    Deviant("key-format-case-insensitive", "key-uppercase", before=_rewrite_header("HTTP_AUTHORIZATION", _lower_key)),
    Deviant("contacts-count-off-by-one", "contacts-100-entries", before=_count_100),
    Deviant("precedence-euid-before-auth", "precedence/auth.*+euid.invalid", after=_euid_before_auth),
    Deviant("extra-response-field", "*", after=_extra_field, kind="shape"),
    Deviant("code-as-string", "euid-*", after=_string_code, kind="shape"),
    Deviant("status-401-becomes-403", "header-missing", after=_status(40050, 403), kind="status"),
    Deviant("55004-answered-200", "size-limit-plus-1", after=_status(55004, 200), kind="status"),
    Deviant(
        "latency-on-success",
        "*/success",
        after=_slow_success,
        options={"max_latency": 0.2},
        select=("euid-1/*",),
    ),
    Deviant("html-404-page", "path-*", after=_html_404, kind="shape"),
    Deviant("undocumented-55104", "value-blank-*", after=_swap_code(55107, 55104), kind="code"),
    Deviant(
        "trailing-slash-served",
        "path-/v1/user/contact/",
        before=_rewrite_header("PATH_INFO", lambda p: p.rstrip("/") if p.startswith("/v1/user/contact") else p),
    ),
    Deviant("head-with-body", "method-HEAD", after=_head_body, kind="shape"),
    Deviant("success-message-not-success", "*/success", after=_message, kind="message"),
    Deviant("deep-json-crashes", "json-depth-10000", before=_deep_crash, kind="status"),
    Deviant("float-euid-accepted", "euid-1.0", before=_body_json(_float_euid)),
    Deviant("name-trailing-newline-accepted", "name-'email\\n'", before=_body_json(_strip_names)),
    Deviant("bom-accepted", "utf8-bom", before=_bom_ok),
    Deviant("size-checked-before-auth", "missing-huge-body", before=_size_before_auth),
    Deviant("deleted-project-revealed-without-secret", "deleted_project-wrong-secret", before=_reveal_deleted),
    Deviant("big-integer-crashes", "euid-5001-digits", before=_big_int_crash),
    Deviant("query-string-routes-404", "query-string-ignored/*", before=_query_404),
    Deviant("put-answers-404", "method-PUT", before=_put_404),
    Deviant(
        "content-type-lenient",
        "content-type-text/plain",
        before=_rewrite_header("CONTENT_TYPE", lambda _: "application/json"),
    ),
    Deviant("method-case-insensitive", "method-post", before=_method_upper),
    Deviant(
        "tab-accepted-after-scheme", "header-tab-separator", before=_rewrite_header("HTTP_AUTHORIZATION", _tab_as_space)
    ),
    Deviant("values-counted-after-nfc", "value-256x-e-U+0301", before=_body_json(_nfc_values)),
    Deviant("unlisted-channel-accepted", "name-'wechat'", before=_body_json(_accept_wechat)),
    Deviant("intermittent-55108", "euid-*", after=_flaky, fresh_after=True, kind="intermittent"),
    Deviant("success-not-idempotent", "*/success", after=_not_idempotent, fresh_after=True, kind="idempotency"),
)


def drifted_app() -> WsgiApp:
    """A drifted in-process target for `--app deviants:drifted_app` (CLI tests)."""
    from engagelab_kit.mock_server import create_app

    return DEVIANTS[0].build(create_app())
