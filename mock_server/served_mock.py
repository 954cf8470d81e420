"""Run a real served mock as a child process: ``engagelab-mock serve --port 0`` on loopback.

``ServedMock`` starts it, reads the URL from the first banner line, waits until
the control API answers, and stops it by its own PID (SIGTERM, then SIGKILL).
On Linux the child also gets SIGTERM if the process that started it dies, so
even a test run killed outright leaves no server behind; an ``atexit`` hook
covers an interpreter that exits without stopping it. Nothing is written to
disk. Usable in or outside pytest::

    with ServedMock() as mock:
        requests.post(mock.url + "/v1/user/contact", ...)
        mock.control.journal().assert_count(1)
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Sequence
from types import TracebackType
from typing import IO

import requests

from engagelab_kit.mock_server.control_client import MockControl

_URL = re.compile(r"serving on (http://\S+)")
_PR_SET_PDEATHSIG = 1


class MockStartError(RuntimeError):
    """The mock did not come up; the text carries what it printed."""


def _parent_death_signal() -> None:
    # Runs in the child between fork and exec: ask Linux to SIGTERM it when its parent dies.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _config_token(path: str) -> str | None:
    try:
        with open(path, "rb") as file:
            token = tomllib.load(file).get("control", {}).get("token")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return None  # the server itself will refuse the file, and say why
    return token if isinstance(token, str) else None


def _drain(stream: IO[str], keep: collections.deque[str]) -> None:
    # Keeps the pipe empty, so a chatty server never blocks on a full pipe; the tail is kept for errors.
    for line in stream:
        keep.append(line)
    stream.close()


def terminate(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10) -> int:
    """Stop a process we started, by its PID: SIGTERM, then SIGKILL if it is still there after
    ``timeout`` seconds. Returns its exit status; safe on a process that has already ended."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class ServedMock:
    """One served mock on a free loopback port. ``args`` are extra ``serve`` flags, e.g. ``["--strict-euid"]``."""

    def __init__(self, args: Sequence[str] = (), *, config: str | None = None, startup_timeout: float = 30.0,
                 token: str | None = None) -> None:
        self.args = list(args)
        self.config = config
        self.startup_timeout = startup_timeout
        # A token set in the config file guards the control API: the control client must send it too.
        self.token = token if token is not None or config is None else _config_token(config)
        self.process: subprocess.Popen[str] | None = None
        self._url: str | None = None
        self._control: MockControl | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=50)

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the mock is not running")
        return self._url

    @property
    def control(self) -> MockControl:
        if self._control is None:
            raise RuntimeError("the mock is not running")
        return self._control

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "engagelab_kit.mock_server", "serve", "--host", "127.0.0.1", "--port", "0",
                   "--threads", "4"]
        if self.config:
            command += ["--config", self.config]
        if self.token:
            command += ["--control-token", self.token]
        return command + self.args

    def start(self) -> ServedMock:
        if self.process is not None:
            return self
        # The user's ENGAGELAB_MOCK_* settings (a port, a state file) must not leak into a test's mock.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGELAB_MOCK_")}
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, env=env, preexec_fn=_parent_death_signal if _LIBC is not None else None,
        )
        atexit.register(self.stop)
        try:
            self._url = self._read_url()
            self._control = MockControl(self._url, token=self.token)
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _read_url(self) -> str:
        process = self.process
        assert process is not None and process.stdout is not None
        found: list[str] = []

        def read_banner() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self._output.append(line)
                match = _URL.search(line)
                if match:
                    found.append(match.group(1))
                    break
            _drain(process.stdout, self._output)

        reader = threading.Thread(target=read_banner, name="engagelab-mock-output", daemon=True)
        reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not found and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        if not found:
            time.sleep(0.1)  # let the reader take the last words of a process that exited
            raise MockStartError(f"engagelab-mock did not start (exit code {process.poll()}):\n"
                                 + "".join(self._output))
        return found[0]

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                self.control.health()
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise MockStartError(f"engagelab-mock at {self.url} never answered") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL after 10 s. Safe to call twice."""
        process = self.process
        if process is None:
            return
        self.process = None
        atexit.unregister(self.stop)
        terminate(process)
        self._url = None
        self._control = None

    def __enter__(self) -> ServedMock:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
