"""The workers' write segments (store_segments.py): several processes append without a lock, a
reader folds them into the shared SQLite state; nothing acknowledged is lost or comes back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagelab_kit.mock_server import store_segments, store_sqlite
from engagelab_kit.mock_server.store import JournalEntry
from engagelab_kit.mock_server.store_segments import entry_line
from engagelab_kit.mock_server.store_sqlite import SqliteStore
from tests.cases import CONTACT, JSON_HEADERS
from tests.conftest import Served

pytestmark = pytest.mark.timeout(60)


def entry(n: float, euid: int | None = None) -> JournalEntry:
    return JournalEntry(time=1e9 + n, method="POST", path=f"/{n:g}", query="", headers={"authorization": "Basic x"},
                        body=b"{}", body_bytes=2, euid=euid, project=None, code=0, status=200, duration_ms=0.5)


def segments(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + "-seg-*"))


class Child:
    """A forked process with its own batched store, doing what it is told, one step at a time: a
    worker of its own. Each step returns once the child's flush returned (acknowledged)."""

    _ours: ClassVar[set[int]] = set()  # the parent's ends of every child's pipes: no other child may hold them

    def __init__(self, path: Path) -> None:
        self._orders_r, self._orders_w = os.pipe()
        self._done_r, self._done_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child's coverage is not collected
            try:
                for fd in (*Child._ours, self._orders_w, self._done_r):
                    os.close(fd)
                self._serve(str(path))
            finally:
                os._exit(0)
        os.close(self._orders_r)
        os.close(self._done_w)
        Child._ours |= {self._orders_w, self._done_r}

    def _serve(self, path: str) -> None:
        store = SqliteStore(path, batched=True)
        with os.fdopen(self._orders_r, "rb") as orders:
            for line in orders:
                kind, *args = json.loads(line)
                if kind == "merge":
                    store.merge_contacts("p", args[0], args[1])
                elif kind == "record":
                    store.record(entry(args[0], args[1]))
                elif kind == "close":
                    store.close()
                store.flush()
                os.write(self._done_w, b".")

    def do(self, kind: str, *args: object) -> None:
        os.write(self._orders_w, json.dumps([kind, *args]).encode() + b"\n")
        assert os.read(self._done_r, 1) == b"."

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """A clean end: the child's store closed (its segment folded and removed)."""
        self.do("close")
        os.close(self._orders_w)
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
            time.sleep(0.01)
        self._reap()

    def _reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        for fd in (self._orders_w, self._done_r):
            with contextlib.suppress(OSError):
                os.close(fd)
            Child._ours.discard(fd)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def children(state: Path) -> Iterator[Callable[[], Child]]:
    made: list[Child] = []

    def make() -> Child:
        made.append(Child(state))
        return made[-1]

    yield make
    for child in made:
        with contextlib.suppress(ProcessLookupError):
            child.kill()


def test_a_reader_sees_every_process_writes_in_time_order(state: Path, children: Callable[[], Child]) -> None:
    a, b = children(), children()
    for n in range(6):
        (a if n % 2 == 0 else b).do("record", n, 7)
    # A later merge wins whichever process wrote either, and whichever segment sorts first.
    a.do("merge", 1, {"email": "a1"})
    b.do("merge", 1, {"email": "b2", "mobile_phone": "b2"})
    a.do("merge", 1, {"email": "a3"})
    b.do("merge", 2, {"email": "b1"})
    a.do("merge", 2, {"email": "a2"})
    b.do("merge", 2, {"email": "b3"})
    reader = SqliteStore(str(state))
    assert [e["path"] for e in reader.journal()] == ["/0", "/1", "/2", "/3", "/4", "/5"]
    assert reader.contacts("p", 1) == {"email": "a3", "mobile_phone": "b2"}
    assert reader.contacts("p", 2) == {"email": "b3"}
    assert len(segments(state)) == 2  # both owners alive: their segments stay
    b.do("record", 6, 7)  # written after the fold: picked up by the next, once
    assert [e["path"] for e in reader.journal(limit=3)] == ["/4", "/5", "/6"]
    assert len(reader.journal()) == 7
    a.stop()
    b.stop()
    reader.close()


