"""``python -m reliability [--quick] [--only a,b]``: run the checks and print one table."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from engagelab_kit.mock_server import Settings
from reliability.fuzz import fuzz_http, fuzz_rules
from reliability.kills import kills
from reliability.memory import memory, memory_rules
from reliability.report import FAIL, Row, table
from reliability.secrets import dump_channels, jsonable, scan_dir
from reliability.server import Server
from reliability.stalls import stalled_clients
from reliability.writers import concurrent_writers

OUT = Path(__file__).resolve().parent.parent / "build" / "reliability"


def _fuzz_http(count: int, seed: int, out: Path) -> list[Row]:
    with Server(log_dir=out) as server:
        return fuzz_http(count, seed, server)


def checks(quick: bool, seed: int, out: Path) -> dict[str, Callable[[], list[Row]]]:
    small_caps = ("--max-state-bytes", "1048576", "--journal-max-bytes", "262144", "--journal-size", "1000")
    small_settings = Settings(max_state_bytes=1 << 20, journal_max_bytes=1 << 18, journal_size=1000)
    return {
        "fuzz-rules": lambda: fuzz_rules(3_000 if quick else 100_000, seed),
        "fuzz-http": lambda: _fuzz_http(1_000 if quick else 100_000, seed + 1, out),
        "writers": lambda: concurrent_writers(4 if quick else 8, 50 if quick else 2_000, out),
        "kills": lambda: kills(1 if quick else 8, seed, out),
        "stalls": lambda: stalled_clients((2,) if quick else (2, 16, 64), 2 if quick else 100, out,
                                          1.0 if quick else None),
        "memory": lambda: memory(20_000, seed, out, *small_caps) if quick else memory(1_000_000, seed, out),
        "memory-rules": lambda: (memory_rules(10_000, seed, small_settings) if quick
                                 else memory_rules(300_000, seed)),
        "secrets": lambda: _secrets(out),
    }


def _secrets(out: Path) -> list[Row]:
    dump_channels(out)
    return scan_dir(out, [])


def run(quick: bool, only: list[str] | None, seed: int, out: Path = OUT) -> list[Row]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows: list[Row] = []
    for name, check in checks(quick, seed, out).items():
        if only and name not in only:
            continue
        started = time.monotonic()
        try:
            found = check()
        except Exception as exc:
            traceback.print_exc()
            found = [Row(name, f"did not complete: {type(exc).__name__}: {exc}"[:200], FAIL)]
        print(f"[{name}: {time.monotonic() - started:.1f} s]", file=sys.stderr, flush=True)
        rows.extend(found)
    (out / "results.json").write_text(jsonable(rows))
    (out / "table.md").write_text(table(rows))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the bounded short version (seconds, not minutes)")
    parser.add_argument("--only", help="comma-separated: fuzz-rules, fuzz-http, writers, kills, stalls, memory, "
                                       "memory-rules, secrets")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    rows = run(args.quick, args.only.split(",") if args.only else None, args.seed)
    print(table(rows))
    print(f"(outputs and results in {OUT})")
    return 1 if any(r.verdict == FAIL for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
