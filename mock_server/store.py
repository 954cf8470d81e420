"""What the mock remembers: contacts, registered identities, the journal and faults.

Two backends hold it behind one interface: ``MemoryStore`` for one process,
``SqliteStore`` when several worker processes must share one truth or when
state must survive a restart. Both have ``reset()``, as moto's backends do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from engagelab_kit.mock_server.wire import REDACTED_HEADERS

JOURNAL_BODY_LIMIT = 8192


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as it came and went. Kept raw (references, not copies) and
    formatted only when read, so that recording costs little time and memory."""

    time: float
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    body_bytes: int
    euid: int | None
    project: str | None
    code: int | None
    status: int | None
    duration_ms: float
    # What the mock answered and which spec rule decided it, or what steered it ("fault 3",
    # "forced"): client checks judge only the answers the rules gave.
    message: str | None = None
    rule: str | None = None
    steered: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds"),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": {k: ("<redacted>" if k in REDACTED_HEADERS else v) for k, v in self.headers.items()},
            "body": self.body[:JOURNAL_BODY_LIMIT].decode("utf-8", "replace"),
            "body_bytes": self.body_bytes,
            "euid": self.euid,
            "project": self.project,
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "rule": self.rule,
            "dropped": self.status is None,
            "steered": self.steered,
            "duration_ms": round(self.duration_ms, 3),
        }


@dataclass(frozen=True)
class Fault:
    """Make the next ``times`` matching requests misbehave (``times`` None: until cleared)."""

    id: int = 0
    code: int | None = None
    latency_ms: float = 0.0
    drop: bool = False
    times: int | None = 1
    path: str | None = None
    method: str | None = None
    euid: int | None = None

    def matches(self, method: str, path: str, euid: int | None) -> bool:
        return (
            (self.path is None or self.path == path)
            and (self.method is None or self.method == method)
            and (self.euid is None or self.euid == euid)
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Store(Protocol):
    def merge_contacts(self, project: str, euid: int, contacts: dict[str, str]) -> None: ...

    def contacts(self, project: str, euid: int) -> dict[str, str] | None: ...

    def seed(self, project: str, euid: int, contacts: dict[str, str]) -> None: ...

    def register(self, project: str, identity_name: str, values: list[str]) -> list[int]: ...

    def is_known_euid(self, euid: int) -> bool: ...

    def add_known_euids(self, euids: list[int]) -> None: ...

    def record(self, entry: JournalEntry) -> None: ...

    def journal(self, euid: int | None = None, code: int | None = None, limit: int = 100) -> list[dict[str, Any]]: ...

    def clear_journal(self) -> None: ...

    def add_fault(self, fault: Fault) -> Fault: ...

    def faults(self) -> list[Fault]: ...

    def remove_faults(self, fault_id: int | None = None) -> int: ...

    def has_faults(self) -> bool: ...

    def take_fault(self, method: str, path: str, euid: int | None) -> Fault | None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


FIRST_EUID = 100_000_001
