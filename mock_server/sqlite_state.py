"""The SQLite file every worker shares: its schema, a connection per thread (and per fork), the
writers' lock, and write transactions that fold the workers' segments first (``store_segments``).

``SqliteStore`` (``store_sqlite.py``) is the ``Store`` on top of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import sqlite3
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from engagelab_kit.mock_server import store_segments
from engagelab_kit.mock_server.store import FIRST_EUID
from engagelab_kit.mock_server.store_segments import Segment

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
FAULT_COUNT = struct.Struct("<Q")


# Whichever process forked last: a connection, descriptor or mapping made before a fork is the
# parent's. Counted at fork time, where asking os.getpid() on every use costs a system call.
forks = [0]
os.register_at_fork(after_in_child=lambda: forks.__setitem__(0, forks[0] + 1))


class SqliteState:
    """What every ``SqliteStore`` stands on; not a ``Store`` by itself."""

    def __init__(self, path: str, journal_size: int) -> None:
        self.path = path
        self._journal_size = journal_size
        self._local = threading.local()
        # A URI or an in-memory database has no directory to hold segments: it is written directly.
        self._segmented = not (path == ":memory:" or path.startswith("file:"))
        _make_private(path)
        self._journaled = 0
        self._armed: tuple[int, mmap.mmap] | None = None  # (fork count, the shared fault count)
        self._segment_of: tuple[int, Segment] | None = None  # (fork count, this process's segment)
        self._db.executescript(_SCHEMA)

    @property
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        # A connection must not cross a fork: a worker opens its own.
        if db is None or self._local.forks != forks[0]:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            # No fsync: a write handed to the kernel survives the process being killed (what the state
            # file promises), and fsyncs at checkpoints cost the workers p99 6-7 ms instead of 2.
            db.execute("PRAGMA synchronous=OFF")
            self._local.db = db
            self._local.forks = forks[0]
            self._local.writer = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return db

    def _fault_count(self) -> mmap.mmap:
        """The number of armed faults, shared by every process through the lock file's first 8 bytes:
        asking it costs a memory read, where asking the database costs a query per request."""
        if self._armed is None or self._armed[0] != forks[0]:
            fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                if os.fstat(fd).st_size < FAULT_COUNT.size:
                    os.ftruncate(fd, FAULT_COUNT.size)
                self._armed = (forks[0], mmap.mmap(fd, FAULT_COUNT.size))
            finally:
                os.close(fd)
        return self._armed[1]

    def _count_faults(self, db: sqlite3.Connection) -> None:
        # Inside the writer's transaction: the count changes with the table, under the same lock.
        FAULT_COUNT.pack_into(self._fault_count(), 0, db.execute("SELECT count(*) FROM faults").fetchone()[0])

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
        own = self._segment_of[1].name if self._segment_of and self._segment_of[0] == forks[0] else None
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
        try:
            for path, _ in folded.dead:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                gone.append(os.path.basename(path))
        finally:
            folded.release()
        db.executemany("DELETE FROM segments WHERE name = ?", [(n,) for n in gone])

    def _apply(self, db: sqlite3.Connection, merges: list[tuple[str, int, dict[str, str]]],
               rows: list[tuple[int | None, int | None, str]]) -> None:
        users = store_segments.by_user(merges)
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

    def _fold_segments(self) -> None:
        if self._segmented:
            with self._transaction():
                pass

    def _insert_entries(self, db: sqlite3.Connection, rows: list[tuple[int | None, int | None, str]]) -> None:
        cursor = db.executemany("INSERT INTO journal (euid, code, entry) VALUES (?, ?, ?)", rows)
        before, self._journaled = self._journaled, self._journaled + len(rows)
        # Trimming now and then keeps the table bounded at O(1) amortised cost per request.
        if before // _TRIM_EVERY != self._journaled // _TRIM_EVERY and cursor.lastrowid is not None:
            last = db.execute("SELECT max(id) FROM journal").fetchone()[0] or 0
            db.execute("DELETE FROM journal WHERE id <= ?", (last - self._journal_size,))


def _make_private(path: str) -> None:
    """Create the state file readable by its owner only (it holds users' contacts and the journal).

    SQLite gives the -wal and -shm files the database file's permissions, so they follow.
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)