def test_a_partly_written_line_waits_until_it_is_whole(state: Path) -> None:
    writer, reader = SqliteStore(str(state), batched=True), SqliteStore(str(state))
    writer.record(entry(1))
    writer.flush()
    segment = writer._segment_of[1] if writer._segment_of else None
    assert segment is not None
    line = entry_line(entry(2))
    os.write(segment.fd, line[:40])  # a batch caught half-way through its write
    assert [e["path"] for e in reader.journal()] == ["/1"]
    os.write(segment.fd, line[40:])
    assert [e["path"] for e in reader.journal()] == ["/1", "/2"]
    assert [e["path"] for e in reader.journal()] == ["/1", "/2"]  # and only once
    writer.close()
    reader.close()


def alike(n: float, body: bytes = b'{"a":1}') -> JournalEntry:
    """The same request answered the same way, at another time and taking another while."""
    return entry(n)._replace(path="/same", body=body, body_bytes=len(body), duration_ms=float(n))


def whole(entries: list[JournalEntry], path: Path) -> list[dict[str, object]]:
    """The journal a store writing every entry straight to SQLite gives: no segment, no reference."""
    direct = SqliteStore(f"{path}.direct-{len(entries)}")
    for e in entries:
        direct.record(e)
    read = [{k: v for k, v in e.items() if k != "id"} for e in direct.journal(limit=1000)]
    direct.close()
    return read


def read_back(reader: SqliteStore) -> list[dict[str, object]]:
    return [{k: v for k, v in e.items() if k != "id"} for e in reader.journal(limit=1000)]


def test_a_repeated_entry_is_written_as_a_reference_and_read_back_whole(state: Path) -> None:
    writer, reader = SqliteStore(str(state), batched=True), SqliteStore(str(state))
    first = [alike(n) for n in range(5)]
    for e in first:
        writer.record(e)
    writer.flush()
    lines = segments(state)[0].read_bytes().splitlines()
    assert [line[:3] for line in lines] == [b"[0,"] + [b"[2,"] * 4
    assert max(map(len, lines[1:])) < 40
    assert read_back(reader) == whole(first, state)
    # Read after that fold: their base is before what the next fold reads, in the file.
    later = [alike(n) for n in range(5, 8)]
    for e in later:
        writer.record(e)
    writer.flush()
    assert read_back(reader) == whole(first + later, state)
    # Another request starts a new base; the one after it refers to that one.
    other = [alike(8, b'{"a":2}'), alike(9, b'{"a":2}'), alike(10)]
    for e in other:
        writer.record(e)
    writer.flush()
    assert [line[:3] for line in segments(state)[0].read_bytes().splitlines()[-3:]] == [b"[0,", b"[2,", b"[0,"]
    assert read_back(reader) == whole(first + later + other, state)
    writer.close()
    reader.close()


_VARIANTS: dict[str, tuple[Any, Any]] = {
    "method": ("POST", "PUT"), "path": ("/same", "/other"), "query": ("", "a=1"),
    "headers": ({"authorization": "Basic x"}, {"authorization": "Basic x", "x-a": "1"}),
    "body": (b"{}", b'{"a":1}'), "euid": (None, 7), "project": (None, "p"), "code": (0, 40050),
    "status": (200, 400), "message": (None, "m"), "rule": (None, "r"), "steered": (None, "fault 1"),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from([None, *_VARIANTS]), st.booleans()), min_size=1, max_size=12))
def test_any_run_of_entries_reads_back_as_written_whole(tmp_path: Path, steps: list[tuple[str | None, bool]]) -> None:
    """References stand only for entries that differ in nothing but time and duration: each step
    repeats the previous request, or changes one thing of it; a reader folds after some."""
    state = tmp_path / f"{os.urandom(4).hex()}.db"
    writer, reader = SqliteStore(str(state), batched=True), SqliteStore(str(state))
    fields = {name: first for name, (first, _) in _VARIANTS.items()}
    written = []
    for n, (change, fold) in enumerate(steps):
        if change is not None:
            a, b = _VARIANTS[change]
            fields[change] = b if fields[change] == a else a
        e = entry(n)._replace(duration_ms=n / 4, body_bytes=len(fields["body"]), **fields)
        written.append(e)
        writer.record(e)
        writer.flush()
        if fold:
            reader.fold()
    assert read_back(reader) == whole(written, state)
    writer.close()
    reader.close()


