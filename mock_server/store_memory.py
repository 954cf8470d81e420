"""The single-process store: plain structures behind one lock, bounded in memory.

Users, registered identities and known euids share one budget (``max_state_bytes``,
estimated): past it the least recently written of them is forgotten and counted
(``evicted``). The journal keeps at most ``journal_size`` entries and
``journal_max_bytes`` (estimated), dropping the oldest. Estimates use the sizes
of the stored strings plus a fixed cost per object, measured on CPython 3.11+
(tests/test_store.py checks them against tracemalloc).
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Hashable
from dataclasses import replace
from typing import Any

from engagelab_kit.mock_server.store import FIRST_EUID, Fault, JournalEntry, bounded

USER, IDENTITY, KNOWN = "user", "identity", "known_euid"
# Bytes per stored object beyond its strings: the OrderedDict node and its key tuple, and per kind
# the contacts dict (plus, per contact, its slot and two str objects with a name of up to ~60
# characters) / the euid int. Measured with tracemalloc, rounded up.
_STATE_ENTRY = 200
_PER_CONTACT = 200
_CONTACTS_DICT = 250
_JOURNAL_ENTRY = 500


def _contacts_size(contacts: dict[str, str]) -> int:
    # Runs on every write, so one pass at C speed: values counted at two bytes a code point (exact
    # for most scripts, generous for ASCII), names within the per-contact cost.
    return _STATE_ENTRY + _CONTACTS_DICT + _PER_CONTACT * len(contacts) + 2 * sum(map(len, contacts.values()))


def _size(key: tuple[Any, ...], value: Any) -> int:
    if key[0] == USER:
        return _contacts_size(value)
    if key[0] == IDENTITY:
        return _STATE_ENTRY + sys.getsizeof(key[3]) + 64
    return _STATE_ENTRY


class MemoryStore:
    def __init__(
        self,
        journal_size: int = 10_000,
        known_euids: tuple[int, ...] = (),
        journal_max_bytes: int = 16 * 1024 * 1024,
        max_state_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._lock = threading.Lock()
        self._journal_size = journal_size
        self._journal_max_bytes = journal_max_bytes
        self._max_state_bytes = max_state_bytes
        self._configured_euids = frozenset(known_euids)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            # (USER, project, euid) -> contacts; (IDENTITY, project, name, value) -> euid; (KNOWN, euid) -> None.
            # One order for all of them: the front is the least recently written.
            self._state: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
            self._state_bytes = 0
            self._evicted: Counter[str] = Counter()
            self._next_euid = itertools.count(FIRST_EUID)
            self._journal: deque[tuple[int, JournalEntry, int]] = deque()
            self._journal_bytes = 0
            self._journal_ids = itertools.count(1)
            self._faults: list[Fault] = []
            self._fault_ids = itertools.count(1)

    # -- the bounded state ----------------------------------------------------

    def _write(self, key: tuple[Hashable, ...], value: Any, size: int) -> None:
        """Store ``value`` under ``key`` as the most recently written; evict past the budget."""
        state = self._state
        if key in state:
            self._state_bytes -= _size(key, state[key])
            state.move_to_end(key)
        state[key] = value
        self._state_bytes += size
        if self._state_bytes > self._max_state_bytes:
            self._evict()

    def _evict(self) -> None:
        state = self._state
        # Never the entry just written: a write acknowledged now is readable now.
        while self._state_bytes > self._max_state_bytes and len(state) > 1:
            old_key, old_value = state.popitem(last=False)
            self._state_bytes -= _size(old_key, old_value)
            self._evicted[str(old_key[0])] += 1

    def _know(self, euid: int) -> None:
        if euid not in self._configured_euids:
            self._write((KNOWN, euid), None, _STATE_ENTRY)

    def evicted(self) -> dict[str, int]:
        """How many of each kind were forgotten to stay within ``max_state_bytes`` since the last reset."""
        with self._lock:
            return {kind: self._evicted[kind] for kind in (USER, IDENTITY, KNOWN)}

    def merge_contacts(self, project: str, euid: int, contacts: dict[str, str]) -> None:
        # The hot path of every successful request: _write's work, inlined.
        key = (USER, project, euid)
        with self._lock:
            state = self._state
            stored = state.get(key)
            if stored is None:
                stored = state[key] = dict(contacts)
                self._state_bytes += _contacts_size(stored)
            elif stored.items() >= contacts.items():
                state.move_to_end(key)  # written again, unchanged: the size stays
            else:
                before = _contacts_size(stored)
                stored.update(contacts)  # contacts() hands out copies: updating in place is safe
                state.move_to_end(key)
                self._state_bytes += _contacts_size(stored) - before
            if self._state_bytes > self._max_state_bytes:
                self._evict()

    def contacts(self, project: str, euid: int) -> dict[str, str] | None:
        with self._lock:
            stored = self._state.get((USER, project, euid))
            return dict(stored) if stored is not None else None

    def seed(self, project: str, euid: int, contacts: dict[str, str]) -> None:
        with self._lock:
            self._know(euid)
            self._write((USER, project, euid), dict(contacts), _contacts_size(contacts))

    def register(self, project: str, identity_name: str, values: list[str]) -> list[int]:
        with self._lock:
            euids = []
            for value in values:
                key = (IDENTITY, project, identity_name, value)
                euid = self._state.get(key)
                if euid is None:
                    euid = next(self._next_euid)
                self._write(key, euid, _size(key, euid))
                self._know(euid)
                euids.append(euid)
            return euids

    def is_known_euid(self, euid: int) -> bool:
        return euid in self._configured_euids or (KNOWN, euid) in self._state

    def add_known_euids(self, euids: list[int]) -> None:
        with self._lock:
            for euid in euids:
                self._know(euid)

    # -- the journal ----------------------------------------------------------

    def record(self, entry: JournalEntry) -> None:
        kept = entry if entry.headers_truncated is not None else bounded(entry)
        size = _JOURNAL_ENTRY + kept.size
        with self._lock:
            journal = self._journal
            journal.append((next(self._journal_ids), kept, size))
            self._journal_bytes += size
            while len(journal) > self._journal_size or (
                self._journal_bytes > self._journal_max_bytes and len(journal) > 1
            ):
                self._journal_bytes -= journal.popleft()[2]

    def journal(self, euid: int | None = None, code: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            entries = [
                (i, e) for i, e, _ in self._journal
                if (euid is None or e.euid == euid) and (code is None or e.code == code)
            ]
        return [{**e.to_json(), "id": i} for i, e in entries[-limit:]] if limit else []

    def clear_journal(self) -> None:
        with self._lock:
            self._journal.clear()
            self._journal_bytes = 0

    # -- faults ---------------------------------------------------------------

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
