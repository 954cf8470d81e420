"""HTTP Basic authentication against the configured projects (step 2 of the contract)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from engagelab_kit.mock_server.exceptions import ApiError
from engagelab_kit.mock_server.settings import DATASOURCE_DELETED, PROJECT_DELETED, Project, Settings

_CANONICAL_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _digest(secret: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison's time independent of the secret's length.
    return hashlib.sha256(secret.encode("utf-8")).digest()


def parse_basic(header: str | None) -> tuple[str, str]:
    """Key and secret from an Authorization header, or ApiError 40050."""
    if header is None:
        raise ApiError(40050, "missing Authorization header", rule="auth.header")
    scheme, space, credentials = header.partition(" ")
    if not space or scheme.lower() != "basic":
        raise ApiError(40050, "Authorization scheme must be Basic", rule="auth.header")
    credentials = credentials.lstrip(" ")
    if not credentials or not _CANONICAL_B64.fullmatch(credentials):
        raise ApiError(40050, "credentials are not canonical base64", rule="auth.header")
    raw = base64.b64decode(credentials)
    if base64.b64encode(raw).decode("ascii") != credentials:
        raise ApiError(40050, "credentials are not canonical base64", rule="auth.header")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(40050, "credentials are not UTF-8", rule="auth.header") from None
    key, colon, secret = text.partition(":")
    if not colon:
        raise ApiError(40050, "credentials have no colon", rule="auth.header")
    if not key or not secret:
        raise ApiError(40050, "empty key or secret", rule="auth.header")
    return key, secret


@dataclass(frozen=True)
class _Entry:
    project: Project
    digest: bytes


class Authenticator:
    """Decides steps 2.x for one set of settings; built once, used per request."""

    def __init__(self, settings: Settings) -> None:
        self._key_pattern = re.compile(settings.project_key_pattern)
        self._by_key = {p.key: _Entry(p, _digest(p.secret)) for p in settings.projects}

    def authenticate(self, header: str | None) -> Project:
        key, secret = parse_basic(header)
        if not self._key_pattern.fullmatch(key):
            raise ApiError(50031, "key is not a project key", rule="auth.key_format")
        entry = self._by_key.get(key)
        if entry is None:
            raise ApiError(50034, "no project has this key", rule="auth.key_unknown")
        # Only the secret's holder learns the project's status.
        if not hmac.compare_digest(_digest(secret), entry.digest):
            raise ApiError(40050, "wrong secret", rule="auth.secret")
        if entry.project.status == PROJECT_DELETED:
            raise ApiError(50034, "project deleted", rule="auth.project_deleted")
        if entry.project.status == DATASOURCE_DELETED:
            raise ApiError(50074, "API data source deleted", rule="auth.datasource_deleted")
        return entry.project


def basic_header(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")


