"""Both stores behind one interface: the same tests for memory and SQLite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engagelab_kit.mock_server.store import FIRST_EUID, Fault, JournalEntry, Store
from engagelab_kit.mock_server.store_memory import MemoryStore
from engagelab_kit.mock_server.store_sqlite import SqliteStore


def entry(euid: int | None, code: int | None, n: int = 0) -> JournalEntry:
    return JournalEntry(time=1e9 + n, method="POST", path=f"/{n}", query="", headers={"authorization": "Basic x"},
                        body=b"{}", body_bytes=2, euid=euid, project=None, code=code, status=200, duration_ms=0.5)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = (MemoryStore(5, (7,)) if request.param == "memory"
                   else SqliteStore(str(tmp_path / "s.db"), 5, (7,)))
    yield made
    made.close()


def test_contacts_merge_and_seed(store: Store) -> None:
    assert store.contacts("p", 1) is None
    store.merge_contacts("p", 1, {"email": "a"})
    store.merge_contacts("p", 1, {"mobile_phone": "b"})
    store.merge_contacts("p", 1, {"email": "c"})
    assert store.contacts("p", 1) == {"email": "c", "mobile_phone": "b"}
    assert store.contacts("q", 1) is None
    store.seed("p", 1, {"x": "y"})
    assert store.contacts("p", 1) == {"x": "y"}
    store.seed("p", 2, {})
    assert store.contacts("p", 2) == {}
    assert store.is_known_euid(2)


def test_register_is_stable_per_project_and_name(store: Store) -> None:
    first = store.register("p", "user_id", ["a", "b", "a"])
    assert first[0] == FIRST_EUID and first[1] == FIRST_EUID + 1 and first[2] == first[0]
    assert store.register("p", "user_id", ["b"]) == [first[1]]
    assert store.register("q", "user_id", ["a"]) != [first[0]]
    assert store.register("p", "anonymous_id", ["a"]) != [first[0]]
    assert store.is_known_euid(first[0])


def test_known_euids(store: Store) -> None:
    assert store.is_known_euid(7) and not store.is_known_euid(8)
    store.add_known_euids([8, 9])
    assert store.is_known_euid(8) and store.is_known_euid(9)


def test_journal_is_bounded_filtered_and_ordered(store: Store) -> None:
    for i in range(600):
        store.record(entry(i % 3, 0 if i % 2 else 55004, i))
    entries = store.journal(limit=100)
    assert [e["path"] for e in entries] == ["/595", "/596", "/597", "/598", "/599"]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert entries[0]["headers"] == {"authorization": "<redacted>"}
    assert entries[0]["time"].startswith("2001-09-09T01:56") and entries[0]["body"] == "{}"
    assert [e["path"] for e in store.journal(euid=1)] == ["/595", "/598"]
    assert [e["path"] for e in store.journal(code=0, limit=2)] == ["/597", "/599"]
    assert [e["path"] for e in store.journal(euid=1, code=0)] == ["/595"]
    store.clear_journal()
    assert store.journal() == []


def test_faults_count_down_and_match(store: Store) -> None:
    assert not store.has_faults()
    once = store.add_fault(Fault(code=-1, times=1, path="/a"))
    twice = store.add_fault(Fault(code=55004, times=2, euid=5))
    forever = store.add_fault(Fault(latency_ms=5, times=None, method="POST", path="/b"))
    assert store.has_faults() and once.id != twice.id
    assert store.take_fault("POST", "/c", None) is None
    assert store.take_fault("POST", "/a", 5) == once
    assert store.take_fault("POST", "/a", 5) == twice
    taken = store.take_fault("POST", "/x", 5)
    assert taken is not None and taken.id == twice.id
    assert store.take_fault("POST", "/x", 5) is None
    assert store.take_fault("GET", "/b", None) is None
    for _ in range(3):
        assert store.take_fault("POST", "/b", None) == forever
    assert [f.id for f in store.faults()] == [forever.id]
    assert store.remove_faults(forever.id + 100) == 0
    assert store.remove_faults(forever.id) == 1
    store.add_fault(Fault(code=-1))
    store.add_fault(Fault(code=-1))
    assert store.remove_faults() == 2 and not store.has_faults()


def test_faults_are_taken_once_under_concurrency(store: Store) -> None:
    store.add_fault(Fault(code=-1, times=50))
    taken: list[Fault | None] = []

    def worker() -> None:
        for _ in range(30):
            taken.append(store.take_fault("POST", "/v1/user/contact", None))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for f in taken if f is not None) == 50


def test_reset_forgets_all_but_configuration(store: Store) -> None:
    store.merge_contacts("p", 1, {"email": "a"})
    store.register("p", "user_id", ["a"])
    store.add_known_euids([99])
    store.record(entry(1, 0))
    store.add_fault(Fault(code=-1))
    store.reset()
    assert store.contacts("p", 1) is None
    assert not store.is_known_euid(99) and store.is_known_euid(7)
    assert store.journal() == [] and store.faults() == []
    assert store.register("p", "user_id", ["b"]) == [FIRST_EUID]


def test_sqlite_state_is_shared_between_connections(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    one, two = SqliteStore(path), SqliteStore(path)
    one.merge_contacts("p", 1, {"email": "a"})
    one.add_fault(Fault(code=-1))
    assert two.contacts("p", 1) == {"email": "a"}
    assert two.take_fault("POST", "/v1/user/contact", None) is not None
    assert one.take_fault("POST", "/v1/user/contact", None) is None
    one.close()
    two.close()
    reopened = SqliteStore(path)
    assert reopened.contacts("p", 1) == {"email": "a"}
    reopened.close()


@pytest.mark.parametrize("batched", [False, True])
def test_a_header_orjson_refuses_is_journaled_by_the_shared_store(tmp_path: Path, batched: bool) -> None:
    # A lone surrogate (a str header handed over in process): the stdlib writes it escaped.
    lone = entry(3, 0)._replace(headers={"x-odd": "a\ud800b"})
    store = SqliteStore(str(tmp_path / "s.db"), 5, batched=batched)
    store.record(lone)
    store.flush()
    (kept,) = store.journal()
    assert kept["headers"] == {"x-odd": "a\ud800b"} and kept["euid"] == 3
    store.close()


def test_journal_json_is_compact_and_the_same_either_way() -> None:
    from engagelab_kit.mock_server.store import json_bytes

    assert json_bytes([1, "a", {"b": None}]) == b'[1,"a",{"b":null}]'
    assert json_bytes([1, "a"], newline=True) == b'[1,"a"]\n'
    assert json_bytes(["\ud800"]) == b'["\\ud800"]' and json_bytes(["\ud800"], newline=True) == b'["\\ud800"]\n'
