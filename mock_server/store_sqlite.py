"""The shared store: one SQLite file in WAL mode, one connection per thread.

Every worker process opens the same file, so a fault set through one worker
fires on the next request whichever worker takes it, and the journal shows
every worker's requests. A write is in the kernel's hands before its response
is sent: what was acknowledged with code 0 survives a SIGKILL and a restart.

Batched (``batched=True``, what the served mock uses): contact merges and
journal entries are queued, and ``flush()`` appends the queue to this
process's own segment file with one write, taking no lock
(``store_segments.py``). The dispatcher calls it once per event-loop turn and
answers the requests of that turn only after it returns. Workers never wait
for each other on that path: on the hot path the state is only written.
Whatever reads the state (the control API, register, seed, reset, a start)
first folds every worker's segment into the tables under the writers' lock,
so every worker's acknowledged writes are seen whichever worker is asked.
Unbatched, a write folds and then writes the tables directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import sqlite3
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import orjson

from engagelab_kit.mock_server import store_segments
from engagelab_kit.mock_server.store import FIRST_EUID, Fault, JournalEntry, bounded, compact, expand
from engagelab_kit.mock_server.store_segments import SEGMENT_LIMIT, Segment, entry_line, merge_lines

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    project TEXT NOT NULL, euid INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (project, euid, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users (
    project TEXT NOT NULL, euid INTEGER NOT NULL, PRIMARY KEY (project, euid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS identities (
    euid INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, name TEXT NOT NULL,
    value TEXT NOT NULL, UNIQUE (project, name, value));
CREATE TABLE IF NOT EXISTS known_euids (euid INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, euid INTEGER, code INTEGER, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, times INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, folded INTEGER NOT NULL) WITHOUT ROWID;
"""

_TRIM_EVERY = 256
_GIVEN_UP_LIMIT = 16
_COUNT = struct.Struct("<Q")


# Whichever process forked last: a connection, descriptor or mapping made before a fork is the
# parent's. Counted at fork time, where asking os.getpid() on every use costs a system call.
_forks = [0]
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


def _entry_json(entry: JournalEntry) -> str:
    """The entry as the journal table keeps it: its ``compact`` row as a JSON array."""
    row = compact(bounded(entry))
    try:
        return orjson.dumps(row).decode()
    except orjson.JSONEncodeError:  # e.g. a lone surrogate in a header: the stdlib escapes it
        return json.dumps(row)


def _entry_from(text: str) -> dict[str, Any]:
    data = json.loads(text)
    # A state file written before entries were compact rows holds the JSON object itself.
    return expand(data) if isinstance(data, list) else data


