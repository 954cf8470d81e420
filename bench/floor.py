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
import os
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import mix, wrk
from bench.measure import EXAMPLE, LoadPlan, Rig, measure
from bench.wrk import Load
from engagelab_kit.mock_server.answer import Answer

_OK = b'{"code":0,"message":"success"}'
_ANSWER = Answer(200, [("Content-Type", "application/json")], _OK)
_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


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


def _commands() -> dict[str, Callable[[int], list[str]]]:
    return {
        "Granian RSGI, constant answer": lambda port: [
            str(_BIN / "granian"), "--interface", "rsgi", "--factory", "--http", "1", "--no-ws", "--loop", "uvloop",
            "--log-level", "warning", "--port", str(port), "bench.floor:rsgi_app"],
        "h1 layer, constant answer": partial(command, sys.executable),
        "the mock (engagelab-mock serve)": lambda port: [str(_BIN / "engagelab-mock"), "serve", "--port", str(port)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve-h1", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_h1:
        _serve_h1(args.serve_h1)
        return 0
    best: dict[str, Load] = {}
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "example_data.lua"
        data.write_text(mix.lua_data(example_only=True))
        plan = LoadPlan(threads=2, connections=32, warmup_s=1, seconds=args.seconds, starts=1)
        rig = Rig(plan, wrk.ensure_wrk(), {EXAMPLE: data}, ROOT, dict(os.environ))
        for _ in range(args.rounds):
            for name, start in _commands().items():
                load = measure(rig, name, start, workloads=(EXAMPLE,)).runs[EXAMPLE].load
                if name not in best or load.rps > best[name].rps:
                    best[name] = load
    average = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"wrk -t2 -c32 -d{args.seconds}s, the page example, best of {args.rounds} rounds; load average {average}")
    print(f"{'server':36s} {'req/s':>9s} {'p99 ms':>9s}")
    for name, load in best.items():
        print(f"{name:36s} {load.rps:9.0f} {load.p99_ms:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
