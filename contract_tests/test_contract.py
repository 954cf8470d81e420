"""The suite as pytest items: one per table case, one per hypothesis property."""

from __future__ import annotations

import pytest

from engagelab_kit.contract_tests.api import ContractRun
from engagelab_kit.contract_tests.case import Case
from engagelab_kit.contract_tests.properties import Property
from engagelab_kit.contract_tests.runner import NOT_CHECKED, Outcome


def _report(outcome: Outcome) -> None:
    """A pytest verdict for one outcome: skipped when not checked, the drift raised when found."""
    if outcome.verdict == NOT_CHECKED:
        pytest.skip(outcome.reason)
    if outcome.error is not None:
        # The drift's own text says all (expected, observed, curl); a traceback would only cost time.
        pytest.fail(str(outcome.error), pytrace=False)


def test_case(contract_case: Case, contract_run: ContractRun) -> None:
    _report(contract_run.run_case(contract_case))


def test_property(contract_property: Property, contract_run: ContractRun) -> None:
    _report(contract_run.run_property(contract_property))


def test_run_level(contract_run: ContractRun) -> None:
    """Comparisons across cases (wrong secrets for every known key answered alike); runs last."""
    for outcome in contract_run.finish():
        _report(outcome)
