"""The validation proxy's server: forward each exchange, judge it, count it (asyncio, h11 both sides).

Each client connection gets at most one upstream connection, opened when its
first request arrives and reused while both sides keep it alive; nothing is
ever sent upstream that a client did not send (no retries, no probes). Bodies
stream both ways with backpressure; only what the rules need is kept (the
request up to one byte past the size limit, the answer up to 64 KiB).

The request goes upstream as it came: same method, target, header names and
values in order, same body. Host alone is set to the upstream's (a virtual-host
upstream could not route it otherwise), and h11 speaks HTTP/1.1 upstream.
The answer comes back as it came: status, reason, headers and body bytes.
An upstream that cannot be reached, times out or breaks off leaves the client
with the same: its connection reset, no made-up answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h11

from engagelab_kit import spec
from engagelab_kit.mock_server.proxy_har import HarRecorder
from engagelab_kit.mock_server.proxy_judge import Exchange, Judge
from engagelab_kit.mock_server.proxy_report import Ledger
from engagelab_kit.mock_server.proxy_wire import (
    CHUNK,
    ClientGone,
    Link,
    Outbox,
    SocketStream,
    Upstream,
    UpstreamFailed,
    declared_length,
    framed,
    head_bytes,
    next_event,
)

CONTROL = "/__mock/proxy/"
MAX_HEAD_BYTES = 64 * 1024  # request line and headers
ANSWER_KEPT = 64 * 1024  # the contract's answers are tiny; more than this is judged as it is cut
DRAIN_LIMIT = 64 * 1024 * 1024  # a body this long after the answer is complete: stop reading, close
_KEEP = spec.load().limits.max_body_bytes + 1


class ProxyServer:
    def __init__(self, upstream: Upstream, judge: Judge, ledger: Ledger, timeout: float = 30.0,
                 har: HarRecorder | None = None, report_dir: Path | None = None,
                 on_drift: Callable[[str], None] | None = None) -> None:
        self.upstream, self.judge, self.ledger = upstream, judge, ledger
        self.timeout, self.har, self.report_dir = timeout, har, report_dir
        self.on_drift = on_drift
        self._tls = upstream.tls()
        self.active: set[asyncio.Task[None]] = set()
        self.busy: set[asyncio.Task[None]] = set()  # mid-exchange; the others wait for a next request

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.active.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        link: Link | None = None
        try:
            while True:
                event = await next_event(conn, reader)
                if not isinstance(event, h11.Request):
                    break
                if task is not None:
                    self.busy.add(task)
                link, keep = await self._exchange(conn, reader, writer, event, link)
                self.busy.discard(task)
                if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            await self._unparseable(conn, writer, exc)
        except (TimeoutError, ClientGone, ConnectionError, asyncio.IncompleteReadError):
            writer.transport.abort()
        except asyncio.CancelledError:
            # Shutdown after the grace period: this connection ends here (asyncio would log it as an error).
            writer.transport.abort()
        except Exception as exc:  # a bug of ours must cost one connection, never the proxy
            print(f"engagelab-mock proxy: connection dropped on an internal error: {type(exc).__name__}",
                  file=sys.stderr)
            writer.transport.abort()
        finally:
            if task is not None:
                self.busy.discard(task)
            if link is not None:
                link.close()
            with contextlib.suppress(Exception):
                writer.close()
            if task is not None:
                self.active.discard(task)

    async def _unparseable(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, exc: h11.RemoteProtocolError
    ) -> None:
        self.ledger.unparseable(str(exc))
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            writer.transport.abort()
            return
        status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
        body = {"error": "the validation proxy could not parse this request as HTTP/1.1; it was not forwarded",
                "detail": str(exc)}
        await self._answer(conn, writer, status, body, close=True)

    async def _answer(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, payload: Any,
                      close: bool = False) -> None:
        data = json.dumps(payload, indent=1).encode()
        headers = [(b"Content-Type", b"application/json"), (b"Content-Length", str(len(data)).encode())]
        if close:
            headers.append((b"Connection", b"close"))
        with contextlib.suppress(h11.LocalProtocolError):
            writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
            writer.write(conn.send(h11.Data(data=data)))
            writer.write(conn.send(h11.EndOfMessage()))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _exchange(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: h11.Request, link: Link | None) -> tuple[Link | None, bool]:
        target = request.target.decode("latin-1")
        if target.startswith(CONTROL):
            while not isinstance(await next_event(conn, reader, self.timeout), h11.EndOfMessage):
                pass
            status, payload = self.control(request.method.decode("latin-1"), target)
            await self._answer(conn, writer, status, payload)
            return link, True
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw_items()]
        ex = Exchange(request.method.decode("latin-1"), target, headers, b"", 0, body_complete=False)
        started = time.perf_counter()
        pump: asyncio.Task[None] | None = None
        reused = link is not None and link.usable()
        try:
            if link is None or not link.usable():
                if link is not None:
                    link.close()
                link = None
                link = await self._connect()
            pump = asyncio.create_task(self._pump(conn, reader, link, ex, request))
            relay = asyncio.create_task(self._relay(conn, writer, link, ex))
            await asyncio.wait({pump, relay}, return_when=asyncio.FIRST_COMPLETED)
            if pump.done() and pump.exception() is not None and not relay.done():
                relay.cancel()  # the client went away mid-request: nothing left to answer or judge
                ex.aborted = True
                raise ClientGone
            answered, unsent = await relay
            ex.elapsed = time.perf_counter() - started
            if unsent:
                # Answered without "100 Continue": the client will not send its body. Judge by what was
                # declared, and end the connection, as RFC 9110 leaves it in doubt.
                ex.body_size = max(ex.body_size, declared_length(request))
                answered = False
            elif not pump.done():
                # The answer is out; the rest of the body is only counted (the size rule needs its length).
                await asyncio.wait_for(asyncio.shield(pump), self.timeout)
        except UpstreamFailed as failed:
            ex.failure, ex.reached = failed.detail, failed.reached
            if reused and ex.status is None:
                # An idle kept-alive connection the upstream closed as this request went out: no answer,
                # but no sign of a contract breach either (a client on its own connection would see the same).
                ex.reached = False
                ex.failure += " (on a kept-alive connection; the upstream may have closed it as idle)"
            ex.elapsed = time.perf_counter() - started
            raise ClientGone from None  # the client is left with the same failure: a reset connection
        finally:
            if pump is not None and not pump.done():
                pump.cancel()
            if pump is not None and pump.done() and not pump.cancelled():
                pump.exception()  # retrieved: a client that went away is not an error to log
            self._record(ex)
        if link.conn.our_state is h11.DONE and link.conn.their_state is h11.DONE:
            link.conn.start_next_cycle()
        else:
            link.close()
            link = None
        return link, answered

    async def _connect(self) -> Link:
        up = self.upstream
        try:
            async with asyncio.timeout(self.timeout):
                if self._tls is None:
                    stream = await SocketStream.connect(up.host, up.port)
                    return Link(stream, stream)
                reader, writer = await asyncio.open_connection(
                    up.host, up.port, ssl=self._tls, server_hostname=up.host, limit=CHUNK
                )
        except TimeoutError:
            raise UpstreamFailed(f"connecting to {up.url} timed out after {self.timeout:g} s", False) from None
        except OSError as exc:
            raise UpstreamFailed(f"cannot connect to {up.url}: {type(exc).__name__}: {exc}", False) from None
        return Link(reader, writer)

    async def _pump(self, conn: h11.Connection, reader: asyncio.StreamReader, link: Link, ex: Exchange,
                    request: h11.Request) -> None:
        """Request head and body to the upstream; keeps reading (and discarding) once the upstream
        stops listening, so the client can read the answer it got early."""
        head = [(k, self.upstream.netloc if k.lower() == b"host" else v) for k, v in request.headers.raw_items()]
        if not any(k.lower() == b"host" for k, _ in head):
            head.insert(0, (b"Host", self.upstream.netloc))
        target = self.upstream.prefix.encode() + request.target
        out = Outbox(link.writer)
        try:
            out.add(link.conn.send(h11.Request(method=request.method, target=target, headers=head)))
        except h11.LocalProtocolError:
            out.broken = True
        kept = bytearray()
        try:
            while True:
                try:
                    event = await next_event(conn, reader, self.timeout, out.flush)
                except (TimeoutError, ConnectionError, h11.RemoteProtocolError):
                    raise ClientGone from None
                if isinstance(event, h11.ConnectionClosed):
                    raise ClientGone
                if isinstance(event, h11.Data):
                    if len(kept) < _KEEP:
                        kept += event.data[: _KEEP - len(kept)]
                    ex.body_size += len(event.data)
                    message: h11.Event = h11.Data(data=event.data)
                elif isinstance(event, h11.EndOfMessage):
                    message = h11.EndOfMessage(headers=event.headers)
                else:
                    continue
                if not out.broken:
                    try:
                        out.add(link.conn.send(message))
                    except h11.LocalProtocolError:
                        out.broken = True  # the upstream answered early or went away; its answer decides
                if isinstance(event, h11.EndOfMessage):
                    await out.flush()
                    ex.body_complete = True
                    return
                if out.broken and conn.our_state is h11.DONE and ex.body_size > DRAIN_LIMIT:
                    raise ClientGone
        finally:
            ex.body = bytes(kept)

    async def _relay(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, link: Link, ex: Exchange
    ) -> tuple[bool, bool]:
        """The upstream's answer to the client as it arrives. Returns whether the connection may live on,
        and whether the answer came while the client still waited for "100 Continue" (no body will follow)."""
        kept = bytearray()
        unsent = False
        out = Outbox(writer)

        async def flush() -> None:
            await out.flush()
            if out.broken:
                raise ClientGone

        while True:
            try:
                event = await next_event(link.conn, link.reader, self.timeout, flush)
            except TimeoutError:
                raise UpstreamFailed(f"no complete answer within {self.timeout:g} s", True) from None
            except (h11.RemoteProtocolError, ConnectionError, OSError) as exc:
                raise UpstreamFailed(f"{type(exc).__name__}: {exc}", True) from None
            if isinstance(event, h11.ConnectionClosed):
                raise UpstreamFailed("the upstream closed the connection without an answer", True)
            if isinstance(event, h11.InformationalResponse):
                with contextlib.suppress(h11.LocalProtocolError):
                    out.add(conn.send(event))
                continue
            if isinstance(event, h11.Response):
                unsent = conn.they_are_waiting_for_100_continue
                ex.status = event.status_code
                ex.response_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()]
                data = conn.send(h11.Response(status_code=event.status_code, headers=list(event.headers.raw_items()),
                                              reason=event.reason))
                if framed(event):
                    # h11 would add "Connection: close" where it plans to close; the client gets the
                    # upstream's head as it was. (Unframed answers keep h11's framing: it must add some.)
                    data = head_bytes(event)
                out.add(data)
            elif isinstance(event, h11.Data):
                if len(kept) < ANSWER_KEPT:
                    kept += event.data[: ANSWER_KEPT - len(kept)]
                out.add(conn.send(h11.Data(data=event.data)))
            elif isinstance(event, h11.EndOfMessage):
                ex.response_body = bytes(kept)
                out.add(conn.send(h11.EndOfMessage(headers=event.headers)))
                await flush()
                return conn.our_state is h11.DONE, unsent

    def _record(self, ex: Exchange) -> None:
        if ex.aborted:
            self.ledger.aborted()
            return
        try:
            judgement = self.judge.judge(ex)
        except Exception as exc:  # counted, never fatal; the type only: a message could quote the request
            self.ledger.unjudgeable(type(exc).__name__, failed=bool(ex.failure))
            return
        key = self.ledger.add(judgement, ex.elapsed, failed=bool(ex.failure))
        if self.har is not None:
            self.har.add(ex, judgement)
        if key and self.on_drift is not None:
            self.on_drift(f"drift ({judgement.rule}): {key} -- first seen on {judgement.request_line}")

    def control(self, method: str, target: str) -> tuple[int, Any]:
        """The proxy's own calls, answered here and never forwarded."""
        path = target.split("?", 1)[0]
        if path == CONTROL + "summary" and method in ("GET", "HEAD"):
            return 200, self.ledger.summary()
        if path == CONTROL + "report" and method == "GET":
            return 200, self.ledger.build()
        if path == CONTROL + "report" and method == "POST":
            written = self.write_reports()
            if not written:
                return 409, {"error": "no --report-dir (or --har) was given: nothing to write"}
            return 200, {"written": [str(p) for p in written]}
        return 404, {"error": f"unknown proxy call {method} {path}",
                     "calls": ["GET /__mock/proxy/summary", "GET /__mock/proxy/report", "POST /__mock/proxy/report"]}

    def write_reports(self) -> list[Path]:
        written: list[Path] = []
        if self.report_dir is not None:
            written += self.ledger.write(self.report_dir)
        if self.har is not None:
            written.append(self.har.write())
        return written
