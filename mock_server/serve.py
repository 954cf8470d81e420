"""Serve the mock under Granian (a Rust HTTP server), through its RSGI interface.

Workers are separate processes; they receive the validated settings through
an environment variable and build the app themselves, so the same code path
works whether the platform forks or spawns them. Several workers share one
SQLite store, so the journal, state and faults stay one truth. Workers die
with the serving process, and a worker that dies alone is replaced without
touching the others (``lifecycle.py``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from granian.server.mp import MPServer

    from engagelab_kit.mock_server.rsgi import RsgiApp

from engagelab_kit import spec
from engagelab_kit.mock_server.exceptions import ConfigError
from engagelab_kit.mock_server.settings import ACTIVE, ServeOptions, Settings, dump, restore

SETTINGS_ENV = "ENGAGELAB_MOCK__WORKER_SETTINGS"
SERVING_ENV = "ENGAGELAB_MOCK__SERVING"  # "parent PID,body timeout,threads" for the workers
_SPEC = spec.load()


def worker_app() -> RsgiApp:
    """Granian's factory target, called once in each worker process."""
    from engagelab_kit.mock_server.app import serving_app
    from engagelab_kit.mock_server.lifecycle import die_with_parent

    parent, body_timeout, threads = os.environ.pop(SERVING_ENV).split(",")
    die_with_parent(int(parent))
    return serving_app(restore(os.environ.pop(SETTINGS_ENV)), float(body_timeout), int(threads))


def claim_port(host: str, port: int) -> int:
    """The port to serve on (a free one for 0), or ConfigError if another process holds it.

    Granian binds with SO_REUSEPORT, which would let a second mock share a port
    silently with the first; this probe binds without it, so it fails instead.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError("--port", f"{host}:{port}", f"cannot listen: {exc.strerror or exc}") from None
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


def granian_server(factory: str, options: ServeOptions, port: int, interface: str = "rsgi") -> MPServer:
    """Granian as the mock runs under it (RSGI, supervised by ``lifecycle.Supervisor``); the benchmark
    serves its WSGI references the same way."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    from engagelab_kit.mock_server.lifecycle import Supervisor

    rsgi = interface == "rsgi"
    # Looked up, not imported: each worker imports it, the serving process never needs it.
    loop = Loops.uvloop if importlib.util.find_spec("uvloop") else Loops.asyncio
    # The process-based server: the GIL build of CPython, which is what we run on.
    return Supervisor(
        factory,
        address=options.host,
        port=port,
        interface=Interfaces.RSGI if rsgi else Interfaces.WSGI,
        workers=options.workers,
        blocking_threads=1 if rsgi else options.threads,
        loop=loop,
        http=HTTPModes.http1,
        websockets=False,
        factory=True,
        respawn_failed_workers=True,
        log_level=LogLevels.warning,
    )


def serve(settings: Settings, options: ServeOptions, out: TextIO = sys.stdout) -> int:
    port = claim_port(options.host, options.port)
    scratch = None
    if options.workers > 1 and not settings.state_file:
        # Several processes need one store; it lives only as long as this server.
        scratch = tempfile.mkdtemp(prefix="engagelab-mock-")
        settings = replace(settings, state_file=str(Path(scratch) / "state.db"))
    if settings.state_file:
        import sqlite3

        from engagelab_kit.mock_server.store_sqlite import SqliteStore

        try:
            store = SqliteStore(settings.state_file, settings.journal_size, settings.known_euids)
        except sqlite3.Error as exc:
            raise ConfigError("--state", settings.state_file, f"cannot use as SQLite state: {exc}") from None
        store.remove_faults()  # faults steer one run; they do not outlive a restart
        store.close()
    os.environ[SETTINGS_ENV] = dump(settings)
    os.environ[SERVING_ENV] = f"{os.getpid()},{options.body_timeout},{options.threads}"
    server = granian_server("engagelab_kit.mock_server.serve:worker_app", options, port)
    host = f"[{options.host}]" if ":" in options.host else options.host

    @server.on_startup
    def announce() -> None:
        # Runs once the socket is bound: "serving on" is never printed for a port we do not hold.
        out.write(banner(settings, f"http://{host}:{port}"))
        out.flush()

    try:
        server.serve()
    except OSError as exc:
        raise ConfigError("--port", f"{options.host}:{port}", f"cannot listen: {exc.strerror or exc}") from None
    finally:
        os.environ.pop(SETTINGS_ENV, None)
        os.environ.pop(SERVING_ENV, None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0
