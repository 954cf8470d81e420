"""The suite's power: every deliberately drifted target is caught, the faithful mock is not."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from deviants import DEVIANTS, Deviant

from engagelab_kit import contract_tests
from engagelab_kit.contract_tests import ContractRun, RunConfig
from engagelab_kit.mock_server import create_app


def run_suite(app: Any, select: tuple[str, ...] = ("*",), **options: Any) -> ContractRun:
    config = RunConfig(seed=20240601, max_examples=8, **options).with_defaults({})
    return contract_tests.run(config, app=app, select=select)


def test_faithful_mock_has_no_drift() -> None:
    result = run_suite(create_app())
    assert [o.case_id for o in result.drifted] == []
    assert len(result.outcomes) > 500
    assert all(o.verdict == "conform" for o in result.outcomes)


def test_slow_answers_are_notes_not_drift() -> None:
    slow = next(d for d in DEVIANTS if d.name == "latency-on-success")
    result = run_suite(slow.build(create_app()), slow.select, **slow.options)
    assert not result.drifted
    assert any("over --max-latency" in note for o in result.outcomes for note in o.notes)


CAUGHT = [d for d in DEVIANTS if d.name != "latency-on-success"]


@pytest.mark.parametrize("deviant", CAUGHT, ids=[d.name for d in CAUGHT])
def test_deviant_is_caught(deviant: Deviant) -> None:
    result = run_suite(deviant.build(create_app()), deviant.select, **deviant.options)
    drifted = [o.case_id for o in result.drifted]
    assert drifted, f"{deviant.name} went unnoticed"
    assert any(fnmatch.fnmatchcase(c, deviant.expect) for c in drifted), (deviant.expect, drifted[:10])
    if deviant.kind is not None:
        kinds = {d["kind"] for o in result.drifted for d in o.drifts}
        assert deviant.kind in kinds, kinds
    for outcome in result.drifted:
        assert outcome.curl.startswith("curl ")
        assert "5e987ac6d2e04d95a9d8f0d1" not in outcome.curl
