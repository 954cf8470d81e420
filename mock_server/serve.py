"""Serve the mock under Granian (a Rust HTTP server with a WSGI interface).

Workers are separate processes; they receive the validated settings through
an environment variable and build the app themselves, so the same code path
works whether the platform forks or spawns them. Several workers share one
SQLite store, so the journal, state and faults stay one truth.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from flask import Flask

import spec
from mock_server.auth import basic_header
from mock_server.exceptions import ConfigError
from mock_server.settings import ACTIVE, ServeOptions, Settings, dump, restore
from mock_server.store_sqlite import SqliteStore

SETTINGS_ENV = "ENGAGELAB_MOCK__WORKER_SETTINGS"
_SPEC = spec.load()


def worker_app() -> Flask:
    """Granian's factory target, called once in each worker process."""
    from mock_server.app import create_app

    return create_app(restore(os.environ.pop(SETTINGS_ENV)))


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def banner(settings: Settings, url: str) -> str:
    project = next(p for p in settings.projects if p.status == ACTIVE)
    example = _SPEC.example
    if (project.key, project.secret) == (example["api_key"], example["api_secret"]):
        # The vendor page publishes this header; printing it reveals nothing.
        auth = f"-H 'Authorization: {basic_header(project.key, project.secret)}'"
    else:
        auth = f'-u "{project.key}:$ENGAGELAB_API_SECRET"'
    body = '{"euid":10362473,"contacts":{"mobile_phone":"18023456879","email":"12@gmail.com"}}'
    return (
        f"engagelab-mock serving on {url}\n"
        f"  active project key: {project.key}\n"
        f"  control API: {url}/__mock/health" + (" (token required)" if settings.control_token else "") + "\n"
        f"  try: curl -sS {url}{_SPEC.contact_path} -H 'Content-Type: application/json' {auth} -d '{body}'\n"
    )


def serve(settings: Settings, options: ServeOptions, out: TextIO = sys.stdout) -> int:
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    port = options.port or free_port(options.host)
    scratch = None
    if options.workers > 1 and not settings.state_file:
        # Several processes need one store; it lives only as long as this server.
        scratch = tempfile.mkdtemp(prefix="engagelab-mock-")
        settings = replace(settings, state_file=str(Path(scratch) / "state.db"))
    if settings.state_file:
        try:
            store = SqliteStore(settings.state_file, settings.journal_size, settings.known_euids)
        except sqlite3.Error as exc:
            raise ConfigError("--state", settings.state_file, f"cannot use as SQLite state: {exc}") from None
        store.remove_faults()  # faults steer one run; they do not outlive a restart
        store.close()
    os.environ[SETTINGS_ENV] = dump(settings)
    server = Server(
        "mock_server.serve:worker_app",
        address=options.host,
        port=port,
        interface=Interfaces.WSGI,
        workers=options.workers,
        blocking_threads=options.threads,
        http=HTTPModes.http1,
        factory=True,
        respawn_failed_workers=True,
        log_level=LogLevels.warning,
    )
    host = f"[{options.host}]" if ":" in options.host else options.host
    out.write(banner(settings, f"http://{host}:{port}"))
    out.flush()
    try:
        server.serve()
    finally:
        os.environ.pop(SETTINGS_ENV, None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0
