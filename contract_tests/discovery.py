"""Before a run: can the target be reached at all, and (for this kit's own mock on loopback)
which demo credentials does it hold."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from engagelab_kit.contract_tests.config import ENV_KEY, Credentials, RunConfig, TargetKind

CONTROL_TOKEN_ENV = "ENGAGELAB_MOCK_CONTROL_TOKEN"
PROBE_TIMEOUT = 5.0


def unreachable(target: str, timeout: float = PROBE_TIMEOUT) -> str:
    """Why `target` cannot be reached (DNS, TCP, TLS), in one line; "" when it can."""
    parts = urlsplit(target)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return f"DNS lookup of {host} failed ({error.strerror or error})"
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            if parts.scheme == "https":
                with ssl.create_default_context().wrap_socket(sock, server_hostname=host):
                    pass
    except ssl.SSLError as error:
        return f"TLS handshake with {host}:{port} failed ({error.reason or error})"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g} s"
    except OSError as error:
        return f"cannot connect to {host}:{port} ({error.strerror or error})"
    return ""


def mock_credentials(config: RunConfig, env: dict[str, str] | None = None) -> RunConfig:
    """Fill missing deleted-project / deleted-data-source credentials (and the active ones, when the
    environment names none) from this kit's mock control API. Loopback targets only; any other
    server simply has no such route, and the config is returned unchanged."""
    env = dict(os.environ) if env is None else env
    if config.kind is not TargetKind.LOOPBACK or config.target is None:
        return config
    if config.deleted_project and config.deleted_datasource and env.get(ENV_KEY):
        return config
    request = urllib.request.Request(config.target.rstrip("/") + "/__mock/credentials")
    if env.get(CONTROL_TOKEN_ENV):
        request.add_header("X-Mock-Token", env[CONTROL_TOKEN_ENV])
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as answer:
            projects = json.loads(answer.read()).get("projects", [])
    except (OSError, ValueError, AttributeError, urllib.error.URLError):
        return config
    by_status: dict[str, Credentials] = {}
    for p in projects if isinstance(projects, list) else []:
        if isinstance(p, dict) and isinstance(p.get("key"), str) and isinstance(p.get("secret"), str):
            by_status.setdefault(str(p.get("status")), Credentials(p["key"], p["secret"]))
    active = by_status.get("active")
    return dataclasses.replace(
        config,
        credentials=config.credentials if env.get(ENV_KEY) or active is None else active,
        deleted_project=config.deleted_project or by_status.get("project_deleted"),
        deleted_datasource=config.deleted_datasource or by_status.get("datasource_deleted"),
    )
