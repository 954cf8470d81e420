"""Fixtures for testing the contract suite itself."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # deviants.py, importable by --app too
