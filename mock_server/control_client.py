"""A typed client for the mock's control API (``/__mock``), for tests in or outside pytest.

It talks HTTP through a ``requests.Session``: to a served mock by its URL, or to
an in-process mock through the session the transport mounts (see transport.py),
so the same calls steer both. The journal comes back as ``Received`` records
with helpers to assert on what the mock was sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, overload

import requests

from engagelab_kit.mock_server.wire import TOKEN_HEADER

T = TypeVar("T")


class ControlApiError(RuntimeError):
    """The control API refused a call; the text is its own explanation."""


@dataclass(frozen=True)
class Received:
    """One request as the mock's journal recorded it (``Authorization`` redacted)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body_text: str
    body_bytes: int
    euid: int | None
    code: int | None
    status: int | None
    message: str | None
    # The spec rule (errors.json) that refused the request, when the rules decided.
    rule: str | None
    dropped: bool
    steered: str | None
    duration_ms: float
    # When the answer was recorded, in seconds since the epoch.
    time: float = 0.0

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Received:
        return cls(
            method=raw["method"], path=raw["path"], query=raw.get("query", ""), headers=raw.get("headers", {}),
            body_text=raw.get("body", ""), body_bytes=raw.get("body_bytes", 0), euid=raw.get("euid"),
            code=raw.get("code"), status=raw.get("status"), message=raw.get("message"), rule=raw.get("rule"),
            dropped=bool(raw.get("dropped")), steered=raw.get("steered"), duration_ms=raw.get("duration_ms", 0.0),
            time=datetime.fromisoformat(raw["time"]).timestamp() if raw.get("time") else 0.0,
        )

    @property
    def started(self) -> float:
        """When the request arrived (seconds since the epoch, to the millisecond)."""
        return self.time - self.duration_ms / 1000

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (or was cut at 8 KiB)."""
        try:
            return json.loads(self.body_text)
        except ValueError:
            return None

    def describe(self) -> str:
        body = self.body_text if len(self.body_text) <= 300 else self.body_text[:300] + "..."
        content_type = self.headers.get("content-type", "-")
        return f"{self.method} {self.path} (Content-Type: {content_type}) {body}"


class Rows(Sequence[T]):
    """An immutable list of records that helpers can be added to."""

    def __init__(self, rows: Iterable[T]) -> None:
        self.rows = tuple(rows)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[T]:
        return iter(self.rows)


class Journal(Rows[Received]):
    """What the mock received, oldest first, with assertion helpers in the style of WireMock's verify."""

    def __repr__(self) -> str:
        return f"Journal({len(self)} requests)"

    def filter(self, *, euid: int | None = None, code: int | None = None, path: str | None = None) -> Journal:
        return Journal([e for e in self if (euid is None or e.euid == euid) and (code is None or e.code == code)
                        and (path is None or e.path == path)])

    def bodies(self) -> list[Any]:
        return [e.json for e in self]

    def contacts_sent(self, euid: int | None = None) -> list[dict[str, Any]]:
        """The ``contacts`` object of every request (for one euid), in order."""
        out = []
        for body in self.filter(euid=euid).bodies():
            if isinstance(body, dict) and isinstance(body.get("contacts"), dict):
                out.append(body["contacts"])
        return out

    def assert_count(self, expected: int, *, euid: int | None = None, code: int | None = None) -> None:
        seen = self.filter(euid=euid, code=code)
        if len(seen) != expected:
            where = "".join(f" {k}={v}" for k, v in (("euid", euid), ("code", code)) if v is not None)
            raise AssertionError(f"expected {expected} request(s){where}, the mock received {len(seen)}:\n"
                                 + self._listing(seen))

    def assert_called_once_with(self, body: Mapping[str, Any]) -> None:
        """Exactly one request was received and its JSON body equals ``body``."""
        if len(self) != 1 or self[0].json != body:
            raise AssertionError(f"expected one request with body {json.dumps(body)}, received:\n"
                                 + self._listing(self))

    def assert_sent(self, *, euid: int, contacts: Mapping[str, Any] | None = None) -> None:
        """Some request for ``euid`` carried (at least) these contacts."""
        for sent in self.contacts_sent(euid):
            if contacts is None or all(sent.get(k, object()) == v for k, v in contacts.items()):
                return
        raise AssertionError(f"no request for euid {euid} carried contacts {contacts}; received:\n"
                             + self._listing(self))

    def assert_nothing_sent(self) -> None:
        if self:
            raise AssertionError("expected no request, received:\n" + self._listing(self))

    @staticmethod
    def _listing(entries: Sequence[Received]) -> str:
        if not entries:
            return "  (nothing)"
        return "\n".join(f"  -> {e.code} {e.describe()}" for e in entries)


