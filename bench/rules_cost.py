"""What the mock's own Python costs per request, in process: ``answer(service, HttpRequest(...))``.

No HTTP, no server: the figure is what the rules, the state and the journal add on top of the
serving layer. Measured for the vendor page's example request (the same bytes again and again, as
wrk sends them), for each request kind of the mix (``bench/mix.py``), and the same with the SQLite
store the served mock uses for ``--state``/``--workers N`` (batched: one append to the process's
segment per ``--batch`` requests, as one event-loop turn writes once), and what folding those
segments into the SQLite tables then costs per request (done by the serving process, not a worker).

Figures are CPU time of this process, the best of rounds of 500. Every request is a fresh
``HttpRequest`` with fresh header strings and body bytes, as an adapter builds it; building it is
not timed. Run: ``.venv/bin/python bench/rules_cost.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mix
from engagelab_kit.mock_server.answer import answer
from engagelab_kit.mock_server.app import make_service
from engagelab_kit.mock_server.service import MockService
from engagelab_kit.mock_server.settings import Settings
from engagelab_kit.mock_server.store_sqlite import SqliteStore
from engagelab_kit.mock_server.wire import HttpRequest

BATCH = 500  # requests built, then timed, per round: short rounds, so that some run undisturbed


def _fresh(text: str) -> str:
    return (text + "_")[:-1]  # a new object, hash not yet computed, as a parser hands it over


def _request(headers: tuple[tuple[str, str], ...], body: bytes) -> HttpRequest:
    fields = {"host": "127.0.0.1:18080", "user-agent": "wrk", "content-length": str(len(body))}
    fields.update((_fresh(k.lower()), _fresh(v)) for k, v in headers)
    return HttpRequest("POST", mix.PATH, fields, bytes(bytearray(body)), "")


def _example() -> Iterator[HttpRequest]:
    body = mix.PROBE.body
    headers = tuple(mix.PROBE.headers.items())
    while True:
        yield _request(headers, body)


def _valid() -> Iterator[HttpRequest]:
    n = 0
    while True:
        yield _request(mix.GOOD_HEADERS, mix.valid(mix.EUID_BASE + n % mix.EUID_POOL).body)
        n += 1


def _kind(request: mix.Request) -> Iterator[HttpRequest]:
    while True:
        yield _request(request.headers, request.body)


def _mixed() -> Iterator[HttpRequest]:
    valid, errors = _valid(), [_kind(e) for e in mix.errors()]
    while True:
        for kind in mix.schedule():
            yield next(valid) if kind == 0 else next(errors[kind - 1])


def cost_us(service: MockService, source: Iterator[HttpRequest], total: int, batch_commit: int) -> float:
    """CPU microseconds per request (this process's CPU time, so time spent descheduled by other load
    does not count): the best round's."""
    store = service.store
    flush: Callable[[], None] | None = store.flush if isinstance(store, SqliteStore) else None
    rounds = []
    for _ in range(max(1, total // BATCH)):
        requests = [next(source) for _ in range(BATCH)]
        started = time.process_time()
        if flush is None:
            for request in requests:
                answer(service, request)
        else:
            for i, request in enumerate(requests, 1):
                answer(service, request)
                if i % batch_commit == 0:
                    flush()
            flush()
        rounds.append((time.process_time() - started) / BATCH * 1e6)
    return min(rounds)


def fold_us(service: MockService, source: Iterator[HttpRequest], total: int, batch_commit: int) -> float:
    """CPU microseconds per request to fold what ``total`` requests wrote into the tables: the best
    of three folds (each of ``total`` requests, the rounds of ``cost_us`` a fold would take at once)."""
    store = service.store
    assert isinstance(store, SqliteStore)
    rounds = []
    for _ in range(3):
        for i in range(1, total + 1):
            answer(service, next(source))
            if i % batch_commit == 0:
                store.flush()
        store.flush()
        started = time.process_time()
        store.fold()
        rounds.append((time.process_time() - started) / total * 1e6)
    return min(rounds)


def _report(label: str, service: MockService, total: int, batch_commit: int) -> None:
    print(f"{label}:")
    print(f"  {'page example':<24}{cost_us(service, _example(), total, batch_commit):8.2f} us/request")
    print(f"  {'mix (80% valid)':<24}{cost_us(service, _mixed(), total, batch_commit):8.2f} us/request")
    print(f"  {'valid write':<24}{cost_us(service, _valid(), total, batch_commit):8.2f} us/request")
    for request in mix.errors():
        figure = cost_us(service, _kind(request), total, batch_commit)
        print(f"  {request.name:<24}{figure:8.2f} us/request  ({request.code})")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40_000, help="requests per figure (default 40000)")
    parser.add_argument("--batch", type=int, default=32, help="requests per SQLite queue write (default 32)")
    parser.add_argument("--quick", action="store_true", help="8000 requests per figure")
    parser.add_argument("--no-sqlite", action="store_true", help="only the in-memory store")
    args = parser.parse_args(argv)
    total = 8_000 if args.quick else args.requests
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}; "
          f"{total} requests per figure, best round of {BATCH}")
    _report("in-memory store (the default)", make_service(), total, args.batch)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteStore(str(Path(tmp) / "state.db"), batched=True)
            try:
                service = make_service(Settings(), store)
                _report(f"SQLite store, batched, written every {args.batch}", service, total, args.batch)
                print(f"  {'fold, page example':<24}{fold_us(service, _example(), total, args.batch):8.2f} us/request"
                      "  (serving process)")
                print(f"  {'fold, mix':<24}{fold_us(service, _mixed(), total, args.batch):8.2f} us/request")
            finally:
                store.close()
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
