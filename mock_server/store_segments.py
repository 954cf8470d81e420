"""Each serving process's own append-only log of writes, folded into the shared SQLite state.

Why: on the serving hot path the state is only written (contact merges and journal entries), so a
worker need not share a lock with the others to write it. Each worker appends its batch to its
own segment file with one ``os.write`` and answers once the write returned: the bytes are then in
the kernel and survive a SIGKILL of the worker. A read (the control API, register, seed, reset,
a start) first "folds": under the writers' lock it applies every segment's complete new lines,
ordered by time, to the SQLite tables and advances each segment's folded offset in the same
transaction. The serving process folds every second too (``serve.py``), so that the work is not
done on a worker's event loop and segments stay short.

The owner holds an flock on its segment for its life. The kernel drops it when the owner dies,
so a folder that can take the lock knows the owner is gone: it folds the segment whole and
removes it. Past ``SEGMENT_LIMIT`` bytes the owner gives its segment up the same way (closing
it) and starts a new one: disk stays bounded without the owner ever waiting for a fold.

A line is a JSON array, newline-terminated:

- ``[0, time, euid, code, row]``: a journal entry (``row``: ``store.compact``'s JSON array), so a
  fold takes ``row``'s text as the journal keeps it without parsing it;
- ``[1, stamp, project, euid, contacts]``: a merge; ``stamp`` is the monotonic clock (system-wide,
  never stepped back) when its batch was written, so a merge acknowledged before another was sent
  sorts before it whichever worker wrote either;
- ``[2, time, offset, duration]``: a journal entry that is the one whose line starts at ``offset``
  in the same segment but for its time and duration (see ``Segment.write``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import operator
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from engagelab_kit.mock_server.store import JournalEntry, bounded, compact, json_bytes

SEGMENT_LIMIT = 4 << 20  # bytes; past it the owner gives its segment up and starts a new one
_UNBORN_AGE_S = 60.0
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_log = logging.getLogger("engagelab_mock")

Merge = tuple[float, str, int, dict[str, str]]  # (stamp, project, euid, contacts)
Row = tuple[float, int | None, int | None, str]  # (time, euid, code, the compact row's JSON text)
_JOURNAL = (b"[0,", b"[2,")  # a journal entry, whole or as a reference to an earlier one


def entry_line(entry: JournalEntry) -> bytes:
    return json_bytes((0, entry.time, entry.euid, entry.code, compact(bounded(entry))), newline=True)


# All of an entry but its time (0), duration (11) and size (13, made from the rest): one C call
# making a tuple, compared with the base's (tuple comparison takes a shared object, such as the
# headers of a known head, as equal at once).
_BUT_WHEN = operator.itemgetter(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16)


def by_user(merges: Iterable[tuple[str, int, dict[str, str]]]) -> dict[tuple[str, int], dict[str, str]]:
    """Each user's merges, applied in order: a user merged several times (a client repeating
    itself) is written once, by a worker's batch and by a fold alike."""
    users: dict[tuple[str, int], dict[str, str]] = {}
    for p, e, c in merges:
        merged = users.get((p, e))
        users[p, e] = c if merged is None else {**merged, **c}
    return users


def merge_lines(merges: Iterable[tuple[str, int, dict[str, str]]]) -> list[bytes]:
    """One line per user (``by_user``)."""
    users = by_user(merges)
    # Request bodies with a lone surrogate are refused before they are merged (jsonbody), so
    # orjson encodes every merge; if one ever failed, the batch fails as a SQLite write would.
    stamp = time.monotonic()
    return [orjson.dumps((1, stamp, p, e, c), option=_NEWLINE) for (p, e), c in users.items()]


