"""A small reference client for ``POST /v1/user/contact``, the model the examples test.

On ``requests``: HTTP Basic auth, connect and read timeouts, one exception
class per documented class of error, and retries only where a retry can help:
``-1`` (internal error) and transport failures (connection refused or dropped,
timeouts), with exponential backoff. Every other code is the caller's mistake
or the account's state, and repeating the request would get the same answer.
Setting contacts is idempotent (the same request gives the same result), so
repeating one whose answer was lost is safe.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import requests

from engagelab_kit import spec

_SPEC = spec.load()
SINGAPORE = _SPEC.base_urls["singapore"]


class EngageLabError(Exception):
    """The API refused the request. ``code`` and ``message`` are the API's; the secret never appears."""

    def __init__(self, code: int | None, message: str, status: int | None = None) -> None:
        super().__init__(message if code is None else f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class AuthenticationError(EngageLabError):
    """40050: the key and secret do not authenticate."""


class ProjectError(EngageLabError):
    """50031, 50034, 50074: the key is malformed, or its project or API data source does not exist."""


class InvalidRequestError(EngageLabError):
    """40007, 55004, 55101-55108: the request itself is wrong; fix the data, do not retry."""


class ServerError(EngageLabError):
    """-1: the API failed internally (retried before this is raised)."""


class TransportError(EngageLabError):
    """No usable answer (``code`` None): connection failed or dropped, a timeout, or a body that is not
    the API's JSON."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


_BY_CODE: dict[int, type[EngageLabError]] = {40050: AuthenticationError, -1: ServerError}
_BY_CODE.update({c: ProjectError for c in (50031, 50034, 50074)})


def error_for(code: int, message: str, status: int | None = None) -> EngageLabError:
    return _BY_CODE.get(code, InvalidRequestError)(code, message, status)


class ContactClient:
    """``ContactClient(key, secret).set_contacts(euid, {"email": ...})`` sets a user's contact details."""

    def __init__(self, api_key: str, api_secret: str, *, base_url: str = SINGAPORE,
                 timeout: float | tuple[float, float] = (3.05, 10.0), retries: int = 2, backoff: float = 0.2,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._auth = (api_key, api_secret)
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"ContactClient(base_url={self.base_url!r}, key={self._auth[0]!r})"

    def set_contacts(self, euid: int, contacts: Mapping[str, str]) -> None:
        """Merge ``contacts`` into the user's stored contacts; raises an ``EngageLabError`` subclass on failure."""
        body = {"euid": euid, "contacts": dict(contacts)}
        for attempt in range(self.retries + 1):
            try:
                self._post(_SPEC.contact_path, body)
                return
            except (ServerError, TransportError):
                if attempt == self.retries:
                    raise
                time.sleep(self.backoff * 2**attempt)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = self._session.post(f"{self.base_url}{path}", json=body, auth=self._auth, timeout=self.timeout)
            payload = reply.json()
        except requests.Timeout as exc:
            raise TransportError(f"timed out: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise TransportError(f"request failed: {type(exc).__name__}") from None
        except ValueError:
            raise TransportError(f"HTTP {reply.status_code} with a body that is not JSON") from None
        code = payload.get("code") if isinstance(payload, dict) else None
        if type(code) is not int:
            raise TransportError(f"HTTP {reply.status_code} without an integer code")
        if code != 0:
            raise error_for(code, str(payload.get("message", "")), reply.status_code)
        result: dict[str, Any] = payload
        return result
