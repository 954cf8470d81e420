"""Kill-safe worker processes: they die with the serving process, and die alone.

Two failure modes of a process-based server matter to a CI fleet:

- the serving process is killed outright (SIGKILL, what a CI timeout does):
  its workers must not live on, serving stale state and holding the port.
  Each worker asks the kernel (``prctl(PR_SET_PDEATHSIG)``) for SIGKILL the
  moment its parent dies, so the port is free as soon as the parent is gone;
- a worker dies: it is replaced at once, and the others keep serving. A
  worker that keeps dying within a second of its start is replaced after a
  growing pause (up to 2 s). The server gives up, exit 1, only when every
  worker has died on start ``GIVE_UP_AFTER`` times in a row: the app cannot
  start at all.

Workers are forked from the serving process after it has bound the socket
and imported the app, so a worker is serving within milliseconds and shares
the parent's pages until it writes to them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable

_log = logging.getLogger("engagelab_mock")

PR_SET_PDEATHSIG = 1
QUICK_DEATH_S = 1.0
MAX_BACKOFF_S = 2.0
GIVE_UP_AFTER = 8
STOP_GRACE_S = 5.0


def die_with_parent(parent_pid: int) -> None:
    """In a worker: be killed by the kernel when the serving process dies (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):  # pragma: no cover
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:  # pragma: no cover
        _log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    # The parent may have died before the request took effect: then nobody would send the signal.
    if os.getppid() != parent_pid:
        os._exit(1)


class Supervisor:
    """Forks ``workers`` processes running ``work(index)`` and keeps that many alive until stopped;
    calls ``tick()`` every ``every`` seconds meanwhile (work taken off the workers)."""

    def __init__(self, workers: int, work: Callable[[int], int], tick: Callable[[], None] | None = None,
                 every: float = 1.0) -> None:
        self.workers = workers
        self.work = work
        self.tick = tick
        self.every = every
        self.pids: dict[int, int] = {}  # pid -> worker index
        self._born: dict[int, float] = {}  # index -> monotonic time of its last start
        self._quick_deaths: dict[int, int] = {}
        self._due: dict[int, float] = {}  # index -> when to start it again
        self._stopping = False

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT: 0; 1 when no worker can start."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        old_fd = signal.set_wakeup_fd(wake_w)
        old = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)}
        try:
            for index in range(self.workers):
                self._start(index, (wake_r, wake_w))
            code = self._supervise(wake_r, wake_w)
        finally:
            self._stop_all(wake_r)
            signal.set_wakeup_fd(old_fd)
            for sig, handler in old.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
        return code

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum != signal.SIGCHLD:
            self._stopping = True

    def _start(self, index: int, pipe: tuple[int, int]) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                for fd in pipe:
                    os.close(fd)
                code = self.work(index)
            except BaseException:
                _log.exception("worker %d failed", index)
            finally:
                os._exit(code)
        self.pids[pid] = index
        self._born[index] = time.monotonic()

    def _supervise(self, wake_r: int, wake_w: int) -> int:
        ticked = time.monotonic()
        while not self._stopping:
            wakes = [*self._due.values(), *([ticked + self.every] if self.tick else [])]
            timeout = max(0.0, min(wakes) - time.monotonic()) if wakes else None
            with contextlib.suppress(InterruptedError):
                select.select([wake_r], [], [], timeout)
            _drain(wake_r)
            if self._stopping:
                break
            self._reap()
            if self._due and min(self._quick_deaths.get(i, 0) for i in range(self.workers)) >= GIVE_UP_AFTER:
                _log.error("every worker dies on start; giving up")
                return 1
            now = time.monotonic()
            for index, due in list(self._due.items()):
                if due <= now:
                    del self._due[index]
                    self._start(index, (wake_r, wake_w))
            if self.tick is not None and now >= ticked + self.every:
                ticked = now
                try:
                    self.tick()
                except Exception:  # the workers serve on; the next tick tries again
                    _log.exception("the periodic task failed")
        return 0

    def _reap(self) -> None:
        while self.pids:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            index = self.pids.pop(pid, None)
            if index is None or self._stopping:
                continue
            pause = self._backoff(index)
            self._due[index] = time.monotonic() + pause
            _log.warning("worker %d (pid %d) %s; replacing it in %.2f s", index, pid, _ended(status), pause)

    def _backoff(self, index: int) -> float:
        if time.monotonic() - self._born.get(index, 0.0) >= QUICK_DEATH_S:
            self._quick_deaths[index] = 0
            return 0.0
        deaths = self._quick_deaths[index] = self._quick_deaths.get(index, 0) + 1
        return min(MAX_BACKOFF_S, 0.05 * 2.0 ** (deaths - 1))

    def _stop_all(self, wake_r: int) -> None:
        """SIGTERM to every worker, SIGKILL to any still alive after ``STOP_GRACE_S``."""
        self._stopping = True
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self.pids and time.monotonic() < deadline:
            self._reap()
            if self.pids:
                with contextlib.suppress(InterruptedError):
                    select.select([wake_r], [], [], 0.05)
                _drain(wake_r)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(self.pids):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids.clear()


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 512):
            pass