class SqliteStore:
    def __init__(self, path: str, journal_size: int = 10_000, known_euids: tuple[int, ...] = (),
                 batched: bool = False) -> None:
        self.path = path
        self.batched = batched
        self._journal_size = journal_size
        self._configured_euids = known_euids
        self._local = threading.local()
        # A URI or an in-memory database has no directory to hold segments: it is written directly.
        self._segmented = not (path == ":memory:" or path.startswith("file:"))
        _make_private(path)
        self._queue_lock = threading.Lock()
        self._merges: list[tuple[str, int, dict[str, str]]] = []
        self._entries: list[JournalEntry] = []
        self._journaled = 0
        self._armed: tuple[int, mmap.mmap] | None = None  # (fork count, the shared fault count)
        self._segment_of: tuple[int, Segment] | None = None  # (fork count, this process's segment)
        self._given_up: list[str] = []  # this process's full segments, perhaps not yet folded
        self._db.executescript(_SCHEMA)
        with self._transaction() as db:  # folds what a killed run left in its segments
            self._seed_sequence(db)
            db.executemany("INSERT OR IGNORE INTO known_euids VALUES (?)", [(e,) for e in known_euids])
            self._count_faults(db)

    @property
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        # A connection must not cross a fork: a worker opens its own.
        if db is None or self._local.forks != _forks[0]:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            # No fsync: a write handed to the kernel survives the process being killed (what the state
            # file promises), and fsyncs at checkpoints cost the workers p99 6-7 ms instead of 2.
            db.execute("PRAGMA synchronous=OFF")
            self._local.db = db
            self._local.forks = _forks[0]
            self._local.writer = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return db

    def _fault_count(self) -> mmap.mmap:
        """The number of armed faults, shared by every process through the lock file's first 8 bytes:
        asking it costs a memory read, where asking the database costs a query per request."""
        if self._armed is None or self._armed[0] != _forks[0]:
            fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                if os.fstat(fd).st_size < _COUNT.size:
                    os.ftruncate(fd, _COUNT.size)
                self._armed = (_forks[0], mmap.mmap(fd, _COUNT.size))
            finally:
                os.close(fd)
        return self._armed[1]

    def _count_faults(self, db: sqlite3.Connection) -> None:
        # Inside the writer's transaction: the count changes with the table, under the same lock.
        _COUNT.pack_into(self._fault_count(), 0, db.execute("SELECT count(*) FROM faults").fetchone()[0])

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        # Writers queue on a file lock first: the kernel wakes the next one the moment the lock is
        # free, where SQLite's own busy handler sleeps 1, 2, 5, 10... ms between tries. One
        # descriptor per thread, as flock locks belong to the open file, not the thread.
        fcntl.flock(self._local.writer, fcntl.LOCK_EX)
        try:
            yield db
        finally:
            fcntl.flock(self._local.writer, fcntl.LOCK_UN)

    @contextmanager
    def _transaction(self, fold: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction under the writers' lock; ``fold``: every segment's new lines first,
        so that what it reads or changes includes every worker's acknowledged writes."""
        with self._locked() as db, self._write(db, fold):
            yield db

    @contextmanager
    def _write(self, db: sqlite3.Connection, fold: bool) -> Iterator[None]:
        """``_transaction`` for a caller that holds the writers' lock already."""
        db.execute("BEGIN IMMEDIATE")
        folded = None
        try:
            folded = self._fold(db) if fold else None
            yield
        except BaseException:
            db.execute("ROLLBACK")
            if folded is not None:
                folded.release()
            raise
        db.execute("COMMIT")
        if folded is not None:
            self._bury(db, folded)

    def _fold(self, db: sqlite3.Connection) -> store_segments.Fold | None:
        if not self._segmented:
            return None
        own = self._segment_of[1].name if self._segment_of and self._segment_of[0] == _forks[0] else None
        offsets = dict(db.execute("SELECT name, folded FROM segments").fetchall())
        folded = store_segments.read(self.path, offsets, own, self._journal_size)
        try:
            self._apply(db, [m[1:] for m in folded.merges], [r[1:] for r in folded.rows])
            moved = [(n, o) for n, o in folded.offsets if o != offsets.get(n, 0)]
            db.executemany("INSERT OR REPLACE INTO segments VALUES (?, ?)", moved)
        except BaseException:
            folded.release()
            raise
        return folded

    @staticmethod
    def _bury(db: sqlite3.Connection, folded: store_segments.Fold) -> None:
        """After the commit: dead owners' segments go, then their offset rows. Killed in between,
        a segment's row still says it was folded to its end, so nothing is folded twice."""
        if not (folded.dead or folded.stale):
            return
        gone = [*folded.stale]
        for path, _ in folded.dead:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            gone.append(os.path.basename(path))
        folded.release()
        db.executemany("DELETE FROM segments WHERE name = ?", [(n,) for n in gone])

    def _apply(self, db: sqlite3.Connection, merges: list[tuple[str, int, dict[str, str]]],
               rows: list[tuple[int | None, int | None, str]]) -> None:
        users: dict[tuple[str, int], dict[str, str]] = {}
        for p, e, c in merges:
            # One user written several times (a client repeating itself) is written once, with
            # its merges applied in order.
            merged = users.get((p, e))
            users[p, e] = c if merged is None else {**merged, **c}
        if users:
            db.executemany("INSERT OR IGNORE INTO users VALUES (?, ?)", users)
            db.executemany("INSERT OR REPLACE INTO contacts VALUES (?, ?, ?, ?)",
                           [(p, e, name, value) for (p, e), c in users.items() for name, value in c.items()])
        if rows:
            # Entries the journal would trim at once are not written (a long run's segments).
            self._insert_entries(db, rows[-self._journal_size:] if self._journal_size else [])

    @staticmethod
    def _seed_sequence(db: sqlite3.Connection) -> None:
        # Registered euids start where the in-memory store's do.
        if db.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'identities'").fetchone() is None:
            db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('identities', ?)", (FIRST_EUID - 1,))

    @property
    def pending(self) -> bool:
        return bool(self._entries or self._merges)

    def flush(self) -> None:
        """Store every queued merge and journal entry: batched, one append to this process's
        segment; otherwise one transaction. Either way in the kernel's hands when it returns."""
        with self._queue_lock:
            if not (self._entries or self._merges):
                return
            merges, self._merges = self._merges, []
            entries, self._entries = self._entries, []
            if self.batched and self._segmented:
                segment = self._segment()
                segment.append(b"".join([*merge_lines(merges), *map(entry_line, entries)]))
                if segment.size >= SEGMENT_LIMIT:
                    self._rotate(segment)
                return
            # Rows are made before the writers' lock is taken: the others wait only for the writes.
            rows = [(e.euid, e.code, _entry_json(e)) for e in entries]
            with self._transaction() as db:
                self._apply(db, merges, rows)

    def _segment(self) -> Segment:
        made = self._segment_of
        if made is not None and made[0] == _forks[0] and not made[1].closed:
            return made[1]
        if made is not None and made[0] != _forks[0]:
            os.close(made[1].fd)  # the parent's, inherited: its lock must live only as long as the parent
        segment = Segment(self.path)
        self._segment_of = (_forks[0], segment)
        return segment

    def _rotate(self, segment: Segment) -> None:
        """Bounded disk: the segment is given up, for the next fold to take whole and remove."""
        segment.close()
        self._given_up = [p for p in self._given_up if os.path.exists(p)] + [segment.path]
        if len(self._given_up) > _GIVEN_UP_LIMIT:
            # Nobody folds them (no serving process folding, nor reads): this process does.
            self.fold()
            self._given_up = []

    def _insert_entries(self, db: sqlite3.Connection, rows: list[tuple[int | None, int | None, str]]) -> None:
        cursor = db.executemany("INSERT INTO journal (euid, code, entry) VALUES (?, ?, ?)", rows)
        before, self._journaled = self._journaled, self._journaled + len(rows)
        # Trimming now and then keeps the table bounded at O(1) amortised cost per request.
        if before // _TRIM_EVERY != self._journaled // _TRIM_EVERY and cursor.lastrowid is not None:
            last = db.execute("SELECT max(id) FROM journal").fetchone()[0] or 0
            db.execute("DELETE FROM journal WHERE id <= ?", (last - self._journal_size,))

    def reset(self) -> None:
        self.flush()
        with self._transaction() as db:
            for table in ("contacts", "users", "identities", "known_euids", "journal", "faults"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM sqlite_sequence WHERE name = 'identities'")
            self._seed_sequence(db)
            self._count_faults(db)
            db.executemany("INSERT INTO known_euids VALUES (?)", [(e,) for e in self._configured_euids])

    def merge_contacts(self, project: str, euid: int, contacts: dict[str, str]) -> None:
        with self._queue_lock:
            self._merges.append((project, euid, contacts))
        if not self.batched:
            self.flush()

    def fold(self) -> None:
        """This process's queue, then every segment, into the tables: what a read must see."""
        self.flush()
        if self._segmented:
            with self._transaction():
                pass

    def contacts(self, project: str, euid: int) -> dict[str, str] | None:
        self.fold()
        db = self._db
        if db.execute("SELECT 1 FROM users WHERE project = ? AND euid = ?", (project, euid)).fetchone() is None:
            return None
        rows = db.execute("SELECT name, value FROM contacts WHERE project = ? AND euid = ?", (project, euid))
        return dict(rows.fetchall())

    def seed(self, project: str, euid: int, contacts: dict[str, str]) -> None:
        self.flush()
        with self._transaction() as db:
            db.execute("DELETE FROM contacts WHERE project = ? AND euid = ?", (project, euid))
            db.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (project, euid))
            db.execute("INSERT OR IGNORE INTO known_euids VALUES (?)", (euid,))
            db.executemany(
                "INSERT INTO contacts VALUES (?, ?, ?, ?)",
                [(project, euid, name, value) for name, value in contacts.items()],
            )

    def register(self, project: str, identity_name: str, values: list[str]) -> list[int]:
        with self._transaction() as db:
            euids = []
            for value in values:
                db.execute(
                    "INSERT OR IGNORE INTO identities (project, name, value) VALUES (?, ?, ?)",
                    (project, identity_name, value),
                )
                row = db.execute(
                    "SELECT euid FROM identities WHERE project = ? AND name = ? AND value = ?",
                    (project, identity_name, value),
                ).fetchone()
                euids.append(row[0])
            db.executemany("INSERT OR IGNORE INTO known_euids VALUES (?)", [(e,) for e in euids])
            return euids

    def is_known_euid(self, euid: int) -> bool:
        return self._db.execute("SELECT 1 FROM known_euids WHERE euid = ?", (euid,)).fetchone() is not None

    def add_known_euids(self, euids: list[int]) -> None:
        with self._transaction(fold=False) as db:
            db.executemany("INSERT OR IGNORE INTO known_euids VALUES (?)", [(e,) for e in euids])

    def record(self, entry: JournalEntry) -> None:
        with self._queue_lock:
            self._entries.append(entry)
        if not self.batched:
            self.flush()

    def journal(self, euid: int | None = None, code: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        self.fold()
        rows = self._db.execute(
            "SELECT id, entry FROM (SELECT id, entry FROM journal"
            " WHERE (?1 IS NULL OR euid = ?1) AND (?2 IS NULL OR code = ?2)"
            " AND id > (SELECT coalesce(max(id), 0) FROM journal) - ?3"
            " ORDER BY id DESC LIMIT ?4) ORDER BY id",
            (euid, code, self._journal_size, limit),
        ).fetchall()
        return [{**_entry_from(entry), "id": row_id} for row_id, entry in rows]

    def clear_journal(self) -> None:
        self.flush()
        with self._transaction() as db:  # folded first: no entry acknowledged before comes back after
            db.execute("DELETE FROM journal")

    def add_fault(self, fault: Fault) -> Fault:
        data = json.dumps({k: v for k, v in fault.to_json().items() if k not in ("id", "times")})
        # Faults, known euids: never in a segment, so no fold (take_fault runs on every faulted request).
        with self._transaction(fold=False) as db:
            cursor = db.execute("INSERT INTO faults (times, data) VALUES (?, ?)", (fault.times, data))
            self._count_faults(db)
        return replace(fault, id=cursor.lastrowid or 0)

    def faults(self) -> list[Fault]:
        return _faults(self._db)

    def remove_faults(self, fault_id: int | None = None) -> int:
        with self._transaction(fold=False) as db:
            if fault_id is None:
                removed: int = db.execute("DELETE FROM faults").rowcount
            else:
                removed = db.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount
            self._count_faults(db)
        return removed

    def has_faults(self) -> bool:
        armed: int = _COUNT.unpack_from(self._fault_count())[0]
        return armed > 0

    def take_fault(self, method: str, path: str, euid: int | None) -> Fault | None:
        with self._transaction(fold=False) as db:
            taken = next((f for f in _faults(db) if f.matches(method, path, euid)), None)
            if taken is not None and taken.times is not None and taken.times <= 1:
                db.execute("DELETE FROM faults WHERE id = ?", (taken.id,))
            elif taken is not None and taken.times is not None:
                db.execute("UPDATE faults SET times = times - 1 WHERE id = ?", (taken.id,))
            self._count_faults(db)  # also heals a count left stale by a crash
            return taken

    def close(self) -> None:
        """Everything queued and every segment folded; this process's segment removed."""
        self.flush()
        made, self._segment_of = self._segment_of, None
        if made is not None and made[0] == _forks[0]:
            made[1].close()  # given up, so the fold below takes it whole and removes it
        if self._segmented:
            with self._transaction():
                pass
        connection = getattr(self._local, "db", None)
        if connection is not None:
            connection.close()
            os.close(self._local.writer)
            self._local.db = None


def _make_private(path: str) -> None:
    """Create the state file readable by its owner only (it holds users' contacts and the journal).

    SQLite gives the -wal and -shm files the database file's permissions, so they follow.
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)


def _faults(db: sqlite3.Connection) -> list[Fault]:
    rows = db.execute("SELECT id, times, data FROM faults ORDER BY id").fetchall()
    return [Fault(id=i, times=t, **json.loads(d)) for i, t, d in rows]