def test_references_in_two_segments_keep_the_latest_entries(state: Path) -> None:
    a, b = SqliteStore(str(state), batched=True), SqliteStore(str(state), batched=True)
    for n in range(20):
        (a if n % 2 else b).record(alike(n))
        if n % 3 == 2:
            a.flush()
            b.flush()
    a.flush()
    b.flush()
    assert len(segments(state)) == 2
    reader = SqliteStore(str(state), journal_size=5)
    assert [e["duration_ms"] for e in reader.journal()] == [15.0, 16.0, 17.0, 18.0, 19.0]
    for store in (a, b, reader):
        store.close()


def test_a_reference_to_nothing_is_skipped(state: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer, reader = SqliteStore(str(state), batched=True), SqliteStore(str(state))
    writer.record(alike(1))
    writer.flush()
    segment = writer._segment_of[1] if writer._segment_of else None
    assert segment is not None
    # Not written by a store: past the end, at a merge, mid-line, and a cut reference.
    os.write(segment.fd, b"[1,5.0,\"p\",1,{}]\n[2,1000000002.0,999999,2.0]\n[2,1000000003.0,0,3.0]\n"
                         b"[2,1000000004.0,3,4.0]\n[2,1000000005.0,0\n")
    writer.record(alike(6, b"{}"))
    writer.flush()
    assert [e["duration_ms"] for e in reader.journal()] == [1.0, 3.0, 6.0]
    assert sum("malformed" in r.getMessage() for r in caplog.records) == 3
    writer.close()
    reader.close()


def test_lines_no_store_writes_are_skipped_and_the_rest_folded(state: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer, reader = SqliteStore(str(state), batched=True), SqliteStore(str(state))
    writer.record(alike(1))
    writer.flush()
    assert [e["duration_ms"] for e in reader.journal()] == [1.0]  # folded: what follows is read after it
    segment = writer._segment_of[1] if writer._segment_of else None
    assert segment is not None
    os.write(segment.fd, b"\n".join([
        b"[2,1000000002.0,0,2.0]",  # its base folded before: read back from the file
        b"[2,1000000003.0,99999,3.0]",  # a base before this read, past the file's end
        b"[2,1000000004.0,0,4.0",  # not closed
        b"[0,soon,null,0,[]]",  # no time
        b"[9,1,2]",  # no such kind
        b'[1,5.0,"p",1,{"email":"a"}]',
        b'[1,6.0,"p",1,{"email":"a"}]',  # the same user and contacts again: parsed once
        b'[1,7.0,"p",{}]',  # a merge without a user
        b"",
    ]))
    assert [e["duration_ms"] for e in reader.journal()] == [1.0, 2.0]
    assert reader.contacts("p", 1) == {"email": "a"}
    assert sum("malformed" in r.getMessage() for r in caplog.records) == 5
    writer.close()
    reader.close()


@pytest.mark.parametrize("then", ["read", "restart"])
def test_a_killed_owner_loses_nothing_acknowledged(state: Path, children: Callable[[], Child], then: str) -> None:
    SqliteStore(str(state)).close()
    child = children()
    for n in range(50):
        child.do("merge", n, {"email": f"e{n}"})
        child.do("record", n, n)
    child.kill()
    assert len(segments(state)) == 1
    if then == "read":
        reader = SqliteStore(str(state))
        assert len(reader.journal(limit=1000)) == 50
    else:
        SqliteStore(str(state)).close()  # a start folds what the killed run left
    with sqlite3.connect(state) as db:
        kept = dict(db.execute("SELECT euid, value FROM contacts").fetchall())
        assert db.execute("SELECT count(*) FROM journal").fetchone()[0] == 50
        assert db.execute("SELECT count(*) FROM segments").fetchone()[0] == 0
    assert kept == {n: f"e{n}" for n in range(50)}
    assert segments(state) == []  # folded whole, then removed


def test_full_segments_are_given_up_and_nothing_is_lost(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_sqlite, "SEGMENT_LIMIT", 4096)
    monkeypatch.setattr(store_sqlite, "_GIVEN_UP_LIMIT", 3)
    writer = SqliteStore(str(state), journal_size=10_000, batched=True)
    largest = 0
    for n in range(2000):
        writer.merge_contacts("p", n, {"email": f"e{n}"})
        writer.record(entry(n, n))
        if n % 8 == 7:
            writer.flush()
            largest = max(largest, *(p.stat().st_size for p in segments(state)))
            # Nobody else folds here: the writer does once it has given up more than 3.
            assert len(segments(state)) <= 5
    writer.flush()
    assert largest < 4096 + 8 * 600  # the limit and at most one batch
    reader = SqliteStore(str(state))
    assert len(reader.journal(limit=5000)) == 2000
    assert all(reader.contacts("p", n) == {"email": f"e{n}"} for n in range(0, 2000, 37))
    writer.close()
    assert segments(state) == []
    reader.close()


def test_a_write_that_fails_part_way_gives_its_segment_up(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk cuts a batch short: that batch is not acknowledged (flush raises), its partial
    line is never glued to a later one, and the next batch goes to a new segment."""
    writer, reader = SqliteStore(str(state), batched=True), SqliteStore(str(state))
    writer.record(entry(1))
    writer.flush()
    real_write = os.write

    def half(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:len(data) * 3 // 4]))  # the first line and half the second
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_segments.os, "write", half)
    writer.record(entry(2))
    writer.record(entry(3))
    with pytest.raises(OSError):
        writer.flush()
    monkeypatch.undo()
    writer.record(entry(4))
    writer.flush()
    paths = [e["path"] for e in reader.journal()]
    assert paths[0] == "/1" and paths[-1] == "/4" and set(paths) <= {"/1", "/2", "/4"}
    assert len(segments(state)) == 1  # the given-up one folded and removed
    writer.close()
    reader.close()


def test_clear_and_reset_bring_nothing_back(state: Path, children: Callable[[], Child]) -> None:
    reader = SqliteStore(str(state), journal_size=100, known_euids=(5,))
    child = children()
    child.do("record", 1, 1)
    reader.clear_journal()  # folds first, so the entry is not waiting in a segment to come back
    assert reader.journal() == []
    child.do("record", 2, 1)
    child.do("merge", 1, {"email": "before"})
    reader.reset()  # the same
    assert reader.journal() == [] and reader.contacts("p", 1) is None
    assert reader.journal() == [] and reader.contacts("p", 1) is None
    child.do("merge", 1, {"mobile_phone": "after"})
    assert reader.contacts("p", 1) == {"mobile_phone": "after"}
    child.stop()
    reader.close()


def test_a_segment_being_made_is_not_taken_for_a_dead_one(state: Path) -> None:
    """A leftover unnamed segment (owner killed between making and naming it) is removed only
    when it is old; a new one is left alone."""
    SqliteStore(str(state)).close()
    young, old = Path(f"{state}-new-1-aa"), Path(f"{state}-new-2-bb")
    young.touch()
    old.touch()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    SqliteStore(str(state)).close()
    assert young.exists() and not old.exists()


@pytest.mark.served
def test_served_workers_fold_without_being_asked(state: Path) -> None:
    """The serving process folds the workers' segments every second: the state file holds every
    acknowledged write without a read through the control API."""
    server = Served("--state", str(state), "--workers", "2")
    try:
        for i in range(20):
            with requests.Session() as fresh:
                body = json.dumps({"euid": 700 + i, "contacts": {"email": f"e{i}"}})
                assert fresh.post(server.url + CONTACT, data=body, headers=JSON_HEADERS, timeout=10).json()["code"] == 0
        deadline = time.monotonic() + 10
        while True:
            with sqlite3.connect(state) as db:
                kept = dict(db.execute("SELECT euid, value FROM contacts WHERE euid >= 700").fetchall())
            if len(kept) == 20 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert kept == {700 + i: f"e{i}" for i in range(20)}
    finally:
        assert server.stop() == 0
    assert segments(state) == []  # each worker's, folded and removed on stop