class Segment:
    """The owner's side: this process's segment, appended to without any lock."""

    def __init__(self, state_path: str) -> None:
        tag = f"{os.getpid()}-{os.urandom(3).hex()}"
        self.path = f"{state_path}-seg-{tag}"
        self.name = os.path.basename(self.path)
        self.size = 0
        self.closed = False
        self._base: tuple[tuple[Any, ...], int] | None = None  # the last entry written whole (_BUT_WHEN), and where
        # Locked before it has a segment's name: no fold can see it unlocked and take it for a
        # dead owner's. (A leftover "-new-" file of a process killed in between is removed by a fold.)
        made = f"{state_path}-new-{tag}"
        self.fd = os.open(made, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # for the owner's life
            os.rename(made, self.path)
        except BaseException:
            os.close(self.fd)
            os.unlink(made)
            raise

    def write(self, merges: list[tuple[str, int, dict[str, str]]], entries: Iterable[JournalEntry]) -> None:
        """Append a batch: its merges, then its journal entries. An entry that is the segment's
        last written one but for its time and duration is written as a reference to that one's
        line (``[2, time, offset, duration]``): a load generator's requests are all alike, and
        such a line costs a worker under 1 µs instead of 2.5, and a fold 35 bytes to read instead
        of 600."""
        lines = merge_lines(merges)
        at = self.size + sum(map(len, lines))
        base = self._base
        for entry in entries:
            entry = bounded(entry)
            alike = _BUT_WHEN(entry)
            if base is not None and alike == base[0]:
                line = orjson.dumps((2, entry.time, base[1], entry.duration_ms), option=_NEWLINE)
            else:
                line = entry_line(entry)
                base = (alike, at)
            lines.append(line)
            at += len(line)
        self.append(b"".join(lines))
        self._base = base

    def append(self, data: bytes) -> None:
        """Write ``data`` (whole lines); when this returns, every line is in the kernel's hands."""
        try:
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                self.size += written
                view = view[written:]
        except OSError:
            # Failed part-way (a full disk): the segment may end in a partial line, which a later
            # line must not be glued to. Given up: its lock goes, so the next fold takes its
            # complete lines and removes it; the owner starts a new one.
            self.close()
            raise

    def close(self) -> None:
        """Give the segment up: with its lock gone, the next fold takes it whole and removes it."""
        if not self.closed:
            self.closed = True
            os.close(self.fd)


@dataclass
class Fold:
    """What one fold found: the new records of every segment, and what to do once they are committed."""

    merges: list[Merge] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    lines: list[tuple[float, bytes, _Bases]] = field(default_factory=list)  # journal lines, parsed only if kept
    offsets: list[tuple[str, int]] = field(default_factory=list)  # (segment name, folded up to)
    dead: list[tuple[str, int]] = field(default_factory=list)  # (path, descriptor holding its lock)
    stale: list[str] = field(default_factory=list)  # offset rows of segments no longer there

    def release(self) -> None:
        for _, fd in self.dead:
            os.close(fd)
        self.dead = []


def read(state_path: str, folded: dict[str, int], own: str | None, keep: int) -> Fold:
    """Every segment's complete lines past its ``folded`` offset: the merges, and the last ``keep``
    journal rows (the journal would trim the others at once), each sorted by time (stable: one
    segment's lines keep their order). Call it under the writers' lock."""
    directory, base = os.path.split(os.path.abspath(state_path))
    prefix, unborn = base + "-seg-", base + "-new-"
    fold = Fold()
    reading: list[int] = []  # live owners' segments, open until their references are resolved
    try:
        for name in sorted(os.listdir(directory)):
            if name.startswith(prefix):
                _read_one(fold, os.path.join(directory, name), name, folded.pop(name, 0), name == own, keep, reading)
            elif name.startswith(unborn):
                _remove_unborn(os.path.join(directory, name))
        fold.stale = list(folded)
        fold.merges.sort(key=_first)
        fold.lines.sort(key=_first)
        # Under load the journal turns over in about a second: most rows a fold finds would be
        # trimmed at once, so only the kept ones are made into rows and written.
        kept = fold.lines[len(fold.lines) - keep:] if keep else []
        fold.lines = []
        for stamp, line, bases in kept:
            try:
                fold.rows.append((stamp, *bases.row(line)))
            except (ValueError, OSError):
                _malformed(line)
    except BaseException:
        fold.release()
        raise
    finally:
        for fd in reading:
            os.close(fd)
    return fold


def sizes(state_path: str) -> list[tuple[str, int]]:
    """Every segment's name and size: unchanged, there is nothing new to fold."""
    directory, base = os.path.split(os.path.abspath(state_path))
    found = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(base + "-seg-"):
            with contextlib.suppress(FileNotFoundError):
                found.append((name, os.stat(os.path.join(directory, name)).st_size))
    return found


def _first(record: tuple[Any, ...]) -> Any:
    return record[0]


def _remove_unborn(path: str) -> None:
    """A segment whose owner died between making and naming it: empty, never written."""
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            # Not one being made right now (locked a moment after it is made, named at once).
            if os.fstat(fd).st_mtime < time.time() - _UNBORN_AGE_S:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(path)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)


