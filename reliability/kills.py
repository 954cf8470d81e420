"""SIGKILL of the parent, a worker or the whole tree under --state: acknowledged writes survive.

Targets (issue 8): after a kill of the parent or the tree the port is free
within 1 s and no worker lives on; after a worker's kill the server keeps
answering (a new connection within 1 s); no worker outlives its parent by
more than 1 s; a restart on the same state and port is serving within 1 s
(from the start of the command to the first answer).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from reliability.fuzz import RawClient
from reliability.report import Row, verdict
from reliability.server import Server, alive, port_free
from reliability.writers import merge

MODES = ("parent", "worker", "tree")
WITHIN_S = 1.0


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait(condition: object, timeout: float) -> float | None:
    """Seconds until ``condition()`` held, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if callable(condition) and condition():
            return time.monotonic() - started
        time.sleep(0.01)
    return None


@dataclass(frozen=True)
class Round:
    acked: int
    lost: int
    port_free: float | None  # seconds until the port was free after the kill, None: not within 1 s
    serving: bool  # worker mode: the server answered a new connection within 1 s of the kill
    orphans: int  # workers alive 1 s after their parent was gone
    restart: float
    port: int


def _round(mode: str, n: int, state: Path, port: int, rng: random.Random, log_dir: Path) -> Round:
    server = Server("--state", str(state), "--workers", "2", port=port, log_dir=log_dir)
    acked: list[tuple[int, str]] = []
    stop = threading.Event()

    def write(w: int) -> None:
        client = RawClient(server)
        j = 0
        while not stop.is_set():
            euid, value = n * 1_000_000 + w * 100_000 + j + 1, f"r{n}w{w}j{j}"
            if merge(client, euid, {"email": value}):
                acked.append((euid, value))
            j += 1
        client.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(rng.uniform(0.3, 0.8))
    workers = server.workers()
    everyone = [server.pid, *workers]
    victims = {"parent": [server.pid], "worker": [rng.choice(workers)] if workers else [], "tree": everyone}[mode]
    _kill(victims)
    if mode == "parent":
        server.proc.wait()
    port_free_after = _wait(lambda: port_free(server.port), WITHIN_S) if mode != "worker" else None
    serving = mode == "worker" and _wait(lambda: _answers(server), WITHIN_S) is not None
    time.sleep(0.2 if mode != "worker" else 0.5)
    stop.set()
    for thread in threads:
        thread.join()
    server.known_pids = [*everyone, *server.workers()]
    if mode == "worker":  # the parent, stopped as usual, must take its workers (a respawned one too) along
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=15)
    _wait(lambda: not any(alive(p) for p in server.known_pids[1:]), WITHIN_S)
    orphans = sum(alive(p) for p in server.known_pids[1:])
    server.stop()  # and any orphan, by PID
    _wait(lambda: not any(alive(p) for p in server.known_pids), 5.0)
    restart_started = time.monotonic()
    again = Server("--state", str(state), "--workers", "2", port=server.port, log_dir=log_dir)
    restart = time.monotonic() - restart_started
    again.stop()
    with sqlite3.connect(state) as db:
        kept = dict(db.execute("SELECT euid, value FROM contacts WHERE name = 'email'").fetchall())
    lost = sum(kept.get(euid) != value for euid, value in acked)
    return Round(len(acked), lost, port_free_after, serving, orphans, restart, server.port)


def _answers(server: Server) -> bool:
    try:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=WITHIN_S)
        conn.request("GET", "/__mock/health", headers=server.control_headers())
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def kills(rounds: int, seed: int, log_dir: Path, modes: tuple[str, ...] = MODES) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for mode in modes:
        state = log_dir / f"kill-{mode}.db"
        results = []
        port = 0
        for n in range(rounds):
            result = _round(mode, n, state, port, rng, log_dir)
            port = result.port
            results.append(result)
        acked = sum(r.acked for r in results)
        lost = sum(r.lost for r in results)
        free_count = sum(r.port_free is not None for r in results)
        serving = sum(r.serving for r in results)
        orphaned = sum(r.orphans for r in results)
        restarts = sorted(r.restart for r in results)
        rows.append(Row(f"SIGKILL {mode} under --state", f"{rounds} kills: {acked:,} acked writes, {lost} lost",
                        verdict(lost == 0 and acked > 0)))
        if mode == "worker":
            freed, ok = f"server kept answering in {serving}/{rounds}", serving == rounds
        else:
            slowest = max(r.port_free or WITHIN_S for r in results)
            freed = f"port free within 1 s in {free_count}/{rounds} (max {slowest:.2f} s)"
            ok = free_count == rounds
        rows.append(Row(f"SIGKILL {mode}: port and workers", f"{freed}; orphaned workers {orphaned}",
                        verdict(ok and orphaned == 0), "targets: port free < 1 s, no worker alive 1 s after "
                        "its parent" if mode != "worker" else "targets: answering < 1 s, no orphan after stop"))
        rows.append(Row(f"SIGKILL {mode}: restart serving",
                        f"max {restarts[-1]:.2f} s, median {restarts[len(restarts) // 2]:.2f} s over {rounds}",
                        verdict(restarts[-1] < WITHIN_S),
                        "command start to first answer, same state and port; target < 1 s"))
    return rows
