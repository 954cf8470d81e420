"""HTTP/1.1 plumbing for the validation proxy: the upstream's address, connections, batched writes.

h11 parses and writes HTTP on both sides; this module feeds it bytes from asyncio streams.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import h11

CHUNK = 65536


class ClientGone(Exception):
    """The client closed or broke its side mid-exchange."""


class UpstreamFailed(Exception):
    def __init__(self, detail: str, reached: bool) -> None:
        super().__init__(detail)
        self.detail, self.reached = detail, reached


@dataclass(frozen=True)
class Upstream:
    scheme: str
    host: str
    port: int
    prefix: str
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str, ca_file: str | None = None) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"--upstream must be an http(s) base URL, got {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), ca_file)

    @property
    def url(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{'' if self.port == default else f':{self.port}'}{self.prefix}"

    @property
    def netloc(self) -> bytes:
        return self.url.split("://", 1)[1].split("/", 1)[0].encode("ascii")

    def tls(self) -> ssl.SSLContext | None:
        if self.scheme != "https":
            return None
        return ssl.create_default_context(cafile=self.ca_file)


class Reads(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class Writes(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


class SocketStream:
    """A plain-TCP upstream on a non-blocking socket: read as it becomes readable, written with sock_sendall.

    asyncio's transports close both directions when a send fails; an upstream that answers a large body
    early (413) and then resets would lose its answer in the kernel's buffer. Here a failed send leaves
    the socket readable, and bytes that arrived are handed out before any error, as a direct client
    would read them.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.pending: list[bytes] = []
        self.buffer = bytearray()
        self.eof = False
        self.error: OSError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.reading = True
        self.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.error, data = exc, b""
        if data:
            self.buffer += data
            if len(self.buffer) > 4 * CHUNK:  # backpressure: a large answer waits in the kernel
                self._pause()
        else:
            self.eof = True
            self._pause()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _pause(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.sock.fileno())

    @classmethod
    async def connect(cls, host: str, port: int) -> SocketStream:
        loop = asyncio.get_running_loop()
        failure: OSError = OSError(f"no address for {host}")
        for family, kind, proto, _, address in await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return cls(sock)
        raise failure

    async def read(self, n: int = -1) -> bytes:
        while not self.buffer and not self.eof:
            self.waiter = self.loop.create_future()
            await self.waiter
        if self.buffer:
            size = n if n > 0 else len(self.buffer)
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
            if not self.reading and not self.eof:
                self.reading = True
                self.loop.add_reader(self.sock.fileno(), self._readable)
            return data
        if self.error is not None:
            raise self.error
        return b""

    def write(self, data: bytes) -> None:
        self.pending.append(data)

    async def drain(self) -> None:
        data = b"".join(self.pending)
        self.pending.clear()
        if data:
            await self.loop.sock_sendall(self.sock, data)

    def idle_and_open(self) -> bool:
        """True while the upstream has neither closed this idle connection nor sent anything on it."""
        return not self.eof and not self.buffer and self.sock.fileno() >= 0

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self._pause()
            self.sock.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionAbortedError("closed by the proxy"))


class Link:
    """One upstream connection and its h11 state."""

    def __init__(self, reader: asyncio.StreamReader | SocketStream,
                 writer: asyncio.StreamWriter | SocketStream) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h11.Connection(h11.CLIENT)

    def usable(self) -> bool:
        if self.conn.our_state is not h11.IDLE:
            return False
        if isinstance(self.writer, SocketStream):
            return self.writer.idle_and_open()
        reader_open = isinstance(self.reader, asyncio.StreamReader) and not self.reader.at_eof()
        return reader_open and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class Outbox:
    """Bytes for one peer, sent together when the other side has nothing more for now: a head and
    a small body leave in one segment, not one write (and one wake-up of the peer) per event."""

    def __init__(self, writer: Writes) -> None:
        self.writer = writer
        self.pending: list[bytes] = []
        self.broken = False

    def add(self, data: bytes | None) -> None:
        if data and not self.broken:
            self.pending.append(data)

    async def flush(self) -> None:
        if not self.pending or self.broken:
            return
        data = b"".join(self.pending)
        self.pending.clear()
        try:
            self.writer.write(data)
            await self.writer.drain()
        except OSError:  # ConnectionError included
            self.broken = True


async def next_event(conn: h11.Connection, reader: Reads, timeout: float | None = None,
                     flush: Callable[[], Awaitable[None]] | None = None) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        if flush is not None:
            await flush()
        try:
            # asyncio.timeout, not wait_for: wait_for wraps every read in a task of its own, a cost per read.
            async with asyncio.timeout(timeout):
                data = await reader.read(CHUNK)
        except ConnectionError:
            data = _salvage(reader)
            if not data:
                raise
            conn.receive_data(data)
            data = b""  # then the end: what arrived before the reset is all there is
        conn.receive_data(data)


def _salvage(reader: Reads) -> bytes:
    """Bytes that arrived before a connection reset. StreamReader raises the reset before handing them
    out; an upstream that answers early (413) and resets would otherwise lose its answer."""
    buffer = getattr(reader, "_buffer", None)
    if not isinstance(buffer, bytearray) or not buffer:
        return b""
    data = bytes(buffer)
    buffer.clear()
    return data


def declared_length(request: h11.Request) -> int:
    value = next((v for k, v in request.headers if k == b"content-length"), b"0")
    return int(value) if value.isdigit() else 0


def framed(response: h11.Response) -> bool:
    names = {k.lower() for k, _ in response.headers.raw_items()}
    return b"content-length" in names or b"transfer-encoding" in names or response.status_code in (204, 304)


def head_bytes(response: h11.Response) -> bytes:
    lines = [b"HTTP/1.1 %d %s\r\n" % (response.status_code, response.reason)]
    lines += [name + b": " + value + b"\r\n" for name, value in response.headers.raw_items()]
    return b"".join(lines) + b"\r\n"
