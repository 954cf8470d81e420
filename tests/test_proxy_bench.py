"""The proxy-overhead benchmark runs end to end and prints every figure; no speed is asserted here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.served


def test_overhead_benchmark_prints_direct_proxy_and_added(tmp_path: Path) -> None:
    out = tmp_path / "overhead.json"
    done = subprocess.run([sys.executable, "bench/proxy_overhead.py", "--requests", "60", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("direct", "proxy", "added"):
        assert re.search(rf"^{name}\s+-?[\d.]+\s+-?[\d.]+$", done.stdout, re.MULTILINE), done.stdout
    figures = json.loads(out.read_text())
    assert figures["requests"] == 60 and figures["proxy_p50_ms"] > 0 and figures["direct_p50_ms"] > 0
