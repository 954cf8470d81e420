"""Prism (Stoplight's OpenAPI mock server), the off-the-shelf alternative: installed on demand into bench/.prism/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.console import BenchError, note

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "bench" / ".prism"
EXECUTABLE = HOME / "node_modules" / ".bin" / "prism"
# Pinned so that two recorded runs compare the same Prism.
PACKAGE = "@stoplight/prism-cli@5.14.2"
OPENAPI = ROOT / "spec" / "openapi.json"


def ensure_prism() -> Path:
    """The prism executable, npm-installed into bench/.prism/ on first use."""
    if EXECUTABLE.exists():
        return EXECUTABLE
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm is not installed")
    note(f"Prism not found: npm install --prefix {HOME.relative_to(ROOT)} {PACKAGE}")
    try:
        result = subprocess.run(
            [npm, "install", "--prefix", str(HOME), "--no-audit", "--no-fund", PACKAGE],
            capture_output=True, text=True, timeout=600, check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError("npm install took over 10 minutes") from None
    if result.returncode or not EXECUTABLE.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-2:]
        raise BenchError(f"npm install failed ({result.returncode}): {' / '.join(tail)}")
    return EXECUTABLE


def command(executable: Path, port: int) -> list[str]:
    return [str(executable), "mock", str(OPENAPI), "-p", str(port), "-h", "127.0.0.1", "-v", "error"]
