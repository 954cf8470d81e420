"""Request heads parsed once, recognised when the same bytes come again: the served mock's fast path.

Why: clients send the same head again and again (a load generator, a test
suite, an SDK working for one user), and on the vendor page's example llhttp's
parse with its Python callbacks took a fifth of a worker's time. What llhttp
makes of a head depends on nothing but its bytes when they start at a message
boundary, so ``h1`` keeps what a clean parse gave (``learn``) and, when the
same bytes come again with the whole body behind them, builds the request from
it without parsing (``KnownHeads.request``). A head that is not known exactly
goes to llhttp, as every head did before.

No credential is kept. A head is found again by its salted hash (Python's
``hash``, as the auth memo finds a credential's outcome); the value of every
header that may carry a credential (``wire.is_credential_header``) is cut out
of the kept bytes, the bytes around them are compared, and the values are
read from the new head at their places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engagelab_kit.mock_server.memo import Memo
from engagelab_kit.mock_server.store import journal_headers
from engagelab_kit.mock_server.wire import HttpRequest, is_credential_header

HEAD_LIMIT = 4096  # bytes of a head worth keeping, its blank line included
KNOWN_HEADS = 256  # heads kept per worker: at most KNOWN_HEADS * HEAD_LIMIT bytes (1 MiB)
END = b"\r\n\r\n"

# A field value llhttp takes as it is: visible characters (obs-text included) with spaces or tabs
# inside, none at either end. A head with a credential value that is anything else is not kept.
_FIELD_VALUE = re.compile(rb"[\x21-\x7e\x80-\xff](?:[\x20-\x7e\x80-\xff\t]*[\x21-\x7e\x80-\xff])?")
_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
# Headers that make a request more than a head and a counted body: not kept.
_NOT_PLAIN = frozenset({"transfer-encoding", "expect", "upgrade"})


@dataclass(frozen=True, slots=True)
class KnownHead:
    size: int  # of the head, blank line included
    pieces: tuple[tuple[int, int, bytes], ...]  # the bytes around the credentials' values: (start, end, bytes)
    spans: tuple[tuple[str, int, int], ...]  # each credential header: (name, start, end) of its value
    method: str
    path: str
    query: str
    headers: dict[str, str]  # as the rules get them, but the credentials' values; copied for each request
    length: int  # of the body
    keep_alive: bool
    journal: tuple[dict[str, str], bool, int]  # the headers as the journal keeps them (no credential)

    def headers_for(self, head: bytes) -> dict[str, str] | None:
        """The headers ``head`` carries if it is this head, its credentials' values aside; else None.

        Heads are found by their salted hash (``KnownHeads.request``), which already says that
        ``head`` is the learnt one: the bytes around the credentials are compared as well, so that
        a collision can never give another head's method, path or headers. The values themselves
        are read from ``head``, as the auth memo reads a credential's outcome by its hash."""
        if len(head) != self.size:
            return None
        for start, end, piece in self.pieces:
            if head[start:end] != piece:
                return None
        headers = self.headers.copy()
        for name, start, end in self.spans:
            headers[name] = head[start:end].decode("latin-1")
        return headers


class KnownHeads:
    """The heads one worker has learnt, bounded (``KNOWN_HEADS``, oldest forgotten first)."""

    def __init__(self, size: int = KNOWN_HEADS) -> None:
        self._memo: Memo[int, KnownHead] = Memo(size)
        # Heads seen once, by hash: a head is learnt when it comes a second time, so a client whose
        # every head differs (a body length that changes) costs a hash per request, not a learning.
        self._seen: Memo[int, bool] = Memo(size)

    def known(self) -> list[KnownHead]:
        return self._memo.values()

    def request(self, data: bytes, start: int) -> tuple[HttpRequest, bool, int] | None:
        """The request whose known head begins ``data`` at ``start``, if its body is there whole:
        (the request, whether to keep the connection, where the next request begins)."""
        end = data.find(END, start, start + HEAD_LIMIT)
        if end < 0:
            return None
        cut = end + 4
        head = data[start:cut]
        known = self._memo.get(hash(head))
        if known is None:
            return None
        total = cut + known.length
        if len(data) < total:
            return None
        headers = known.headers_for(head)
        if headers is None:
            return None
        request = HttpRequest(known.method, known.path, headers, data[cut:total], known.query, known.journal)
        return request, known.keep_alive, total

    def learn(self, data: bytes, raw: list[tuple[bytes, bytes]], request: HttpRequest, keep_alive: bool) -> None:
        """Keep what llhttp made of the request that begins ``data`` (at a message boundary), if
        its head is plain: one line per header, no repeats, a Content-Length body there whole."""
        end = data.find(END, 0, HEAD_LIMIT)
        headers = request.headers
        if end < 0 or len(headers) != len(raw) or not _NOT_PLAIN.isdisjoint(headers):
            return
        cut = end + 4
        key = hash(data[:cut])
        if self._seen.get(key) is None:
            self._seen.put(key, True)
            return
        body = request.body
        declared = headers.get("content-length", "0")
        if declared != str(len(body)) or data[cut:cut + len(body)] != body:
            return
        lines = data[:end].split(b"\r\n")[1:]
        if len(lines) != len(raw):
            return
        spans: list[tuple[str, int, int]] = []
        pieces: list[tuple[int, int, bytes]] = []
        at = 0
        position = data.index(b"\r\n") + 2
        # No repeats: the headers' names are the raw ones in order, as h1 lower-cased them.
        for line, (name, value), lowered in zip(lines, raw, headers, strict=True):
            parsed = _LINE.fullmatch(line)
            if parsed is None or parsed.group(1) != name or parsed.group(2) != value:
                return  # not how this module reads a head: llhttp alone decides it
            if is_credential_header(lowered):
                if not _FIELD_VALUE.fullmatch(value):
                    return
                start = position + parsed.start(2)
                pieces.append((at, start, data[at:start]))
                at = start + len(value)
                spans.append((lowered, start, at))
            position += len(line) + 2
        pieces.append((at, cut, data[at:cut]))
        secret = {name for name, _, _ in spans}
        # A credential's place is kept (empty), so the headers keep the order they were sent in.
        kept = {name: "" if name in secret else value for name, value in headers.items()}
        self._memo.put(key, KnownHead(cut, tuple(pieces), tuple(spans), request.method, request.path, request.query,
                                      kept, len(body), keep_alive, journal_headers(headers)))
