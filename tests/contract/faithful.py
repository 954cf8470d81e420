"""An independent implementation of contact-api.md on the standard library's http.server.

Written from the contract alone (no import from this kit: not the mock, not the spec
package), it takes *different* allowed choices from the project's mock wherever the
contract leaves one open: other non-zero codes on 404/405, percent-encoded paths
answered as the endpoint (or as 404: a setting), other message details, an extra
harmless response header. The contract suite must find no drift in it.

Every decision is one small method or attribute, so that a one-rule deviation
(``faithful_deviants.py``) is a subclass that overrides exactly one of them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import socketserver
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/v1/user/contact"
KEY = "0a1b2c3d4e5f60718293a4b5"
SECRET = "faithful-secret:with-colon"
DELETED_PROJECT = ("0000000000000000000000d1", "gone-project-secret")
DELETED_DATASOURCE = ("0000000000000000000000d2", "gone-datasource-secret")
EUID_MAX = 9223372036854775807
WHITE_SPACE = frozenset(
    chr(c)
    for lo, hi in (
        (9, 13),
        (32, 32),
        (133, 133),
        (160, 160),
        (5760, 5760),
        (8192, 8202),
        (8232, 8233),
        (8239, 8239),
        (8287, 8287),
        (12288, 12288),
    )
    for c in range(lo, hi + 1)
)
DESCRIPTIONS = {
    0: "success",
    40050: "Interface authentication failed.",
    40007: "EUID is empty.",
    50031: "Project ID is invalid.",
    50034: "Project ID does not exist.",
    50074: "API data source does not exist.",
    55004: "Business parameters are invalid.",
    55101: "The number of user identifiers exceeds the limit.",
    55102: "Invalid user attributes exist",  # the published message, not the table's description
    55103: "User attribute values cannot be empty.",
    55105: "The value of the user identifier cannot exceed 256 characters.",
    55106: "The name of the user identifier is not within the supported range.",
    55107: "The value of the user identifier is empty.",
    55108: "Invalid EUID.",
}
STATUS = {0: 200, 40050: 401, 50031: 401, 50034: 401, 50074: 401, 40007: 400, 55004: 400}


class Reject(Exception):
    def __init__(self, code: int, detail: str = "", status: int | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status


@dataclass
class Request:
    method: str
    target: str  # the request-target as sent: path and query
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Reply:
    status: int
    code: int
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None  # a body that is not the JSON object (deviants only)


class _Big(int):
    """An integer literal too long for int(): out of range whatever its value."""


class Faithful:
    """The contract, step by step. Choices the contract leaves open are attributes."""

    not_found_code = 40404  # any non-zero code is allowed on 404 / 405
    not_allowed_code = 40405
    decode_percent = True  # percent-encoded spellings: the endpoint (True) or 404 (False)
    contact_types: tuple[str, ...] = ("mobile_phone", "email")
    key_pattern = re.compile(r"[0-9a-f]{24}")
    name_pattern = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    max_body = 1 << 20
    max_depth = 32
    max_contacts = 100
    max_name = 64
    max_value = 256
    euid_min, euid_max = 1, EUID_MAX
    white_space = WHITE_SPACE
    head_body = False  # HEAD answers carry no body

    def __init__(self) -> None:
        self.projects = {
            KEY: (SECRET, "active"),
            DELETED_PROJECT[0]: (DELETED_PROJECT[1], "project_deleted"),
            DELETED_DATASOURCE[0]: (DELETED_DATASOURCE[1], "datasource_deleted"),
        }
        self.store: dict[tuple[str, int], dict[str, str]] = {}
        self.lock = threading.Lock()

    # ---- the pipeline ------------------------------------------------------------------
    def answer(self, req: Request) -> Reply:
        try:
            routed = self.route(req)
            if routed is not None:
                return routed
            key = self.authenticate(req)
            doc = self.body(req)
            euid = self.euid(doc)
            contacts = self.contacts(doc)
            self.entries(contacts)
            self.write(key, euid, contacts)
            return self.reply(0, "")
        except Reject as rejected:
            return self.reply(rejected.code, rejected.detail, rejected.status)

    def reply(self, code: int, detail: str, status: int | None = None) -> Reply:
        text = DESCRIPTIONS.get(code, "Request refused.")
        message = text if code == 0 or not detail else f"{text} - {detail}"
        return Reply(status or self.status(code), code, message, [("X-Served-By", "faithful")])

    def status(self, code: int) -> int:
        return STATUS.get(code, 400)

    # ---- 1. route and method -----------------------------------------------------------
    def route(self, req: Request) -> Reply | None:
        path = self.routed_path(req.path)
        if path != PATH:
            return self.reply(self.not_found_code, "no such path", 404)
        if req.method != "POST":
            return self.reply(self.not_allowed_code, "use POST", 405)
        return None

    def routed_path(self, path: str) -> str:
        return urllib.parse.unquote(path) if self.decode_percent else path

    # ---- 2. authentication -------------------------------------------------------------
    def authenticate(self, req: Request) -> str:
        key, secret = self.credentials(req.header("Authorization"))
        if not self.key_pattern.fullmatch(key):
            raise Reject(50031, "malformed key")
        project = self.projects.get(key)
        if project is None:
            raise Reject(50034, "unknown key")
        if not self.secret_matches(secret, project[0]):
            raise Reject(40050, "bad credentials")
        if project[1] == "project_deleted":
            raise Reject(50034, "project deleted")
        if project[1] == "datasource_deleted":
            raise Reject(50074, "data source deleted")
        return key

    def secret_matches(self, sent: str, stored: str) -> bool:
        return hmac.compare_digest(sent.encode(), stored.encode())

    def credentials(self, header: str | None) -> tuple[str, str]:
        if header is None:
            raise Reject(40050, "no credentials")
        match = re.fullmatch(r"([^ ]*) +(.*)", header)
        if match is None or match.group(1).lower() != "basic":
            raise Reject(40050, "not Basic")
        token = match.group(2)
        payload = self.decode_base64(token)
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise Reject(40050, "credentials not UTF-8") from None
        key, colon, secret = self.split(text)
        if not colon or not key or not secret:
            raise Reject(40050, "key:secret expected")
        return key, secret

    def decode_base64(self, token: str) -> bytes:
        try:
            payload = base64.b64decode(token.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise Reject(40050, "bad base64") from None
        if base64.b64encode(payload).decode() != token:
            raise Reject(40050, "non-canonical base64")
        return payload

    def split(self, text: str) -> tuple[str, str, str]:
        return text.partition(":")

    # ---- 3. body -----------------------------------------------------------------------
    def body(self, req: Request) -> dict[str, Any]:
        if len(req.body) > self.max_body:
            raise Reject(55004, "body too large", 413)
        self.content_type(req.header("Content-Type"))
        text = self.utf8(req.body)
        doc = self.parse(text)
        if not isinstance(doc, dict):
            raise Reject(55004, "top level must be an object")
        return doc

    def content_type(self, value: str | None) -> None:
        if value is None:
            raise Reject(55004, "Content-Type missing")
        media, *params = value.split(";")
        if media.strip().lower() != "application/json":
            raise Reject(55004, "Content-Type must be application/json")
        for param in params:
            name, _, val = param.strip().partition("=")
            if name.strip().lower() == "charset" and val.strip().strip('"').lower() != "utf-8":
                raise Reject(55004, "charset must be UTF-8")

    def utf8(self, body: bytes) -> str:
        if body.startswith(b"\xef\xbb\xbf"):
            raise Reject(55004, "byte-order mark")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise Reject(55004, "not UTF-8") from None

    def parse(self, text: str) -> Any:
        if self.depth(text) > self.max_depth:
            raise Reject(55004, "nested too deeply")
        try:
            return json.loads(text, parse_constant=self.constant, parse_int=self.integer, object_pairs_hook=self.pairs)
        except ValueError as error:
            raise Reject(55004, f"not JSON ({type(error).__name__})") from None

    def depth(self, text: str) -> int:
        deepest = level = 0
        in_string = escaped = False
        for ch in text:
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch in "[{":
                level += 1
                deepest = max(deepest, level)
            elif ch in "]}":
                level -= 1
        return deepest

    def constant(self, name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def integer(self, literal: str) -> int:
        return _Big(EUID_MAX + 1) if len(literal.lstrip("-")) > 25 else int(literal)

    def pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        # Every pair, overridden duplicates included: the text rules hold for the whole body.
        for name, value in items:
            if _lone_surrogate(name) or (isinstance(value, str) and _lone_surrogate(value)):
                raise ValueError("lone surrogate")
            if isinstance(value, list):
                for item in _flatten(value):
                    if isinstance(item, str) and _lone_surrogate(item):
                        raise ValueError("lone surrogate")
        return dict(items)

    # ---- 4. euid -------------------------------------------------------------------------
    def euid(self, doc: dict[str, Any]) -> int:
        value = doc.get("euid")
        if value is None or value == "":
            raise Reject(40007, "euid")
        if type(value) not in (int, _Big) or not self.euid_min <= value <= self.euid_max:
            raise Reject(55108, "euid")
        return int(value)

    # ---- 5. contacts as a whole ----------------------------------------------------------
    def contacts(self, doc: dict[str, Any]) -> dict[str, Any]:
        value = doc.get("contacts")
        if not isinstance(value, dict):
            raise Reject(55004, "contacts must be an object")
        if not value:
            raise Reject(55103, "contacts")
        if len(value) > self.max_contacts:
            raise Reject(55101, "too many contacts")
        return value

    # ---- 6. each entry, in request order -------------------------------------------------
    def entries(self, contacts: dict[str, Any]) -> None:
        for name, value in contacts.items():
            self.entry(name, value)

    def entry(self, name: str, value: Any) -> None:
        self.name(name)
        self.value(name, value)

    def name(self, name: str) -> None:
        if not name or len(name) > self.max_name or not self.name_pattern.fullmatch(name):
            raise Reject(55102, f"name {name[:20]!r}")
        if name not in self.contact_types:
            raise Reject(55106, f"name {name[:20]!r}")

    def value(self, name: str, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise Reject(55004, f"{name} must be a string")
        if value is None:
            raise Reject(55103, name)
        if self.blank(value):
            raise Reject(55107, name)
        if self.length(value) > self.max_value:
            raise Reject(55105, name)

    def blank(self, value: str) -> bool:
        return all(ch in self.white_space for ch in value)

    def length(self, value: str) -> int:
        return len(value)

    # ---- 7. success ------------------------------------------------------------------------
    def write(self, key: str, euid: int, contacts: dict[str, str]) -> None:
        with self.lock:
            self.store.setdefault((key, euid), {}).update(contacts)


def _lone_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _flatten(items: list[Any]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


# ---- the HTTP adapter ----------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faithful"
    api: Faithful  # set per server class

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, self.path, list(self.headers.items()), body)
        reply = self.api.answer(req)
        payload = (
            reply.raw
            if reply.raw is not None
            else json.dumps({"code": reply.code, "message": reply.message}, ensure_ascii=False).encode()
        )
        self.send_response(reply.status)
        headers = reply.headers
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers = [("Content-Type", "application/json; charset=utf-8"), *headers]
        for name, value in headers:
            self.send_header(name, value)
        bodiless = self.command == "HEAD" and not self.api.head_body
        self.send_header("Content-Length", str(0 if bodiless else len(payload)))
        self.end_headers()
        if not bodiless:
            self.wfile.write(payload)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a deviant that crashes closes the connection; the suite reports it


@contextmanager
def serve(api: Faithful | None = None) -> Iterator[str]:
    """Serve `api` (default: the faithful implementation) on a free loopback port; yields the base URL."""
    handler = type("BoundHandler", (Handler,), {"api": api if api is not None else Faithful()})
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    with in_thread(server) as url:
        yield url


@contextmanager
def in_thread(server: socketserver.TCPServer) -> Iterator[str]:
    """Any stdlib-based server (ours, Werkzeug's) served on a thread; yields its loopback base URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def environment() -> dict[str, str]:
    """The variables a team sets for a live target, for this implementation's projects."""
    return {
        "ENGAGELAB_API_KEY": KEY,
        "ENGAGELAB_API_SECRET": SECRET,
        "ENGAGELAB_DELETED_PROJECT_CREDENTIALS": ":".join(DELETED_PROJECT),
        "ENGAGELAB_DELETED_DATASOURCE_CREDENTIALS": ":".join(DELETED_DATASOURCE),
    }
