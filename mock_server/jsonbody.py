"""Step 3 of the contract: the body must be a UTF-8 RFC 8259 JSON object.

Python's ``json`` module is laxer than RFC 8259 in three ways that matter
here (NaN/Infinity, escaped lone surrogates, unbounded integer literals) and
stricter in none, so the gaps are closed around it rather than by a parser of
our own.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from typing import Any

from engagelab_kit.mock_server.exceptions import ApiError


class HugeInt:
    """An integer literal too long to be any valid value; stands in for it unparsed.

    Python refuses to convert integer strings over 4300 digits, and no field
    here takes more than 19, so longer literals are never converted.
    """

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _parse_int(literal: str) -> int | HugeInt:
    return int(literal) if len(literal) <= 20 else HugeInt(literal)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_reject_constant)
# Every pair as a flat list, duplicates included: the text rules hold for the whole body, a value
# that a later duplicate key overrides too (contact-api.md).
_ALL_PAIRS = json.JSONDecoder(
    parse_int=_parse_int,
    parse_constant=_reject_constant,
    object_pairs_hook=lambda items: [x for pair in items for x in pair],
)
# Only bodies whose text contains an escape of a surrogate can hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")



def is_json_content_type(value: str | None) -> bool:
    """application/json, with any parameters, but no charset other than UTF-8."""
    if not value:
        return False
    media_type, _, params = value.partition(";")
    if media_type.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        # Only the registered name: contact-api.md refuses any charset "but UTF-8".
        if name.strip().lower() == "charset" and param_value.strip().strip('"').lower() != "utf-8":
            return False
    return True


def _check_tree(value: Any, depth: int, max_depth: int, surrogates: bool) -> None:
    if isinstance(value, str):
        if surrogates and _SURROGATE.search(value):
            raise ApiError(55004, "JSON string holds a lone surrogate")
        return
    if isinstance(value, dict):
        children: Iterable[Any] = itertools.chain(value.keys(), value.values())
    elif isinstance(value, list):
        children = value
    else:
        return
    if depth > max_depth:
        raise ApiError(55004, f"JSON nested deeper than {max_depth} levels")
    for child in children:
        _check_tree(child, depth + 1, max_depth, surrogates)


def parse_object(body: bytes, max_depth: int) -> dict[str, Any]:
    """The body as a JSON object, or ApiError 55004 saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(55004, "body is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise ApiError(55004, "body starts with a byte-order mark")
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        raise ApiError(55004, "body is not valid JSON") from None
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    # A text with no more brackets than the limit cannot nest deeper than it: skip the walk.
    if surrogates or text.count("{") + text.count("[") > max_depth:
        _check_tree(_ALL_PAIRS.decode(text), 1, max_depth, surrogates)
    if not isinstance(value, dict):
        raise ApiError(55004, "body is not a JSON object")
    return value
