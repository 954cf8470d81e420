"""``make bench``: throughput, latency, memory and start-up of the mock, against references.

Run ``.venv/bin/python bench/run.py --help`` for the options.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _main() -> int:
    # Run as a script, only bench/ is on sys.path; the modules are imported as the bench package.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.cli import main

    return main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(_main())
