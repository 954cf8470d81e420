"""The single-process store: plain structures behind one lock."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import replace
from typing import Any

from engagelab_kit.mock_server.store import FIRST_EUID, Fault, JournalEntry


class MemoryStore:
    def __init__(self, journal_size: int = 10_000, known_euids: tuple[int, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._journal_size = journal_size
        self._configured_euids = frozenset(known_euids)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            # project -> euid -> contacts; nesting spares a key tuple per user.
            self._contacts: dict[str, dict[int, dict[str, str]]] = {}
            self._identities: dict[tuple[str, str, str], int] = {}
            self._next_euid = itertools.count(FIRST_EUID)
            self._known: set[int] = set(self._configured_euids)
            self._journal: deque[tuple[int, JournalEntry]] = deque(maxlen=self._journal_size)
            self._journal_ids = itertools.count(1)
            self._faults: list[Fault] = []
            self._fault_ids = itertools.count(1)

    def merge_contacts(self, project: str, euid: int, contacts: dict[str, str]) -> None:
        with self._lock:
            users = self._contacts.setdefault(project, {})
            stored = users.get(euid)
            if stored is None:
                users[euid] = dict(contacts)
            else:
                stored.update(contacts)

    def contacts(self, project: str, euid: int) -> dict[str, str] | None:
        with self._lock:
            stored = self._contacts.get(project, {}).get(euid)
            return dict(stored) if stored is not None else None

    def seed(self, project: str, euid: int, contacts: dict[str, str]) -> None:
        with self._lock:
            self._contacts.setdefault(project, {})[euid] = dict(contacts)
            self._known.add(euid)

    def register(self, project: str, identity_name: str, values: list[str]) -> list[int]:
        with self._lock:
            euids = []
            for value in values:
                key = (project, identity_name, value)
                if key not in self._identities:
                    self._identities[key] = next(self._next_euid)
                euids.append(self._identities[key])
            self._known.update(euids)
            return euids

    def is_known_euid(self, euid: int) -> bool:
        return euid in self._known

    def add_known_euids(self, euids: list[int]) -> None:
        with self._lock:
            self._known.update(euids)

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._journal.append((next(self._journal_ids), entry))

    def journal(self, euid: int | None = None, code: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            entries = [
                (i, e) for i, e in self._journal
                if (euid is None or e.euid == euid) and (code is None or e.code == code)
            ]
        return [{**e.to_json(), "id": i} for i, e in entries[-limit:]] if limit else []

    def clear_journal(self) -> None:
        with self._lock:
            self._journal.clear()

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            fault = replace(fault, id=next(self._fault_ids))
            self._faults.append(fault)
            return fault

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def remove_faults(self, fault_id: int | None = None) -> int:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]
            return before - len(self._faults)

    def has_faults(self) -> bool:
        return bool(self._faults)

    def take_fault(self, method: str, path: str, euid: int | None) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(method, path, euid):
                    if fault.times is not None:
                        if fault.times <= 1:
                            del self._faults[i]
                        else:
                            self._faults[i] = replace(fault, times=fault.times - 1)
                    return fault
            return None

    def close(self) -> None:
        return None
