"""Reliability scripts: reproduce the hardening figures against the served mock.

Run ``make reliability`` (or ``.venv/bin/python -m reliability [--quick] [--only NAME]``)
from the repository root. Each check drives the mock only through its command
line (``engagelab-mock serve --port 0``, the URL read from the first banner
line, stopped by PID) or through the rules function, and returns rows for one
table. ``--quick`` runs a bounded short version of each (tests/test_reliability.py
runs it in ``make test``).
"""
