"""Property-based contract tests for EngageLab's POST /v1/user/contact.

Run ``pytest contract_tests`` (in-process mock) or ``engagelab-contract
--target URL``; use :func:`run` to drive it from Python.
"""

from engagelab_kit.contract_tests.api import ContractRun, plan, run
from engagelab_kit.contract_tests.checks import REGISTRY as CHECKS
from engagelab_kit.contract_tests.config import Credentials, Profile, RunConfig, TargetKind
from engagelab_kit.contract_tests.drift import (
    CodeDrift,
    ConfigError,
    ContractDrift,
    IdempotencyDrift,
    IntermittentDrift,
    MessageDrift,
    ShapeDrift,
    StatusDrift,
)
from engagelab_kit.contract_tests.runner import Outcome

__all__ = [
    "CHECKS",
    "CodeDrift",
    "ConfigError",
    "ContractDrift",
    "ContractRun",
    "Credentials",
    "IdempotencyDrift",
    "IntermittentDrift",
    "MessageDrift",
    "Outcome",
    "Profile",
    "RunConfig",
    "ShapeDrift",
    "StatusDrift",
    "TargetKind",
    "plan",
    "run",
]
