"""The suite against an independent, faithful stdlib implementation of contact-api.md (zero drift
allowed: every drift there is a false alarm) and a sample of its one-rule deviants (each must be
caught). `python tests/contract/power.py` runs the full set and prints the power figure."""

from __future__ import annotations

import pytest
from faithful_deviants import DEVIANTS
from power import faithful_variants, run_against

SAMPLE = DEVIANTS[::20]  # a spread over every section; power.py runs them all


@pytest.mark.parametrize("label", [label for label, _ in faithful_variants()])
def test_no_false_alarm_on_the_faithful_implementation(label: str) -> None:
    api = dict(faithful_variants())[label]
    result = run_against(api, label)
    assert result.drifts == []
    assert result.requests > 700


def test_enough_deviants_covering_every_part_of_the_contract() -> None:
    assert len(DEVIANTS) >= 100
    assert len({d.name for d in DEVIANTS}) == len(DEVIANTS)
    sections = {d.section.split("/")[0] for d in DEVIANTS}
    for part in (
        "route",
        "cors",
        "auth.header",
        "auth.status_hidden",
        "auth.no_echo",
        "body.json",
        "entry.order",
        "contacts.type",
        "euid.invalid",
        "response.shape",
        "response.status",
        "success",
    ):
        assert part in sections, part


@pytest.mark.parametrize("deviant", SAMPLE, ids=[d.name for d in SAMPLE])
def test_sampled_deviant_is_caught(deviant: object) -> None:
    from faithful_deviants import Deviant

    assert isinstance(deviant, Deviant)
    assert run_against(deviant.build(), deviant.name).drifts, f"{deviant.name} went unnoticed"
