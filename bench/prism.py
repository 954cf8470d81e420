"""Prism (Stoplight's OpenAPI mock server), the off-the-shelf alternative: installed on demand into bench/.prism/."""

from __future__ import annotations

from pathlib import Path

from bench.installs import npm_install

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "bench" / ".prism"
EXECUTABLE = HOME / "node_modules" / ".bin" / "prism"
# Pinned so that two recorded runs compare the same Prism.
PACKAGE = "@stoplight/prism-cli@5.14.2"
OPENAPI = ROOT / "spec" / "openapi.json"


def ensure_prism() -> Path:
    """The prism executable, npm-installed into bench/.prism/ on first use."""
    return npm_install(HOME, PACKAGE, EXECUTABLE)


def command(executable: Path, port: int) -> list[str]:
    return [str(executable), "mock", str(OPENAPI), "-p", str(port), "-h", "127.0.0.1", "-v", "error"]
