"""A structured request that breaks rules independently, then serializes to bytes.

Every layer a rule looks at (route, auth, size, content type, encoding,
syntax, euid, contacts, entries) is a separate field, so breakers for
different rules compose: the combination breaks both rules for real.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from typing import Any

from engagelab_kit import spec
from engagelab_kit.contract_tests.config import Credentials
from engagelab_kit.contract_tests.http import HeaderValue, HttpRequest


class Omit:
    """A field left out of the document."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT = Omit()
FROM_ENTRIES = Omit()  # contacts built from Draft.entries (None is a real value: JSON null)


@dataclass(frozen=True)
class Raw:
    """JSON text spliced in verbatim: what json.dumps refuses to write."""

    text: bytes


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@dataclass(frozen=True)
class Draft:
    euid: Any
    entries: tuple[tuple[str, Any], ...]
    authorization: HeaderValue | None
    method: str = "POST"
    path: str = ""
    query: str = ""
    content_type: str | None = "application/json"
    contacts: Any = FROM_ENTRIES  # anything else replaces the entries (OMIT drops the field)
    fill_to: int = 0  # pad contacts with unsupported names up to this many entries
    extra: tuple[tuple[str, Any], ...] = ()  # ignored top-level fields
    size: int = 0  # pad the body to exactly this many bytes
    wrap_array: bool = False
    raw_body: bytes | None = None
    extra_headers: tuple[tuple[str, HeaderValue], ...] = ()

    @classmethod
    def valid(cls, creds: Credentials, euid: int, contact_type: str) -> Draft:
        return cls(
            euid,
            ((contact_type, "contract-test@example.com"),),
            basic(creds.key, creds.secret),
            path=spec.load().contact_path,
        )

    def but(self, **changes: Any) -> Draft:
        return replace(self, **changes)

    def with_entry(self, index: int, name: str | None = None, value: Any = OMIT) -> Draft:
        entries = list(self.entries)
        while len(entries) <= index:
            entries.append(entries[-1])
        old_name, old_value = entries[index]
        entries[index] = (old_name if name is None else name, old_value if value is OMIT else value)
        return replace(self, entries=tuple(entries))

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.euid is not OMIT:
            doc["euid"] = self.euid
        contacts = self.contacts
        if contacts is FROM_ENTRIES:
            contacts = dict(self.entries)
            for i in range(len(contacts), self.fill_to):
                contacts[f"unsupported_{i}"] = "x"
        if contacts is not OMIT:
            doc["contacts"] = contacts
        doc.update(self.extra)
        return doc

    def body(self) -> bytes:
        if self.raw_body is not None:
            return self.raw_body
        doc = self.document()
        if not self.size:
            return _encode(doc, self.wrap_array)
        doc["_pad"] = ""
        missing = self.size - len(_encode(doc, self.wrap_array))
        doc["_pad"] = "x" * max(missing, 0)
        return _encode(doc, self.wrap_array)

    def request(self) -> HttpRequest:
        headers: list[tuple[str, HeaderValue]] = []
        if self.authorization is not None:
            headers.append(("Authorization", self.authorization))
        if self.content_type is not None:
            headers.append(("Content-Type", self.content_type))
        headers.extend(self.extra_headers)
        body = b"" if self.method in ("GET", "HEAD") else self.body()
        return HttpRequest(self.method, self.path, tuple(headers), body, self.query)


def _encode(doc: Any, wrap_array: bool) -> bytes:
    splices: dict[str, bytes] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, Raw):
            token = f"@@raw{len(splices)}@@"
            splices[f'"{token}"'] = value.text
            return token
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    marked = mark([doc] if wrap_array else doc)
    out = json.dumps(marked, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    for token, raw in splices.items():
        out = out.replace(token.encode(), raw)
    return out