class MockControl:
    """Steer one mock: state, journal and faults. ``url`` is the mock's base URL."""

    def __init__(self, url: str, *, token: str | None = None, session: requests.Session | None = None,
                 timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._session = session or requests.Session()
        self._headers = {TOKEN_HEADER: token} if token else {}
        self._timeout = timeout

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
              params: Mapping[str, Any] | None = None, missing_ok: bool = False) -> Any:
        reply = self._session.request(method, f"{self.url}/__mock{path}", json=body, params=params,
                                      headers=self._headers, timeout=self._timeout)
        if missing_ok and reply.status_code == 404:
            return None
        try:
            data = reply.json()
        except ValueError:
            raise ControlApiError(f"{method} /__mock{path}: HTTP {reply.status_code}, not JSON") from None
        if reply.status_code >= 400:
            raise ControlApiError(f"{method} /__mock{path}: HTTP {reply.status_code}: {data.get('error', data)}")
        return data

    # -- state ----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/config")
        return result

    def reset(self) -> None:
        """Forget stored users, registrations, the journal and every fault."""
        self._call("POST", "/reset")

    def seed_user(self, euid: int, contacts: Mapping[str, str], *, project: str | None = None) -> None:
        """Replace what ``euid`` has stored (as if the API had set it earlier)."""
        self._call("PUT", f"/users/{euid}", {"contacts": dict(contacts), **_project(project)})

    def seed_users(self, users: Mapping[int, Mapping[str, str]], *, project: str | None = None) -> None:
        payload = [{"euid": euid, "contacts": dict(contacts)} for euid, contacts in users.items()]
        self._call("POST", "/users", {"users": payload, **_project(project)})

    def user(self, euid: int, *, project: str | None = None) -> dict[str, str] | None:
        """The contacts stored for ``euid``; None when nothing is stored."""
        data = self._call("GET", f"/users/{euid}", params=_project(project), missing_ok=True)
        return None if data is None else dict(data["contacts"])

    def add_known_euids(self, euids: Sequence[int]) -> None:
        """Make euids valid in strict-euid mode."""
        self._call("POST", "/euids", {"euids": list(euids)})

    # -- journal --------------------------------------------------------------

    def journal(self, *, euid: int | None = None, code: int | None = None, limit: int = 10_000) -> Journal:
        params = {k: v for k, v in (("euid", euid), ("code", code), ("limit", limit)) if v is not None}
        data = self._call("GET", "/journal", params=params)
        return Journal([Received.from_json(e) for e in data["entries"]])

    def clear_journal(self) -> None:
        self._call("DELETE", "/journal")

    # -- faults ---------------------------------------------------------------

    def add_fault(self, *, code: int | None = None, latency_ms: float = 0, drop: bool = False,
                  times: int | None = 1, euid: int | None = None, path: str | None = None,
                  method: str | None = None) -> int:
        """The next ``times`` matching requests (None: every one until removed) misbehave; returns the id."""
        body: dict[str, Any] = {"times": times}
        for name, value in (("code", code), ("euid", euid), ("path", path), ("method", method)):
            if value is not None:
                body[name] = value
        if latency_ms:
            body["latency_ms"] = latency_ms
        if drop:
            body["drop"] = True
        fault_id: int = self._call("POST", "/faults", body)["id"]
        return fault_id

    def force_code(self, code: int, *, times: int | None = 1, euid: int | None = None) -> int:
        """The next ``times`` requests answer the documented error ``code`` (-1: HTTP 500)."""
        return self.add_fault(code=code, times=times, euid=euid)

    def add_latency(self, ms: float, *, times: int | None = 1, euid: int | None = None) -> int:
        """The next ``times`` requests are answered normally, ``ms`` milliseconds late."""
        return self.add_fault(latency_ms=ms, times=times, euid=euid)

    def drop_connection(self, *, times: int | None = 1, euid: int | None = None) -> int:
        """The next ``times`` requests see the connection cut mid-answer."""
        return self.add_fault(drop=True, times=times, euid=euid)

    def internal_error(self, *, times: int | None = 1, euid: int | None = None) -> int:
        """The next ``times`` requests answer -1 with HTTP 500."""
        return self.force_code(-1, times=times, euid=euid)

    def faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return faults

    def clear_faults(self, fault_id: int | None = None) -> int:
        path = "/faults" if fault_id is None else f"/faults/{fault_id}"
        removed: int = self._call("DELETE", path)["removed"]
        return removed


def _project(project: str | None) -> dict[str, str]:
    return {} if project is None else {"project": project}
