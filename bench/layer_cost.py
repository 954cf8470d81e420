"""What a served request costs a worker in process, the HTTP layer included, with no socket.

The vendor page's example request, as wrk sends it, is fed to ``h1.Connection.data_received``
with a transport that keeps nothing: the figure is a worker's own Python per request (parsing or
recognising the head, the rules, the state, the journal, framing the answer), without the kernel's
read and write. Three handlers: a constant answer (the layer alone, as ``bench/floor.py`` serves
it), the served dispatcher on the in-memory store (``make serve``), and on the shared SQLite store
(``--workers N``: a group commit per loop turn of ``--turn`` requests, the fold not included;
``bench/rules_cost.py`` prints that).

Figures are wall time per request, the best of ``--rounds`` rounds of ``--requests``; a loaded
machine makes them larger, never smaller. Run: ``.venv/bin/python bench/layer_cost.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mix
from engagelab_kit.mock_server.answer import Answer
from engagelab_kit.mock_server.app import serving_handler
from engagelab_kit.mock_server.h1 import Server
from engagelab_kit.mock_server.settings import Settings

_OK = Answer(200, [("Content-Type", "application/json")], b'{"code":0,"message":"success"}')


class _Sink(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False


async def _cost(handler: Any, commit: Any, requests: int, rounds: int, turn: int) -> float:
    server = Server(handler, 1 << 20, 10.0, commit)
    connections = []
    for _ in range(turn):
        conn = server.connection()
        conn.connection_made(_Sink())
        connections.append(conn)
    data = mix.PROBE.head("127.0.0.1:8080") + mix.PROBE.body
    best = float("inf")
    for _ in range(rounds + 1):  # the first round warms up: the head is learnt, the memos filled
        started = time.perf_counter()
        for _ in range(requests // turn):
            for conn in connections:
                conn.data_received(data)
            await asyncio.sleep(0)  # the loop turn: the group commit, if any
        best = min(best, (time.perf_counter() - started) / (requests // turn * turn))
    return best * 1e6


async def _main(args: argparse.Namespace) -> None:
    print(f"the page example through h1 in process, best of {args.rounds} x {args.requests}, "
          f"{args.turn} requests per loop turn")
    print(f"  {'layer alone (constant answer)':32s} "
          f"{await _cost(lambda request, conn: _OK, None, args.requests, args.rounds, args.turn):6.2f} µs")
    with tempfile.TemporaryDirectory() as scratch:
        for name, settings in (("served, in-memory store", Settings()),
                               ("served, shared SQLite store", replace(Settings(), state_file=f"{scratch}/s.db"))):
            dispatcher = serving_handler(settings, 4)
            try:
                cost = await _cost(dispatcher, dispatcher.commit, args.requests, args.rounds, args.turn)
            finally:
                dispatcher.shutdown()
                dispatcher.service.store.close()
            print(f"  {name:32s} {cost:6.2f} µs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turn", type=int, default=16, help="requests per loop turn (connections)")
    args = parser.parse_args(argv)
    try:
        import uvloop  # the loop the served mock runs on
    except ImportError:  # pragma: no cover - a platform without a uvloop wheel
        asyncio.run(_main(args))
    else:
        loop = uvloop.new_event_loop()
        try:
            loop.run_until_complete(_main(args))
        finally:
            loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
