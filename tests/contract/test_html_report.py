"""The HTML report opens offline in a real headless Chromium, with no console errors.

Chromium comes from the system packages: located on PATH, or installed with apt-get
(as `make test` runs it) when missing. The test never skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import RunConfig, report, writers

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], check=True, timeout=1200, env=env, capture_output=True
        )
        found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    assert found, "chromium could not be installed from the system packages"
    return found


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


def render(browser: str, page: Path, tmp: Path) -> tuple[str, list[str]]:
    """(the DOM after load, console messages at error level) of `page`, offline."""
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    errors = [line for line in console if re.search(r"error|Uncaught|Failed to load", line, re.IGNORECASE)]
    return done.stdout, errors


def test_report_renders_offline_without_console_errors(chromium: str, tmp_path: Path) -> None:
    from deviants import drifted_app

    config = RunConfig(seed=3, max_examples=3).with_defaults({})
    run = contract_tests.run(config, app=drifted_app(), select=("value-*", "header-*"))
    writers.write_reports(report.build(run), tmp_path / "r", run.session.redactor.text)
    page = tmp_path / "r" / "report.html"
    source = page.read_text()
    assert "<script src" not in source and "<link" not in source and "http://" not in source.split("<pre>")[0]
    dom, errors = render(chromium, page, tmp_path)
    assert errors == []
    assert 'id="matrix"' in dom and "Drift groups" in dom and "Coverage" in dom
    assert "entry.value_length" in dom and "curl " in dom


def test_console_errors_are_seen(chromium: str, tmp_path: Path) -> None:
    """The detector itself: a page that logs an error must be caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom');undefinedCall();</script></body></html>")
    _, errors = render(chromium, page, tmp_path)
    assert errors
