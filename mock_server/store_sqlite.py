"""The shared store: one SQLite file in WAL mode, one connection per thread (``sqlite_state.py``).

Every worker process opens the same file, so a fault set through one worker
fires on the next request whichever worker takes it, and the journal shows
every worker's requests. A write is in the kernel's hands before its response
is sent: what was acknowledged with code 0 survives a SIGKILL and a restart.

Batched (``batched=True``, what the served mock uses): contact merges and
journal entries are queued, and ``flush()`` appends the queue to this
process's own segment file with one write, taking no lock
(``store_segments.py``). The dispatcher calls it once per event-loop turn and
answers the requests of that turn only after it returns. Workers never wait
for each other there: on the serving path that state is only written. Every
read of it (the control API, register, seed, reset, a start) first folds
every worker's segment into the tables under the writers' lock, so each
worker's acknowledged writes are seen whichever worker is asked; the serving
process folds every second as well. Faults and known euids (strict mode's
lookup) are read on the serving path, so they are written to the tables at
once. Unbatched (in process), a write folds and then writes the tables.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import replace
from typing import Any

from engagelab_kit.mock_server.sqlite_state import FAULT_COUNT, SqliteState, forks
from engagelab_kit.mock_server.store import Fault, JournalEntry, bounded, compact, expand, json_bytes
from engagelab_kit.mock_server.store_segments import SEGMENT_LIMIT, Segment

_GIVEN_UP_LIMIT = 16


def _entry_json(entry: JournalEntry) -> str:
    """The entry as the journal table keeps it: its ``compact`` row as a JSON array."""
    return json_bytes(compact(bounded(entry))).decode()


def _entry_from(text: str) -> dict[str, Any]:
    data = json.loads(text)
    # A state file written before entries were compact rows holds the JSON object itself.
    return expand(data) if isinstance(data, list) else data


class SqliteStore(SqliteState):
    def __init__(self, path: str, journal_size: int = 10_000, known_euids: tuple[int, ...] = (),
                 batched: bool = False) -> None:
        super().__init__(path, journal_size)
        self.batched = batched
        self._configured_euids = known_euids
        self._queue_lock = threading.Lock()
        self._merges: list[tuple[str, int, dict[str, str]]] = []
        self._entries: list[JournalEntry] = []
        self._given_up: list[str] = []  # this process's full segments, perhaps not yet folded
        with self._transaction() as db:  # folds what a killed run left in its segments
            self._seed_sequence(db)
            db.executemany("INSERT OR IGNORE INTO known_euids VALUES (?)", [(e,) for e in known_euids])
            self._count_faults(db)

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
                segment.write(merges, entries)
                if segment.size >= SEGMENT_LIMIT:
                    self._rotate(segment)
                return
            # Rows are made before the writers' lock is taken: the others wait only for the writes.
            rows = [(e.euid, e.code, _entry_json(e)) for e in entries]
            with self._transaction() as db:
                self._apply(db, merges, rows)

    def _segment(self) -> Segment:
        made = self._segment_of
        if made is not None and made[0] == forks[0] and not made[1].closed:
            return made[1]
        if made is not None and made[0] != forks[0] and not made[1].closed:
            os.close(made[1].fd)  # the parent's, inherited: its lock must live only as long as the parent
        segment = Segment(self.path)
        self._segment_of = (forks[0], segment)
        return segment

    def _rotate(self, segment: Segment) -> None:
        """Bounded disk: the segment is given up, for the next fold to take whole and remove."""
        segment.close()
        self._given_up = [p for p in self._given_up if os.path.exists(p)] + [segment.path]
        if len(self._given_up) > _GIVEN_UP_LIMIT:
            # Nobody folds them (no serving process folding, nor reads): this process does.
            self._fold_segments()
            self._given_up = []

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
        self._fold_segments()

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
        # Asked twice per served request: the mapping is looked up here, not through a call.
        armed = self._armed
        count: int = FAULT_COUNT.unpack_from(
            armed[1] if armed is not None and armed[0] == forks[0] else self._fault_count())[0]
        return count > 0

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
        if made is not None and made[0] == forks[0]:
            made[1].close()  # given up, so the fold below takes it whole and removes it
        self._fold_segments()
        connection = getattr(self._local, "db", None)
        if connection is not None:
            connection.close()
            os.close(self._local.writer)
            self._local.db = None

def _faults(db: sqlite3.Connection) -> list[Fault]:
    rows = db.execute("SELECT id, times, data FROM faults ORDER BY id").fetchall()
    return [Fault(id=i, times=t, **json.loads(d)) for i, t, d in rows]
