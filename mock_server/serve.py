"""Serve the mock: a listening socket per worker, forked workers, each an event loop on ``h1``.

The serving process binds the sockets itself (first one without SO_REUSEPORT,
so a second mock on the same port is refused rather than silently sharing
it; see ``listen_each``), imports the app, then forks the workers, which
inherit them: a worker is serving within milliseconds of its fork. Several workers share one SQLite
store, so the journal, state and faults stay one truth; the serving process
folds the workers' write segments into it every second (``store_segments.py``).
Workers die with the serving process, and a worker that dies alone is replaced
without touching the others (``lifecycle.py``).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from engagelab_kit import spec
from engagelab_kit.mock_server.exceptions import ConfigError
from engagelab_kit.mock_server.settings import ACTIVE, ServeOptions, Settings

if TYPE_CHECKING:
    from engagelab_kit.mock_server.h1 import Server
    from engagelab_kit.mock_server.store_sqlite import SqliteStore

_SPEC = spec.load()
BACKLOG = 2048
STOP_GRACE_S = 3.0
# Under load the journal turns over within a second or two: folding about that often writes only
# the rows it keeps (store_segments.read), and a read folds whatever is newer itself.
FOLD_EVERY_S = 1.0


def listen(host: str, port: int, shared: bool = False) -> socket.socket:
    """The listening socket (``port`` 0: a free one), or ConfigError if the address cannot be held.
    ``shared``: one of several on the port (SO_REUSEPORT), see ``listen_each``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError("--port", f"{host}:{port}", f"cannot listen: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def listen_each(host: str, port: int, workers: int) -> list[socket.socket]:
    """One listening socket per worker on the same port, or ConfigError if the port is held.

    Why one each: workers sharing one socket race for new connections, and one worker's loop can
    accept a whole burst (all 32 of a load generator's connections went to one of two workers);
    with SO_REUSEPORT the kernel spreads connections over the sockets. A socket without it is
    bound first, so a port another process holds, even with SO_REUSEPORT itself, is refused
    rather than silently shared."""
    first = listen(host, port)
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        return [first]
    port = first.getsockname()[1]
    first.close()
    socks: list[socket.socket] = []
    try:
        for _ in range(workers):
            socks.append(listen(host, port, shared=True))
    except ConfigError:
        for sock in socks:
            sock.close()
        raise
    return socks


def claim_port(host: str, port: int) -> int:
    """The port ``listen`` would hold (a free one for 0), or ConfigError; the probe is released."""
    with listen(host, port) as sock:
        claimed: int = sock.getsockname()[1]
        return claimed


def banner(settings: Settings, url: str) -> str:
    """The startup lines. The secret is never printed, not even encoded: the curl line reads it
    from $ENGAGELAB_API_SECRET."""
    project = next(p for p in settings.projects if p.status == ACTIVE)
    body = json.dumps(_SPEC.example["body"], separators=(",", ":"))
    token = " (token required)" if settings.control_token else ""
    return (
        f"engagelab-mock serving on {url}\n"
        f"  active project key: {project.key}\n"
        f"  control API: {url}/__mock/health{token}\n"
        f"  try: curl -sS {url}{_SPEC.contact_path} -H 'Content-Type: application/json'"
        f' -u "{project.key}:$ENGAGELAB_API_SECRET" -d \'{body}\'\n'
    )


def run_worker(sock: socket.socket, settings: Settings, options: ServeOptions, parent: int | None) -> int:
    """One worker: an event loop serving ``sock`` until SIGTERM or SIGINT; its exit code."""
    from engagelab_kit.mock_server.app import serving_handler
    from engagelab_kit.mock_server.h1 import Server
    from engagelab_kit.mock_server.lifecycle import die_with_parent

    if parent is not None:
        die_with_parent(parent)
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    dispatcher = serving_handler(settings, options.threads)
    server = Server(dispatcher, settings.max_body_bytes, options.body_timeout, dispatcher.commit)
    listening = loop.run_until_complete(loop.create_server(server.connection, sock=sock, backlog=BACKLOG))
    stopping: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not stopping.done():
            stopping.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        loop.run_until_complete(stopping)
        listening.close()
        server.close_idle()
        loop.run_until_complete(_drained(server))
    finally:
        dispatcher.shutdown()
        loop.close()
        dispatcher.service.store.close()  # SQLite: what this worker wrote, folded; its segment gone
    return 0


async def _drained(server: Server) -> None:
    """Answers still owed on open connections get up to ``STOP_GRACE_S`` to leave."""
    live = server.live
    deadline = asyncio.get_running_loop().time() + STOP_GRACE_S
    while live and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or a platform without a uvloop wheel
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def serve(settings: Settings, options: ServeOptions, out: TextIO = sys.stdout) -> int:
    # Windows runs one worker in this process (no fork): one socket.
    socks = listen_each(options.host, options.port, options.workers if hasattr(os, "fork") else 1)
    port = socks[0].getsockname()[1]
    scratch = None
    state: SqliteStore | None = None
    try:
        if options.workers > 1 and not settings.state_file:
            # Several processes need one store; it lives only as long as this server.
            scratch = tempfile.mkdtemp(prefix="engagelab-mock-")
            settings = replace(settings, state_file=str(Path(scratch) / "state.db"))
        if settings.state_file:
            state = _prepare_state(settings)
        # Imported before the fork, so each worker starts with the app already loaded.

        host = f"[{options.host}]" if ":" in options.host else options.host
        out.write(banner(settings, f"http://{host}:{port}"))
        out.flush()
        if not hasattr(os, "fork"):  # pragma: no cover - Windows: one worker, in this process
            return run_worker(socks[0], settings, options, None)
        from engagelab_kit.mock_server.lifecycle import Supervisor

        parent = os.getpid()
        fold = _FoldAside(state, parent) if state is not None else None
        def work(index: int) -> int:
            # A replacement worker takes its predecessor's socket, and the connections waiting on it.
            return run_worker(socks[index % len(socks)], settings, options, parent)

        return Supervisor(options.workers, work, fold, FOLD_EVERY_S).run()
    finally:
        for sock in socks:
            sock.close()
        if state is not None:
            state.close()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


class _FoldAside:
    """Every tick: fold the workers' segments into the shared state in a short-lived child, off the
    workers' event loops. At the workers' own priority: at nice 10 it was starved under a full
    load, the segments piled up until a worker folded them on its loop, and that stalled it for
    0.6-0.9 s (p99 868 ms in `make bench`). At most one at a time (a second finds the folding lock
    held and leaves); none while the segments stay as they were, so an idle server does not fork
    every second."""

    def __init__(self, state: SqliteStore, parent: int) -> None:
        self.state = state
        self.parent = parent
        self._seen: list[tuple[str, int]] = []
        self._again = False

    def __call__(self) -> None:
        from engagelab_kit.mock_server.store_segments import sizes

        seen = sizes(self.state.path)
        changed = seen != self._seen
        # Once more after a change: the fold then may have found the previous one still at work.
        if not (changed or self._again):
            return
        self._seen, self._again = seen, changed
        if os.fork() == 0:
            self._fold()

    def _fold(self) -> NoReturn:
        from engagelab_kit.mock_server.lifecycle import die_with_parent

        code = 1
        try:
            die_with_parent(self.parent)
            folding = os.open(f"{self.state.path}.folding", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(folding, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os._exit(0)
            self.state.fold()
            code = 0
        except BaseException:
            logging.getLogger("engagelab_mock").exception("folding the workers' segments failed")
        finally:
            os._exit(code)


def _prepare_state(settings: Settings) -> SqliteStore:
    """The state, opened (which folds what a killed run left in its segments) and kept open."""
    import sqlite3

    from engagelab_kit.mock_server.store_sqlite import SqliteStore

    try:
        store = SqliteStore(settings.state_file or "", settings.journal_size, settings.known_euids)
    except sqlite3.Error as exc:
        raise ConfigError("--state", settings.state_file or "", f"cannot use as SQLite state: {exc}") from None
    store.remove_faults()  # faults steer one run; they do not outlive a restart
    return store
