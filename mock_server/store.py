"""What the mock remembers: contacts, registered identities, the journal and faults.

Two backends hold it behind one interface: ``MemoryStore`` for one process,
``SqliteStore`` when several worker processes must share one truth or when
state must survive a restart. Both have ``reset()``, as moto's backends do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import orjson

from engagelab_kit.mock_server.memo import Memo
from engagelab_kit.mock_server.wire import is_credential_header

# What one journal entry keeps at most (README "Bounded memory"): clients choose how much they
# send, so a journal of a fixed number of entries is bounded in bytes only if each entry is.
JOURNAL_BODY_LIMIT = 8192
JOURNAL_TEXT_LIMIT = 2048  # path and query, each
JOURNAL_HEADER_COUNT = 32
JOURNAL_HEADER_NAME_LIMIT = 64
JOURNAL_HEADER_VALUE_LIMIT = 512
JOURNAL_HEADERS_LIMIT = 4096  # names and values together
REDACTED = "<redacted>"
_PER_HEADER = 90  # bytes per kept header beyond its text: the dict slot and two str objects


# Header names -> (the credential-bearing ones, their total length), for name sets within the
# limits. Clients send the same few sets again and again; names are not secret.
_SHAPE_MEMO_SIZE = 256
_new_tuple = tuple.__new__
_shapes: Memo[tuple[str, ...], tuple[tuple[str, ...], int]] = Memo(_SHAPE_MEMO_SIZE)


def _shape(names: tuple[str, ...]) -> tuple[tuple[str, ...], int] | None:
    """What a set of header names needs in the journal, or None if it must be cut."""
    shape = _shapes.get(names)
    if shape is None:
        if len(names) > JOURNAL_HEADER_COUNT or max(map(len, names), default=0) > JOURNAL_HEADER_NAME_LIMIT:
            return None
        shape = _shapes.put(names, (tuple(filter(is_credential_header, names)), sum(map(len, names))))
    return shape


def journal_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], bool, int]:
    """The headers as the journal keeps them: credentials redacted, sizes bounded; whether any was
    cut; and about how many characters they hold."""
    # The usual case, checked at C speed (this runs for every request): nothing to cut. Totals
    # within a single header's limit spare the per-header maximum.
    given = tuple(headers)
    shape = _shapes.get(given) or _shape(given)
    if shape is not None:
        credentials, names = shape
        values = sum(map(len, headers.values()))
        if names + values <= JOURNAL_HEADERS_LIMIT and (
            values <= JOURNAL_HEADER_VALUE_LIMIT or max(map(len, headers.values())) <= JOURNAL_HEADER_VALUE_LIMIT
        ):
            kept = dict(headers)
            for name in credentials:
                kept[name] = REDACTED
            return kept, False, names + values
    return _cut_headers(headers)


def _cut_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], bool, int]:
    kept: dict[str, str] = {}
    total = 0
    cut = False
    for name, value in headers.items():
        if len(name) > JOURNAL_HEADER_NAME_LIMIT:
            name, cut = name[:JOURNAL_HEADER_NAME_LIMIT], True
        if is_credential_header(name):
            value = REDACTED
        elif len(value) > JOURNAL_HEADER_VALUE_LIMIT:
            value, cut = value[:JOURNAL_HEADER_VALUE_LIMIT], True
        total += len(name) + len(value)
        if len(kept) == JOURNAL_HEADER_COUNT or total > JOURNAL_HEADERS_LIMIT:
            return kept, True, total
        kept[name] = value
    return kept, cut, total


def journal_entry(
    time: float, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, body_bytes: int,
    euid: int | None, project: str | None, code: int | None, status: int | None, duration_ms: float,
    message: str | None = None, rule: str | None = None, steered: str | None = None,
    kept_headers: tuple[dict[str, str], bool, int] | None = None,
) -> JournalEntry:
    """A journal entry as the journal keeps it: credentials redacted, every part bounded.
    ``kept_headers``: what ``journal_headers(headers)`` gives, if the caller has it already (it is
    then shared between entries, which never change it)."""
    kept, cut, size = kept_headers or journal_headers(headers)
    size += _PER_HEADER * len(kept)
    # (Slicing a str or bytes no longer than the limit gives the object itself: no copy.)
    path, query, body = path[:JOURNAL_TEXT_LIMIT], query[:JOURNAL_TEXT_LIMIT], body[:JOURNAL_BODY_LIMIT]
    size += len(path) + len(query) + len(body)
    if message is not None:
        message = message[:JOURNAL_TEXT_LIMIT]
        size += len(message)
    # The tuple's own constructor: NamedTuple's keyword-handling frame costs more than the rest.
    return _new_tuple(JournalEntry, (time, method[:JOURNAL_HEADER_NAME_LIMIT], path, query, kept, body, body_bytes,
                                     euid, project, code, status, duration_ms, cut, size, message, rule, steered))


def bounded(entry: JournalEntry) -> JournalEntry:
    """``entry`` as the journal keeps it (see ``journal_entry``); the input is not changed."""
    if entry.headers_truncated is not None:
        return entry  # made by journal_entry: bounded already
    return journal_entry(entry.time, entry.method, entry.path, entry.query, entry.headers, entry.body,
                         entry.body_bytes, entry.euid, entry.project, entry.code, entry.status, entry.duration_ms,
                         entry.message, entry.rule, entry.steered)


class JournalEntry(NamedTuple):
    """One request as it came and went, formatted only when read (``to_json``). The stores keep it
    ``bounded`` (credentials redacted, sizes capped) so that no secret is kept. A tuple: cheap to
    make on every request, and never changed once made."""

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
    # None: made as received, not yet bounded; True/False: bounded by journal_entry (and whether it cut).
    headers_truncated: bool | None = None
    # Estimated bytes of its bounded parts (journal_entry fills it in), for the in-memory journal's byte cap.
    size: int = 0
    # What the mock answered and which spec rule decided it, or what steered it ("fault 3",
    # "forced"): client checks judge only the answers the rules gave.
    message: str | None = None
    rule: str | None = None
    steered: str | None = None

    def to_json(self) -> dict[str, Any]:
        return expand(compact(bounded(self)))


def compact(entry: JournalEntry) -> tuple[Any, ...]:
    """A bounded entry as plain JSON-ready values, in ``expand``'s order: what the SQLite store
    writes (a JSON array is a fraction of the work of the object), and what ``to_json`` formats."""
    body = entry.body
    return (entry.time, entry.method, entry.path, entry.query, entry.headers, bool(entry.headers_truncated),
            body.decode("utf-8", "replace"), entry.body_bytes, entry.body_bytes > len(body), entry.euid,
            entry.project, entry.code, entry.status, entry.message, entry.rule, entry.steered, entry.duration_ms)


def json_bytes(value: Any, newline: bool = False) -> bytes:
    """``value`` as compact JSON, as the shared store writes journal rows: orjson, or the stdlib
    where orjson refuses (a lone surrogate in a header, which the stdlib escapes)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE if newline else None)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":")).encode() + (b"\n" if newline else b"")


def expand(row: Sequence[Any]) -> dict[str, Any]:
    """The journal's JSON object for a ``compact`` row (the control API's journal entry)."""
    (time, method, path, query, headers, headers_truncated, body, body_bytes, body_truncated, euid, project, code,
     status, message, rule, steered, duration_ms) = row
    return {
        "time": datetime.fromtimestamp(time, UTC).isoformat(timespec="milliseconds"),
        "method": method,
        "path": path,
        "query": query,
        "headers": dict(headers),  # entries may share one: the reader gets its own
        "headers_truncated": headers_truncated,
        "body": body,
        "body_bytes": body_bytes,
        "body_truncated": body_truncated,
        "euid": euid,
        "project": project,
        "code": code,
        "status": status,
        "message": message,
        "rule": rule,
        "dropped": status is None,
        "steered": steered,
        # One wall-clock read per end of the request: a clock stepped back in between reads 0.
        "duration_ms": round(max(duration_ms, 0.0), 3),
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
