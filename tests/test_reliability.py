"""The short version of each reliability script (``make reliability`` runs the long ones).

Each drives a real served mock through its CLI, or the rules function, and
asserts the verdicts that are ours to keep; figures that belong to the serving
layer (stalls, orphaned workers) are only required to be measured.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engagelab_kit.mock_server import Settings
from reliability.fuzz import fuzz_http, fuzz_rules
from reliability.kills import kills
from reliability.memory import memory, memory_rules
from reliability.report import FAIL, PASS, SEEN, Row, table
from reliability.secrets import dump_channels, scan, scan_dir
from reliability.server import Server
from reliability.stalls import stalled_clients
from reliability.writers import concurrent_writers

pytestmark = pytest.mark.served


def passed(rows: list[Row]) -> None:
    assert rows and all(r.verdict in (PASS, SEEN) for r in rows), table(rows)


def test_fuzz_through_the_rules_function() -> None:
    passed(fuzz_rules(2_000, seed=1))


def test_fuzz_over_http(tmp_path: Path) -> None:
    with Server(log_dir=tmp_path) as server:
        passed(fuzz_http(600, seed=2, server=server))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    passed(concurrent_writers(3, 30, tmp_path))


@pytest.mark.parametrize("mode", ["parent", "worker", "tree"])
def test_kill_loses_no_acknowledged_write(tmp_path: Path, mode: str) -> None:
    rows = kills(1, seed=3, log_dir=tmp_path, modes=(mode,))
    passed(rows)
    assert [r.check for r in rows if r.verdict == PASS] == [f"SIGKILL {mode} under --state"]


def test_stalled_clients_are_measured_and_released(tmp_path: Path) -> None:
    rows = stalled_clients((2,), 1, 0.2, tmp_path)
    passed(rows)
    assert any(r.check == "stalled clients: 2 released" and r.verdict == PASS for r in rows)


def test_memory_is_flat_at_the_caps(tmp_path: Path) -> None:
    rows = memory(6_000, 4, tmp_path, "--max-state-bytes", "1048576", "--journal-max-bytes", "262144")
    passed(rows)


def test_rules_memory_is_flat_at_the_caps() -> None:
    passed(memory_rules(8_000, 5, Settings(max_state_bytes=1 << 20, journal_max_bytes=1 << 18)))


def test_secret_scan_finds_nothing_and_would_find_a_leak(tmp_path: Path) -> None:
    dump_channels(tmp_path)
    rows = scan_dir(tmp_path, [])
    passed(rows)
    assert (tmp_path / "journal.json").stat().st_size > 100  # the journal really was scanned
    leak = tmp_path / "leak.log"
    from reliability.server import AUTH

    leak.write_text(f"Authorization: {AUTH}")
    assert scan([leak])[0].verdict == FAIL
