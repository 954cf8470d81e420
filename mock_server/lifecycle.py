"""Kill-safe worker processes: they die with the serving process, and die alone.

Two failure modes of a process-based server matter to a CI fleet:

- the serving process is killed outright (SIGKILL, what a CI timeout does):
  its workers must not live on, serving stale state and holding the port.
  Each worker asks the kernel (``prctl(PR_SET_PDEATHSIG)``) for SIGKILL the
  moment its parent dies, so the port is free as soon as the parent is gone;
- a worker dies: it is replaced, and the others keep serving. Granian's own
  rule stops the whole server when a worker dies twice within 5.5 s; this
  supervisor replaces a dead worker at once, and backs off (up to 2 s) only
  for a worker that keeps dying within a second of its start. It gives up,
  exit 1, only when no worker has stayed up for a second across
  ``GIVE_UP_AFTER`` replacements in a row: the app cannot start at all.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from typing import Any

from granian.server.mp import MPServer

_log = logging.getLogger("engagelab_mock")

PR_SET_PDEATHSIG = 1
QUICK_DEATH_S = 1.0
MAX_BACKOFF_S = 2.0
GIVE_UP_AFTER = 8


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


class Supervisor(MPServer):
    """Granian's process server with a per-worker respawn policy instead of its crash-loop exit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._quick_deaths: dict[int, int] = {}
        self.gave_up = False

    def _backoff(self, idx: int) -> float:
        born: float = next((w.birth for w in self.wrks if w.idx == idx), 0.0)
        if time.monotonic() - born >= QUICK_DEATH_S:
            self._quick_deaths[idx] = 0
            return 0.0
        deaths = self._quick_deaths[idx] = self._quick_deaths.get(idx, 0) + 1
        return min(MAX_BACKOFF_S, 0.05 * 2.0 ** (deaths - 1))

    def _pause(self, seconds: float) -> None:
        # In short steps, so that SIGTERM/SIGINT still stop the server promptly.
        deadline = time.monotonic() + seconds
        while not self.interrupt_signal and time.monotonic() < deadline:
            time.sleep(0.02)

    def _serve_loop(self, spawn_target: Any, target_loader: Any) -> None:
        while True:
            self.main_loop_interrupt.wait()
            # Cleared before reading what happened: a worker dying from here on sets it again.
            self.main_loop_interrupt.clear()
            if self.interrupt_signal:
                break
            if self.interrupt_children:
                dead = sorted(set(self.interrupt_children))
                self.interrupt_children.clear()
                delay = max(self._backoff(idx) for idx in dead)
                if min(self._quick_deaths.get(i, 0) for i in range(self.workers)) >= GIVE_UP_AFTER:
                    _log.error("every worker dies on start; giving up")
                    self.gave_up = True
                    break
                self._pause(delay)
                if self.interrupt_signal:
                    break
                self._respawn_workers(dead, spawn_target, target_loader)
            if self.reload_signal:
                self._reload(spawn_target, target_loader)  # type: ignore[no-untyped-call]

    def shutdown(self, exit_code: int = 0) -> None:
        super().shutdown(1 if self.gave_up else exit_code)  # type: ignore[no-untyped-call]
