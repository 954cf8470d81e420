"""Installing what the benchmark measures with: apt for system tools, npm for the reference mocks.

CI machines start without them; the benchmark installs them itself rather than assuming them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.console import BenchError, note


def _apt(*args: str) -> None:
    command = ["apt-get", *args]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise BenchError(f"`{' '.join(command)}` failed ({result.returncode}): {' / '.join(tail)}")


def apt_install(package: str) -> None:
    """Install a Debian package; needs root."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BenchError(f"{package} is not installed, and installing it needs root on a Debian/Ubuntu machine: "
                         f"run `apt-get install {package}` (or your platform's equivalent) and rerun")
    _apt("update")
    _apt("install", "-y", "--no-install-recommends", package)


def executable(name: str, package: str) -> str:
    """The ``name`` executable on PATH, apt-installing ``package`` first if it is missing."""
    found = shutil.which(name)
    if found:
        return found
    note(f"{name} not found: installing {package} with apt-get")
    apt_install(package)
    found = shutil.which(name)
    if not found:
        raise BenchError(f"apt-get installed {package} but {name} is not on PATH")
    return found


def npm_install(home: Path, package: str, product: Path) -> Path:
    """``product`` (a file the package installs), npm-installing ``package`` into ``home`` first if missing."""
    if product.exists():
        return product
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm is not installed")
    note(f"{package} not found: npm install --prefix {home} {package}")
    try:
        result = subprocess.run(
            [npm, "install", "--prefix", str(home), "--no-audit", "--no-fund", package],
            capture_output=True, text=True, timeout=600, check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"npm install {package} took over 10 minutes") from None
    if result.returncode or not product.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-2:]
        raise BenchError(f"npm install {package} failed ({result.returncode}): {' / '.join(tail)}")
    return product
