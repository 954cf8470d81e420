"""Keep secrets out of everything the suite prints or stores; curl reproductions."""

from __future__ import annotations

import base64
import binascii
import shlex
from collections.abc import Iterable

from engagelab_kit.contract_tests.http import HttpRequest, header_text

SECRET_ENV = "ENGAGELAB_API_SECRET"
MASK = "<redacted>"


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first so that a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
            encoded = base64.b64encode(secret.encode()).decode().rstrip("=")
            if len(encoded) > 8:
                text = text.replace(encoded, MASK)
        return text

    def authorization(self, value: str | bytes) -> str:
        """A shell-quoted header argument, safe to show: an expansion when it held a secret."""
        shown = header_text(value)
        scheme, _, token = shown.strip().partition(" ")
        try:
            decoded = base64.b64decode(token.strip(), validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            decoded = ""
        for secret in self.secrets:
            if secret in decoded:
                key = decoded.split(":", 1)[0]
                if decoded == f"{key}:{secret}" and token.strip() == base64.b64encode(decoded.encode()).decode():
                    # Canonical credentials: reproducible from the environment.
                    key_arg = shlex.quote(key + ":")
                    return f'"Authorization: {scheme} $(printf %s {key_arg}"${SECRET_ENV}" | base64 -w0)"'
                return shlex.quote(f"Authorization: {scheme} {MASK}")
        return shlex.quote(f"Authorization: {self.text(shown)}")

    def curl(self, base_url: str, request: HttpRequest) -> str:
        url = base_url.rstrip("/") + request.path + (f"?{request.query}" if request.query else "")
        parts = ["curl", "-sS", "-i", "-X", request.method, shlex.quote(url)]
        for name, value in request.headers:
            if name.lower() == "authorization":
                parts += ["-H", self.authorization(value)]
            else:
                parts += ["-H", shlex.quote(f"{name}: {self.text(header_text(value))}")]
        if request.body:
            parts += [
                "--data-binary",
                _body_argument(self.text(request.body.decode("utf-8", "surrogateescape")), request.body),
            ]
        return " ".join(parts)


def _body_argument(text: str, raw: bytes) -> str:
    if len(raw) > 2048:
        return f"@body.bin  # {len(raw)} bytes, starts {raw[:60]!r}"
    if raw.isascii() and all(32 <= b < 127 or b in (9, 10) for b in raw):
        return shlex.quote(text)
    # Non-printable bytes: printf reproduces them exactly.
    escaped = "".join(f"\\x{b:02x}" if not 32 <= b < 127 or b in (37, 39, 92) else chr(b) for b in raw)
    return f"@<(printf '{escaped}')"
