"""The shared store: one SQLite file in WAL mode, one connection per thread.

Every worker process opens the same file, so a fault set through one worker
fires on the next request whichever worker takes it, and the journal shows
every worker's requests. A write is committed before its response is sent:
what was acknowledged with code 0 survives a restart.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from engagelab_kit.mock_server.store import FIRST_EUID, Fault, JournalEntry

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
"""

_TRIM_EVERY = 256


class SqliteStore:
    def __init__(self, path: str, journal_size: int = 10_000, known_euids: tuple[int, ...] = ()) -> None:
        self.path = path
        self._journal_size = journal_size
        self._configured_euids = known_euids
        self._local = threading.local()
        _make_private(path)
        self._db.executescript(_SCHEMA)
        with self._transaction() as db:
            self._seed_sequence(db)
            db.executemany("INSERT OR IGNORE INTO known_euids VALUES (?)", [(e,) for e in known_euids])

    @property
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        # A connection must not cross a fork: a worker opens its own.
        if db is None or self._local.pid != os.getpid():
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            self._local.pid = os.getpid()
            self._local.inserts = 0
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _seed_sequence(db: sqlite3.Connection) -> None:
        # Registered euids start where the in-memory store's do.
        if db.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'identities'").fetchone() is None:
            db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('identities', ?)", (FIRST_EUID - 1,))

    def reset(self) -> None:
        with self._transaction() as db:
            for table in ("contacts", "users", "identities", "known_euids", "journal", "faults"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM sqlite_sequence WHERE name = 'identities'")
            self._seed_sequence(db)
            db.executemany("INSERT INTO known_euids VALUES (?)", [(e,) for e in self._configured_euids])

    def merge_contacts(self, project: str, euid: int, contacts: dict[str, str]) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (project, euid))
            db.executemany(
                "INSERT OR REPLACE INTO contacts VALUES (?, ?, ?, ?)",
                [(project, euid, name, value) for name, value in contacts.items()],
            )

    def contacts(self, project: str, euid: int) -> dict[str, str] | None:
        db = self._db
        if db.execute("SELECT 1 FROM users WHERE project = ? AND euid = ?", (project, euid)).fetchone() is None:
            return None
        rows = db.execute("SELECT name, value FROM contacts WHERE project = ? AND euid = ?", (project, euid))
        return dict(rows.fetchall())

    def seed(self, project: str, euid: int, contacts: dict[str, str]) -> None:
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
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO known_euids VALUES (?)", [(e,) for e in euids])

    def record(self, entry: JournalEntry) -> None:
        db = self._db
        cursor = db.execute(
            "INSERT INTO journal (euid, code, entry) VALUES (?, ?, ?)",
            (entry.euid, entry.code, json.dumps(entry.to_json())),
        )
        self._local.inserts += 1
        # Trimming now and then keeps the table bounded at O(1) amortised cost per request.
        if self._local.inserts % _TRIM_EVERY == 0 and cursor.lastrowid is not None:
            db.execute("DELETE FROM journal WHERE id <= ?", (cursor.lastrowid - self._journal_size,))

    def journal(self, euid: int | None = None, code: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, entry FROM (SELECT id, entry FROM journal"
            " WHERE (?1 IS NULL OR euid = ?1) AND (?2 IS NULL OR code = ?2)"
            " AND id > (SELECT coalesce(max(id), 0) FROM journal) - ?3"
            " ORDER BY id DESC LIMIT ?4) ORDER BY id",
            (euid, code, self._journal_size, limit),
        ).fetchall()
        return [{**json.loads(entry), "id": row_id} for row_id, entry in rows]

    def clear_journal(self) -> None:
        self._db.execute("DELETE FROM journal")

    def add_fault(self, fault: Fault) -> Fault:
        data = json.dumps({k: v for k, v in fault.to_json().items() if k not in ("id", "times")})
        cursor = self._db.execute("INSERT INTO faults (times, data) VALUES (?, ?)", (fault.times, data))
        return replace(fault, id=cursor.lastrowid or 0)

    def faults(self) -> list[Fault]:
        return _faults(self._db)

    def remove_faults(self, fault_id: int | None = None) -> int:
        if fault_id is None:
            return self._db.execute("DELETE FROM faults").rowcount
        return self._db.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount

    def has_faults(self) -> bool:
        return self._db.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is not None

    def take_fault(self, method: str, path: str, euid: int | None) -> Fault | None:
        with self._transaction() as db:
            for fault in _faults(db):
                if fault.matches(method, path, euid):
                    if fault.times is not None and fault.times <= 1:
                        db.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
                    elif fault.times is not None:
                        db.execute("UPDATE faults SET times = times - 1 WHERE id = ?", (fault.id,))
                    return fault
            return None

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
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
