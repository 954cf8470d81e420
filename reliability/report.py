"""One row per figure, printed as a Markdown table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PASS, FAIL, SEEN = "pass", "FAIL", "seen"  # SEEN: a measurement reported, not judged here


@dataclass(frozen=True)
class Row:
    check: str
    figure: str
    verdict: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def table(rows: list[Row]) -> str:
    lines = ["| check | figure | verdict | detail |", "|---|---|---|---|"]
    for row in rows:
        cells = [row.check, row.figure, row.verdict, row.detail]
        lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"
