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
        """A curl command that sends exactly this request: no header curl would add on its own
        (Content-Type for a body, Expect for a large one), empty headers sent empty, HEAD as HEAD."""
        url = base_url.rstrip("/") + request.path + (f"?{request.query}" if request.query else "")
        method = ["-I"] if request.method == "HEAD" else ["-X", shlex.quote(request.method)]
        parts = ["curl", "-sS", "-i", *method, "--path-as-is", shlex.quote(url)]
        for name, value in request.headers:
            if name.lower() == "authorization":
                parts += ["-H", self.authorization(value)]
            elif header_text(value) == "":
                parts += ["-H", shlex.quote(f"{name};")]  # curl's spelling of an empty header
            else:
                parts += ["-H", shlex.quote(f"{name}: {self.text(header_text(value))}")]
        if request.body:
            if request.header("Content-Type") is None:
                parts += ["-H", shlex.quote("Content-Type:")]  # none sent: drop curl's form default
            if len(request.body) > 1024:
                parts += ["-H", shlex.quote("Expect:")]
            parts += [
                "--data-binary",
                _body_argument(self.text(request.body.decode("utf-8", "surrogateescape")), request.body),
            ]
        return " ".join(parts)


def _printf(raw: bytes) -> str:
    return "".join(f"\\x{b:02x}" if not 32 <= b < 127 or b in (37, 39, 92) else chr(b) for b in raw)


def _body_argument(text: str, raw: bytes) -> str:
    if len(raw) > 2048:
        # Large bodies are padding: a prefix, one byte repeated, a suffix; rebuilt exactly.
        byte, start, length = _longest_run(raw)
        head, tail = raw[:start], raw[start + length :]
        fill = f"head -c {length} /dev/zero | tr '\\0' '\\{byte:03o}'"
        return f"@<(printf '{_printf(head)}'; {fill}; printf '{_printf(tail)}')"
    if raw.isascii() and all(32 <= b < 127 or b in (9, 10) for b in raw):
        return shlex.quote(text)
    # Non-printable bytes: printf reproduces them exactly.
    return f"@<(printf '{_printf(raw)}')"


def _longest_run(raw: bytes) -> tuple[int, int, int]:
    """(byte, start, length) of the longest run of one repeated byte."""
    best = (raw[0], 0, 1)
    start = 0
    for i in range(1, len(raw) + 1):
        if i == len(raw) or raw[i] != raw[start]:
            if i - start > best[2]:
                best = (raw[start], start, i - start)
            start = i
    return best
