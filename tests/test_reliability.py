"""The short version of each reliability script (``make reliability`` runs the long ones).

Each drives a real served mock through its CLI, or the rules function, and
asserts every verdict, the serving layer's included: stalled uploads do not
hold a good request back, a stalled body gets its 408, kills leave no worker
behind and free the port, a restart serves within 1 s.
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


def passed(rows: list[Row], judged: bool = False) -> None:
    """No FAIL; ``judged``: every row judged pass (no row merely seen)."""
    assert rows and all(r.verdict == PASS or (r.verdict == SEEN and not judged) for r in rows), table(rows)


def test_fuzz_through_the_rules_function() -> None:
    passed(fuzz_rules(2_000, seed=1))


def test_fuzz_over_http(tmp_path: Path) -> None:
    with Server(log_dir=tmp_path) as server:
        passed(fuzz_http(600, seed=2, server=server))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    passed(concurrent_writers(3, 30, tmp_path))


@pytest.mark.parametrize("mode", ["parent", "worker", "tree"])
def test_kill_loses_nothing_leaves_no_worker_and_restarts(tmp_path: Path, mode: str) -> None:
    rows = kills(1, seed=3, log_dir=tmp_path, modes=(mode,))
    passed(rows, judged=True)
    assert [r.check for r in rows] == [f"SIGKILL {mode} under --state", f"SIGKILL {mode}: port and workers",
                                       f"SIGKILL {mode}: restart serving"]


def test_stalled_uploads_hold_nothing_and_get_their_408(tmp_path: Path) -> None:
    rows = stalled_clients((2,), 2, tmp_path, body_timeout=1.0)
    passed(rows, judged=True)
    assert [r.check for r in rows] == ["stalled clients: 2 mid-upload + 2 idle", "stalled clients: 2 released",
                                       "stalled upload: its own answer"]
    assert rows[-1].figure.startswith("HTTP 408, code 55004")


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
