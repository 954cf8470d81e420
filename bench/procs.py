"""Server processes under measurement: start, time to the first good answer, memory, stop by PID."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.console import BenchError
from engagelab_kit.mock_server.served_mock import terminate


@dataclass(frozen=True)
class Probe:
    """The request whose answer (HTTP 200, code 0) proves a server ready."""

    path: str
    headers: dict[str, str]
    body: bytes

    def head(self, host: str = "bench") -> bytes:
        """The request's head as it goes on the wire (POST, its headers, the body's length)."""
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in self.headers.items()),
                 f"Content-Length: {len(self.body)}", "", ""]
        return "\r\n".join(lines).encode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent PID, start time in clock ticks) from /proc, or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields proper start after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _descendants(root: int) -> list[tuple[int, int]]:
    """(PID, start time) of every live descendant of ``root``."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            info = _stat(int(entry.name))
            if info is not None:
                parents.setdefault(info[0], []).append((int(entry.name), info[1]))
    found: list[tuple[int, int]] = []
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process and of the children it has reaped (the mock's fold child, forked
    and reaped every second, is in no list of live descendants), in clock ticks (0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = text[text.rindex(")") + 2:].split()
    return sum(map(int, fields[11:15]))


def kib_field(text: str, field: str) -> int:
    """The ``field:  N kB`` line of a /proc status or smaps_rollup text, in KiB (0 when absent).

    Only the exact field: ``Pss`` is not ``Pss_Anon``, ``Pss_File`` or ``Pss_Dirty``.
    """
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            return int(rest.split()[0])
    return 0


def _status_kib(pid: int, file: str, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/{file}").read_text()
    except OSError:
        return 0  # gone, or not ours to read
    return kib_field(text, field)


class ServerProcess:
    """One server started with Popen; every process it spawned is accounted for and stopped by PID."""

    def __init__(self, name: str, command: Sequence[str], port: int, cwd: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.command = list(command)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = tempfile.NamedTemporaryFile(prefix=f"bench-{name.replace(' ', '-')}-", suffix=".log")  # noqa: SIM115
        self.started = time.perf_counter()
        # A session of its own: a Ctrl-C on the benchmark reaches only the benchmark, whose
        # finally blocks then stop the servers in order.
        self.proc = subprocess.Popen(
            self.command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._children: list[tuple[int, int]] = []

    def log_tail(self, lines: int = 15) -> str:
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, probe: Probe, timeout: float = 60.0) -> float:
        """Seconds from Popen to the first HTTP 200 with code 0, polling as fast as refusals come back."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode} before answering:\n{self.log_tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("POST", probe.path, probe.body, probe.headers)
                reply = conn.getresponse()
                body = reply.read()
                if reply.status == 200 and json.loads(body).get("code") == 0:
                    elapsed = time.perf_counter() - self.started
                    self._children = _descendants(self.proc.pid)
                    return elapsed
            except (OSError, http.client.HTTPException, ValueError, AttributeError):
                pass
            finally:
                conn.close()
            time.sleep(0.001)
        raise BenchError(f"{self.name} did not answer the example request within {timeout:.0f} s:\n{self.log_tail()}")

    def memory_mb(self) -> tuple[float, float]:
        """(RSS, PSS) in MB (10**6 bytes), summed over the server and all its descendants.

        RSS counts pages shared between a forking server and its workers twice;
        PSS splits them, so both are kept.
        """
        self._children = _descendants(self.proc.pid)
        pids = [self.proc.pid, *(pid for pid, _ in self._children)]
        rss = sum(_status_kib(pid, "status", "VmRSS") for pid in pids)
        pss = sum(_status_kib(pid, "smaps_rollup", "Pss") for pid in pids)
        return round(rss * 1024 / 1e6, 1), round(pss * 1024 / 1e6, 1)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and every live descendant."""
        self._children = _descendants(self.proc.pid)
        pids = [self.proc.pid, *(pid for pid, _ in self._children)]
        return sum(_cpu_ticks(pid) for pid in pids) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self._children = _descendants(self.proc.pid) or self._children
        terminate(self.proc)
        for pid, started in self._children:
            # A worker that outlived its parent; the start time guards against a recycled PID.
            info = _stat(pid)
            if info is not None and info[1] == started:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._log.close()


@contextmanager
def serving(name: str, command: Callable[[int], Sequence[str]], cwd: Path,
            env: Mapping[str, str]) -> Iterator[ServerProcess]:
    """A server on a free loopback port (``command`` gets the port), stopped whatever happens."""
    port = free_port()
    server = ServerProcess(name, command(port), port, cwd, env)
    try:
        yield server
    finally:
        server.stop()
