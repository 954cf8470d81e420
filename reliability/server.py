"""The served mock as a black box: started through its CLI, URL from the banner, stopped by PID."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from types import TracebackType

from engagelab_kit import spec
from engagelab_kit.mock_server.auth import basic_header
from engagelab_kit.mock_server.served_mock import terminate

ROOT = Path(__file__).resolve().parent.parent
_EXAMPLE = spec.load().example
API_KEY: str = _EXAMPLE["api_key"]
API_SECRET: str = _EXAMPLE["api_secret"]
AUTH = basic_header(API_KEY, API_SECRET)
# A control token for these runs only; the secret scan looks for it in every output.
CONTROL_TOKEN = f"reliability-token-{os.getpid()}-{time.time_ns() % 10**9}"
_URL = re.compile(rb"serving on (http://\S+)")


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid``, from /proc (Linux)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Server:
    """``engagelab-mock serve --port 0 ARGS`` with its output kept in files for the secret scan."""

    def __init__(self, *args: str, token: bool = True, env: dict[str, str] | None = None,
                 port: int = 0, log_dir: Path | None = None) -> None:
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="reliability-"))
        self.stdout_path = self.log_dir / f"server-{time.time_ns()}.out"
        self.stderr_path = self.stdout_path.with_suffix(".err")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGELAB_MOCK_")}
        if token:
            environ["ENGAGELAB_MOCK_CONTROL_TOKEN"] = CONTROL_TOKEN
        environ.update(env or {})
        self.token = environ.get("ENGAGELAB_MOCK_CONTROL_TOKEN")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engagelab_kit.mock_server.cli", "serve", "--port", str(port), *args],
                stdout=out, stderr=err, cwd=ROOT, env=environ,
            )
        self.pid = self.proc.pid
        self.url = self._wait_for_url()
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.known_pids = [self.pid]
        self._wait_ready()
        self.known_pids = [self.pid, *children(self.pid)]

    def __enter__(self) -> Server:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _wait_for_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            first = self.stdout_path.read_bytes().split(b"\n", 1)[0]
            match = _URL.search(first)
            if match:
                return match.group(1).decode()
            if self.proc.poll() is not None:
                raise RuntimeError(f"mock exited early: {self.stderr_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("mock did not print its URL")

    def _wait_ready(self, timeout: float = 30) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                conn.request("GET", "/__mock/health", headers=self.control_headers())
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mock not answering")

    def control_headers(self) -> dict[str, str]:
        return {"X-Mock-Token": self.token} if self.token else {}

    def pids(self) -> list[int]:
        """The server and its workers, as they are now."""
        return [self.pid, *children(self.pid)] if alive(self.pid) else [p for p in self.known_pids if alive(p)]

    def workers(self) -> list[int]:
        return children(self.pid)

    def output(self) -> bytes:
        return self.stdout_path.read_bytes() + self.stderr_path.read_bytes()

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; also any worker left behind (by PID, all started by us)."""
        leftovers = [p for p in {*self.known_pids, *children(self.pid)} if p != self.pid]
        terminate(self.proc)
        for pid in leftovers:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return self.proc.returncode
