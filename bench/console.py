"""How the benchmark talks to whoever runs it: progress on stderr (stdout is the report), and failures as messages."""

from __future__ import annotations

import sys


class BenchError(RuntimeError):
    """A measurement could not be taken; the message says why, for a person to read."""


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
