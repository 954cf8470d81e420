"""Drift over time: compare with a previous report, accept known drift through a profile."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

NEW, GONE, UNCHANGED, ACCEPTED = "new", "gone", "unchanged", "accepted"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict) or "drift_groups" not in data:
        raise ValueError(f"{path} is not a drift-report.json")
    return data


def mark(data: dict[str, Any], previous: Mapping[str, Any] | None, accepted: Iterable[str] = ()) -> dict[str, Any]:
    """Mark each drift group new / unchanged (against `previous`) or accepted (by the profile);
    list the groups of `previous` that are gone."""
    before = {g["key"]: g for g in previous["drift_groups"]} if previous is not None else {}
    allowed = set(accepted)
    now = set()
    for group in data["drift_groups"]:
        now.add(group["key"])
        if group["key"] in allowed:
            group["status"] = ACCEPTED
        elif previous is not None:
            group["status"] = UNCHANGED if group["key"] in before else NEW
    data["gone"] = [{**g, "status": GONE} for key, g in before.items() if key not in now]
    return data


def failing(data: Mapping[str, Any], fail_on: str) -> bool:
    """Whether the drift fails the run: any group not accepted, or (fail_on 'new') only new ones."""
    live = [g for g in data["drift_groups"] if g.get("status") != ACCEPTED]
    if fail_on == "new":
        return any(g.get("status", NEW) == NEW for g in live)
    return bool(live)


def profile_text(data: Mapping[str, Any], name: str = "accepted") -> str:
    """A target profile (TOML) accepting every drift group of this report."""
    keys = [g["key"] for g in data["drift_groups"]]
    lines = [f'name = "{name}"', "# Drift groups accepted as known differences of this target.", "accepted = ["]
    lines += [f"  {json.dumps(k)}," for k in keys]
    lines.append("]")
    return "\n".join(lines) + "\n"
