"""The serving layer's own cost: each candidate layer answering a constant body, under the same wrk load.

Why it exists: it is the measurement behind the choice of ``mock_server/h1.py``
over Granian. Every app here answers the vendor page's example request with
the success body and does nothing else, so the figures are each layer's
ceiling on this machine; the mock itself (``engagelab-mock serve``, every
behaviour on) is measured in the same rounds for comparison.

    .venv/bin/python -m bench.floor [--seconds 5] [--rounds 2]

Rounds interleave the servers, so a change in the machine's load hits them
all alike; the table shows each server's best round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.procs import free_port
from engagelab_kit import spec
from engagelab_kit.mock_server.answer import Answer
from engagelab_kit.mock_server.served_mock import terminate

_OK = b'{"code":0,"message":"success"}'
_ANSWER = Answer(200, [("Content-Type", "application/json")], _OK)
_BIN = Path(sys.executable).parent


class RsgiConstant:
    """Granian's RSGI interface: the body awaited, then the constant answer."""

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        await proto()
        proto.response_bytes(200, [("Content-Type", "application/json")], _OK)


def rsgi_app() -> RsgiConstant:
    return RsgiConstant()


def _serve_h1(port: int) -> None:
    """The mock's own layer with a handler that returns the constant answer."""
    import uvloop

    from engagelab_kit.mock_server.h1 import Server

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    server = Server(lambda request, conn: _ANSWER, 1 << 20, 10.0)
    loop.run_until_complete(loop.create_server(server.connection, "127.0.0.1", port))
    loop.run_forever()


def command(python: str, port: int) -> list[str]:
    """The serving floor as ``make bench`` runs it: the h1 layer answering the constant body on loopback."""
    return [python, "-m", "bench.floor", "--serve-h1", str(port)]


def _commands(port: int) -> dict[str, list[str]]:
    return {
        "Granian RSGI, constant answer": [
            str(_BIN / "granian"), "--interface", "rsgi", "--factory", "--http", "1", "--no-ws", "--loop", "uvloop",
            "--log-level", "warning", "--port", str(port), "bench.floor:rsgi_app"],
        "h1 layer, constant answer": command(sys.executable, port),
        "the mock (engagelab-mock serve)": [str(_BIN / "engagelab-mock"), "serve", "--port", str(port)],
    }


def _lua(directory: Path) -> Path:
    example = spec.load().example
    text = json.dumps(example["body"], separators=(",", ":"))
    script = directory / "example.lua"
    # A JSON string literal of ASCII text is also a valid Lua string literal.
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(text)}\n'
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["Authorization"] = {json.dumps(example["authorization"])}\n')
    return script


def _wait(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on port {port}")


def _load(lua: Path, port: int, seconds: int) -> tuple[float, str]:
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(lua),
               f"http://127.0.0.1:{port}/v1/user/contact"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p99


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve-h1", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_h1:
        _serve_h1(args.serve_h1)
        return 0
    best: dict[str, tuple[float, str]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        lua = _lua(Path(scratch))
        for _ in range(args.rounds):
            for name in _commands(0):
                port = free_port()
                command = _commands(port)[name]
                process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    _wait(port)
                    _load(lua, port, 1)  # warm-up
                    rps, p99 = _load(lua, port, args.seconds)
                finally:
                    terminate(process)
                if rps > best.get(name, (0.0, ""))[0]:
                    best[name] = (rps, p99)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"wrk -t2 -c32 -d{args.seconds}s, the page example, best of {args.rounds} rounds; load average {load}")
    print(f"{'server':36s} {'req/s':>9s} {'p99':>9s}")
    for name, (rps, p99) in best.items():
        print(f"{name:36s} {rps:9.0f} {p99:>9s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
