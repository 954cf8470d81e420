"""Bounded memory: the journal in entries and bytes, the in-memory store within its budget."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from engagelab_kit.mock_server import Settings
from engagelab_kit.mock_server.store import (
    JOURNAL_BODY_LIMIT,
    JOURNAL_HEADER_COUNT,
    JOURNAL_HEADER_VALUE_LIMIT,
    JOURNAL_HEADERS_LIMIT,
    JournalEntry,
)
from engagelab_kit.mock_server.store_memory import MemoryStore
from engagelab_kit.mock_server.store_sqlite import SqliteStore
from tests.cases import AUTH, CONTACT
from tests.conftest import InProcess

MIB = 1024 * 1024


def entry(n: int, headers: dict[str, str], body: bytes = b"{}", query: str = "") -> JournalEntry:
    return JournalEntry(time=1e9 + n, method="POST", path="/v1/user/contact", query=query, headers=headers,
                        body=body, body_bytes=len(body), euid=n, project=None, code=0, status=200, duration_ms=0.1)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_journal_entry_truncates_headers_body_and_query(kind: str, tmp_path: Path) -> None:
    store = MemoryStore() if kind == "memory" else SqliteStore(str(tmp_path / "s.db"))
    headers = {f"x-h{i:02d}": "v" * 2000 for i in range(100)}
    store.record(entry(1, headers, b"b" * 100_000, "q" * 100_000))
    (kept,) = store.journal()
    assert len(kept["headers"]) <= JOURNAL_HEADER_COUNT and kept["headers_truncated"]
    assert all(len(v) <= JOURNAL_HEADER_VALUE_LIMIT for v in kept["headers"].values())
    assert sum(len(k) + len(v) for k, v in kept["headers"].items()) <= JOURNAL_HEADERS_LIMIT
    assert len(kept["body"]) == JOURNAL_BODY_LIMIT and kept["body_bytes"] == 100_000 and kept["body_truncated"]
    assert len(kept["query"]) <= 2048
    store.record(entry(2, {"a": "b"}))
    assert store.journal()[-1]["headers_truncated"] is False and store.journal()[-1]["body_truncated"] is False
    store.close()


def test_memory_journal_is_capped_in_bytes() -> None:
    store = MemoryStore(journal_size=10_000, journal_max_bytes=256 * 1024)
    big = {f"x-h{i:02d}": "v" * 500 for i in range(8)}
    for n in range(2_000):
        store.record(entry(n, big, b"x" * 8000))
    kept = store.journal(limit=10_000)
    assert 10 < len(kept) < 40, len(kept)
    assert kept[-1]["euid"] == 1_999  # the newest stay, the oldest go
    assert store._journal_bytes <= 256 * 1024  # the figure the cap acts on


def test_journal_memory_is_flat_under_large_requests() -> None:
    """The real allocation, not the estimate: 5,000 large requests hold no more than the cap."""
    store = MemoryStore(journal_size=10_000, journal_max_bytes=2 * MIB)
    headers = {f"x-h{i:02d}": "v" * 4000 for i in range(60)}
    tracemalloc.start()
    try:
        for n in range(5_000):
            store.record(entry(n, dict(headers), b"x" * 50_000, "q" * 8000))
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert used < 3 * MIB, used


def _user(n: int) -> dict[str, str]:
    return json.loads(json.dumps({"mobile_phone": f"1802345{n:04d}", "email": f"user{n}@example.com"}))


def test_state_budget_evicts_least_recently_written_and_counts() -> None:
    store = MemoryStore(max_state_bytes=MIB)
    store.merge_contacts("p", 1, {"email": "first"})
    for n in range(2, 5_000):
        store.merge_contacts("p", n, _user(n))
        if n % 100 == 0:
            store.merge_contacts("p", 1, {"mobile_phone": "kept"})  # written again: stays
    assert store.contacts("p", 1) == {"email": "first", "mobile_phone": "kept"}
    assert store.contacts("p", 2) is None  # the least recently written went first
    assert store.contacts("p", 4_999) == _user(4_999)
    evicted = store.evicted()
    assert evicted["user"] > 1_000 and evicted["identity"] == 0
    assert store._state_bytes <= MIB
    store.reset()
    assert store.evicted()["user"] == 0


def test_state_budget_covers_identities_and_known_euids_but_not_configured_ones() -> None:
    store = MemoryStore(known_euids=(42,), max_state_bytes=MIB)
    first = store.register("p", "user_id", ["alice"])
    for n in range(200):
        store.register("p", "user_id", [f"u{n}-{i}" for i in range(100)])
    store.add_known_euids(list(range(1, 5_000)))
    assert store.evicted()["identity"] > 0 and store.evicted()["known_euid"] > 0
    assert store.is_known_euid(42)  # configured: never forgotten
    assert store.is_known_euid(4_999 - 1)
    assert store.register("p", "user_id", ["alice"]) != first  # documented: a forgotten identity is new


def test_state_estimate_is_not_below_real_memory() -> None:
    store = MemoryStore(max_state_bytes=1 << 40)
    tracemalloc.start()
    try:
        for n in range(20_000):
            store.merge_contacts("7d431e42dfa6a6d693ac2d04", 10**9 + n, _user(n))
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    estimated = store._state_bytes
    assert used <= estimated <= 2 * used, (used, estimated)


def test_memory_store_budget_comes_from_settings() -> None:
    target = InProcess(Settings(max_state_bytes=MIB, journal_size=5))
    for euid in range(1, 3_000):
        body = json.dumps({"euid": euid, "contacts": {"email": f"u{euid}@example.com"}}).encode()
        assert target.request("POST", CONTACT, body, {"Content-Type": "application/json",
                                                      "Authorization": AUTH}).code == 0
    health = target.control("GET", "/health").json
    assert health["evicted"]["user"] > 0
    assert target.control("GET", "/users/2999").json["contacts"] == {"email": "u2999@example.com"}
    assert target.control("GET", "/users/1").status == 404
    assert len(target.control("GET", "/journal?limit=100").json["entries"]) == 5
