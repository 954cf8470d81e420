"""The suite's power against the stdlib deviants: `python tests/contract/power.py [--sample N]`.

Runs the suite as a team would against a live target (credentials from the environment,
``--allow-writes --euid N``) once against each faithful variant (every drift there is a
false alarm) and once against each one-rule deviant (caught when any drift is reported).
Prints one line per deviant and the power figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from faithful import Faithful, environment, serve
from faithful_deviants import DEVIANTS, Deviant

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import ContractRun, RunConfig

EUID = 4242
SEED = 20261129


@dataclass
class Result:
    name: str
    drifts: list[str]
    seconds: float
    requests: int


def run_against(api: Faithful, name: str, seed: int = SEED) -> Result:
    with serve(api) as url:
        started = time.perf_counter()
        config = RunConfig(target=url, allow_writes=True, euid=EUID, seed=seed).with_defaults(environment())
        run: ContractRun = contract_tests.run(config)
        seconds = time.perf_counter() - started
    return Result(name, [o.case_id for o in run.drifted], seconds, run.session.sent)


def faithful_variants() -> list[tuple[str, Faithful]]:
    endpoint, not_found = Faithful(), Faithful()
    not_found.decode_percent = False
    return [("faithful (percent paths = endpoint)", endpoint), ("faithful (percent paths = 404)", not_found)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=0, help="only every N-th deviant")
    parser.add_argument("--quiet", action="store_true", help="print only the misses and the figure")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="only this deviant (repeatable)")
    args = parser.parse_args(argv)
    false_alarms = 0
    for label, api in faithful_variants():
        result = run_against(api, label)
        false_alarms += len(result.drifts)
        print(
            f"{label}: {len(result.drifts)} drifts in {result.seconds:.1f} s, {result.requests} requests "
            f"{result.drifts[:5]}"
        )
    chosen: list[Deviant] = DEVIANTS[:: args.sample] if args.sample else DEVIANTS
    if args.only:
        chosen = [d for d in chosen if d.name in args.only]
    missed: list[str] = []
    slowest = 0.0
    for deviant in chosen:
        result = run_against(deviant.build(), deviant.name)
        slowest = max(slowest, result.seconds)
        if not result.drifts:
            missed.append(deviant.name)
        if not args.quiet or not result.drifts:
            print(
                f"{'caught' if result.drifts else 'MISSED'} {deviant.name} ({deviant.section}): "
                f"{len(result.drifts)} drifts, {result.seconds:.1f} s"
            )
    caught = len(chosen) - len(missed)
    print(
        f"power: {caught}/{len(chosen)} deviants caught ({100 * caught / len(chosen):.1f} %); "
        f"false alarms: {false_alarms}; slowest run {slowest:.1f} s; missed: {', '.join(missed) or 'none'}"
    )
    return 0 if false_alarms == 0 and caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
