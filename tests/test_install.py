"""The kit installed as a user installs it: a built wheel in a fresh venv, from PyPI.

These tests need PyPI (through uv's and pip's caches, so a second run takes
seconds). ``-m "not install"`` leaves them out on a machine without it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).with_name("uv")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPENDENCIES: list[str] = PYPROJECT["project"]["dependencies"]

pytestmark = pytest.mark.install

SMOKE = '''
import requests
from hypothesis import given, settings
from engagelab_kit.mock_server import ContactClient, invalid_requests

EXAMPLE = {"euid": 10362473, "contacts": {"mobile_phone": "18023456879", "email": "12@gmail.com"}}

def test_served(engagelab_mock):
    reply = requests.post(engagelab_mock.url + "/v1/user/contact", json=EXAMPLE,
                          auth=(engagelab_mock.api_key, engagelab_mock.api_secret), timeout=10)
    assert reply.json()["code"] == 0

def test_in_process(engagelab_transport):
    ContactClient(engagelab_transport.api_key, engagelab_transport.api_secret).set_contacts(1, {"email": "a@b"})
    assert engagelab_transport.control.user(1) == {"email": "a@b"}

@settings(max_examples=10, deadline=None)
@given(case=invalid_requests())
def test_strategies(case):
    assert case.code != 0
'''


def _run(*command: str | Path, cwd: Path | None = None, timeout: float = 240) -> str:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The kit's wheel, built from a copy of the sources so the checkout gains no build folders."""
    scratch = tmp_path_factory.mktemp("wheel")
    source = scratch / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for name in ("spec", "mock_server", "contract_tests"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", source,
         "-w", scratch / "dist")
    [built] = (scratch / "dist").glob("*.whl")
    yield built


def _venv(path: Path, *, pip: bool = False) -> Path:
    _run(UV, "venv", "--quiet", *(["--seed"] if pip else []), "--python", sys.executable, path)
    return path / "bin" / "python"


def _installed(python: Path) -> dict[str, str]:
    listing = _run(UV, "pip", "list", "--python", python, "--format", "freeze")
    return {name.lower(): version for name, version in (line.split("==") for line in listing.split())}


def _lower_bound(requirement: str) -> tuple[str, str]:
    parsed = Requirement(requirement)
    lows = [spec.version for spec in parsed.specifier if spec.operator == ">="]
    assert lows, f"{requirement}: every dependency needs a lower bound"
    return parsed.name.lower(), lows[0]


def test_lowest_allowed_versions_work(wheel: Path, tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    # The kit's own ranges as direct requirements, so that "lowest-direct" takes each one's lower bound.
    _run(UV, "pip", "install", "--quiet", "--python", python, "--resolution", "lowest-direct", wheel, *DEPENDENCIES)
    installed = _installed(python)
    for name, lowest in map(_lower_bound, DEPENDENCIES):
        assert Version(installed[name]) == Version(lowest), (name, installed[name])
    (tmp_path / "test_smoke.py").write_text(SMOKE)
    _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_smoke.py", cwd=tmp_path)
    version = PYPROJECT["project"]["version"]
    assert version in _run(python, "-m", "engagelab_kit.mock_server", "--version")
    assert version in _run(tmp_path / "venv" / "bin" / "engagelab-contract", "--version")
    # The contract suite, hypothesis-jsonschema included, at the lowest versions.
    _run(tmp_path / "venv" / "bin" / "engagelab-contract", "--max-examples", "3", cwd=tmp_path)


APP_SPEC = '''"""The app's own spec package: it must not shadow the kit's."""
def describe():
    return "the app's spec"
'''

APP_TEST = '''
import requests
import spec

EXAMPLE = {"euid": 10362473, "contacts": {"mobile_phone": "18023456879", "email": "12@gmail.com"}}

def test_vendor_example(engagelab_mock):
    reply = requests.post(engagelab_mock.url + "/v1/user/contact", json=EXAMPLE, timeout=10,
                          auth=(engagelab_mock.api_key, engagelab_mock.api_secret))
    assert reply.json()["code"] == 0

def test_the_apps_spec_is_its_own():
    assert spec.describe() == "the app's spec"
'''


def test_done_means_an_apps_own_project(wheel: Path, tmp_path: Path) -> None:
    """Issue 11's "done": the app keeps its versions and its ``spec``; a test with no conftest passes."""
    python = _venv(tmp_path / "venv", pip=True)
    pip = (python, "-m", "pip", "--quiet", "--disable-pip-version-check")
    _run(*pip, "install", "requests==2.32.3", "pytest==8.3.4")
    app = tmp_path / "app"
    (app / "spec").mkdir(parents=True)
    (app / "spec" / "__init__.py").write_text(APP_SPEC)
    (app / "tests").mkdir()
    (app / "tests" / "__init__.py").write_text("")
    (app / "tests" / "test_contact.py").write_text(APP_TEST)
    _run(*pip, "install", wheel, cwd=app)
    installed = _installed(python)
    assert (installed["requests"], installed["pytest"]) == ("2.32.3", "8.3.4")
    output = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=app)
    assert "2 passed" in output
    assert not list(app.glob("conftest.py")) and not list(app.rglob("conftest.py"))
