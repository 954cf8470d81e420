"""WireMock (the JVM stub server people reach for), at its fastest: one stub, no request journal,
no request logging, the JVM warmed before timing.

The standalone jar comes from the npm ``wiremock`` package (npm-installed into bench/.wiremock/);
a Java runtime from apt (``default-jre-headless``) when none is on PATH.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.installs import executable, npm_install
from bench.mix import PATH

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "bench" / ".wiremock"
# Pinned so that two recorded runs compare the same WireMock.
VERSION = "3.13.2"
PACKAGE = f"wiremock@{VERSION}"
JAR = HOME / "node_modules" / "wiremock" / "build" / f"wiremock-standalone-{VERSION}.jar"
# The JIT needs load to compile the hot paths; timing a cold JVM would understate WireMock.
WARMUP_S = 8

# The one stub: every POST to the endpoint gets the page's success answer.
STUB = {
    "request": {"method": "POST", "url": PATH},
    "response": {"status": 200, "body": '{"code":0,"message":"success"}',
                 "headers": {"Content-Type": "application/json"}},
}


def ensure_wiremock() -> tuple[str, Path]:
    """(java executable, WireMock root directory holding the one stub)."""
    java = executable("java", "default-jre-headless")
    npm_install(HOME, PACKAGE, JAR)
    root = HOME / "root"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "mappings" / "contact.json").write_text(json.dumps(STUB))
    return java, root


def command(java: str, root: Path, port: int) -> list[str]:
    return [java, "-jar", str(JAR), "--port", str(port), "--bind-address", "127.0.0.1", "--root-dir", str(root),
            "--no-request-journal", "--disable-request-logging", "--disable-banner"]
