"""The contract kit's single source of truth for ``POST /v1/user/contact``.

The JSON Schemas and the error-code table ship as package data; this package
only loads them. The mock and the contract suite both read this data, and
each interprets it with its own code, so a bug in one is caught by the other.
"""

from engagelab_kit.spec.model import CodeEntry, Limits, Rule, Spec, load, load_json

__all__ = ["CodeEntry", "Limits", "Rule", "Spec", "load", "load_json"]