def _read_one(fold: Fold, path: str, name: str, offset: int, own: bool, keep: int, reading: list[int]) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    dead = False
    try:
        if not own:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                dead = True  # its owner is gone: nothing more will be appended
            except BlockingIOError:
                pass
        size = os.fstat(fd).st_size
        if size < offset:  # not this file's offset (segments are never cut short): read it all
            offset = 0
        data = os.pread(fd, size - offset, offset) if size > offset else b""
    except BaseException:
        os.close(fd)
        raise
    # A writer may be part-way through a batch: only complete lines now, the rest later. A dead
    # owner's partial last line was never acknowledged (its write did not return).
    end = data.rfind(b"\n") + 1
    if end:
        _parse(fold, data[:end], keep, offset, fd)
    fold.offsets.append((name, offset + end))
    if dead:
        fold.dead.append((path, fd))
    else:
        reading.append(fd)


class _Bases:
    """The whole journal lines that one segment's references (``[2, ...]``) stand on, each parsed
    once: in the data a fold read, or before it (folded already, still in the file)."""

    def __init__(self, data: bytes, start: int, fd: int) -> None:
        self.data, self.start, self.fd = data, start, fd
        # offset -> (euid, code, the row's text between its time and its duration)
        self._parts: dict[bytes, tuple[int | None, int | None, str]] = {}

    def row(self, line: bytes) -> tuple[int | None, int | None, str]:
        """A journal line's (euid, code, row text); a reference's are its base's, with its own
        time and duration."""
        if line[1] != 50:  # not "[2,": a whole line
            return _whole_row(line)
        _, stamp, at, duration = line.split(b",")
        parts = self._parts.get(at)
        if parts is None:
            euid, code, row = _whole_row(self._read(int(at)))
            # A row's first value is its time and its last its duration: the middle is kept.
            parts = self._parts[at] = (euid, code, row[row.index(","):row.rindex(",") + 1])
        if not duration.endswith(b"]"):
            raise ValueError("not a reference")
        return parts[0], parts[1], "".join(("[", stamp.decode(), parts[2], duration[:-1].decode(), "]"))

    def _read(self, offset: int) -> bytes:
        if offset >= self.start:
            at = offset - self.start
            return self.data[at:self.data.index(b"\n", at)]
        line, chunk = b"", 1 << 16
        while not line.endswith(b"\n"):
            more = os.pread(self.fd, chunk, offset + len(line))
            if not more:
                raise ValueError("a reference past the segment's end")
            line += more[:more.find(b"\n") + 1 or len(more)]
        return line[:-1]


def _whole_row(line: bytes) -> tuple[int | None, int | None, str]:
    _, _, euid, code, row = line.split(b",", 4)
    if not (line.startswith(b"[0,") and row.startswith(b"[") and row.endswith(b"]]")):
        raise ValueError("not a journal row")
    return _int(euid), _int(code), row[:-1].decode()


def _parse(fold: Fold, data: bytes, keep: int, start: int, fd: int) -> None:
    """The segment's merges, and its last ``keep`` journal lines with their times: a segment's lines
    are in the order its owner answered, so no earlier journal line can be among the ``keep`` latest.
    Under load a fold finds tens of thousands of lines a second; sorting them into kinds is left to
    list comprehensions, and only what is kept gets a line of Python each."""
    lines = data.split(b"\n")
    lines.pop()  # data ends with a newline
    journal = [line for line in lines if line[:3] in _JOURNAL]
    merged = [line for line in lines if line[:3] == b"[1,"]
    if len(journal) + len(merged) != len(lines):
        for line in lines:
            if line and line[:3] not in (b"[0,", b"[1,", b"[2,"):
                _malformed(line)
    kept, bases = fold.lines.append, _Bases(data, start, fd)
    for line in journal[len(journal) - keep:] if keep else ():
        try:
            kept((float(line[3:line.index(b",", 3)]), line, bases))  # whole or not, its time comes first
        except ValueError:
            _malformed(line)
    merges = fold.merges.append
    # A client repeating itself repeats the merge line but its stamp: each such line parsed once.
    users: dict[bytes, tuple[str, int, dict[str, str]]] = {}
    for line in merged:
        try:
            _, stamp, user = line.split(b",", 2)
            parsed = users.get(user)
            if parsed is None:
                project, euid, contacts = orjson.loads(b"[" + user)
                parsed = users[user] = (project, euid, contacts)
            merges((float(stamp), *parsed))
        except (ValueError, TypeError):
            _malformed(line)


def _malformed(line: bytes) -> None:
    # Not written by Segment.append (which never leaves a partial line before a whole one):
    # skipped, never fatal, or one bad line would stop every later fold.
    _log.warning("segment: skipped a malformed line of %d bytes", len(line))


def _int(text: bytes) -> int | None:
    return None if text == b"null" else int(text)
