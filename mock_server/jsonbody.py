"""Step 3 of the contract: the body must be a UTF-8 RFC 8259 JSON object.

Python's ``json`` module is laxer than RFC 8259 in three ways that matter
here (NaN/Infinity, escaped lone surrogates, unbounded integer literals) and
stricter in none, so the gaps are closed around it rather than by a parser of
our own (``parse_object``). ``parse_body`` tries orjson first, about ten times
faster, and keeps the strict path for every text orjson refuses.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import orjson

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

# The text rules hold for the whole body text, including a value that a later duplicate key
# overrides and that the parsed object no longer holds. So they are checked on the text, and only
# when the text could break them: both checks below cost nothing for an ordinary body.

# Only bodies whose text contains an escape of a surrogate can hold a lone one (UTF-8 decoding
# already refuses raw ones).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# Escapes, read left to right so that "\\ud800" (an escaped backslash, then text) is no escape of a
# surrogate: a valid pair, a lone surrogate (the group), or any other escape.
_ESCAPES = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})|\\."
)
# A JSON string, unrolled so that long strings cost one scan.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _has_lone_surrogate(text: str) -> bool:
    return any(match.group(1) for match in _ESCAPES.finditer(text))


def _depth(text: str) -> int:
    """How deep arrays and objects nest in valid JSON ``text``; brackets inside strings do not count."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def is_json_content_type(value: str | None) -> bool:
    """application/json, with any parameters, but no charset other than UTF-8."""
    if not value:
        return False
    media_type, _, params = value.partition(";")
    if media_type.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        # Only the registered name: docs/contract.md §3.2 refuses any charset "but UTF-8".
        if name.strip().lower() == "charset" and param_value.strip().strip('"').lower() != "utf-8":
            return False
    return True


def parse_object(body: bytes, max_depth: int) -> dict[str, Any]:
    """The body as a JSON object, or ApiError 55004 saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(55004, "body is not UTF-8", rule="body.utf8") from None
    if text.startswith("\ufeff"):
        raise ApiError(55004, "body starts with a byte-order mark", rule="body.utf8")
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        raise ApiError(55004, "body is not valid JSON", rule="body.json") from None
    if _SURROGATE_ESCAPE.search(text) is not None and _has_lone_surrogate(text):
        raise ApiError(55004, "JSON string holds a lone surrogate", rule="body.json")
    # A text with no more opening brackets than the limit cannot nest deeper than it.
    if text.count("{") + text.count("[") > max_depth and _depth(text) > max_depth:
        raise ApiError(55004, f"JSON nested deeper than {max_depth} levels", rule="body.json")
    if not isinstance(value, dict):
        raise ApiError(55004, "body is not a JSON object", rule="body.object")
    return value


def parse_body(body: bytes, max_depth: int) -> dict[str, Any]:
    """``parse_object`` for the business routes, orjson first; the same outcome for every rule.

    orjson refuses everything ``parse_object`` refuses (invalid UTF-8, a byte-order mark, raw
    control characters, NaN/Infinity, lone surrogates escaped or not, trailing data), so a text it
    refuses goes the strict way, which says why (or accepts it: ``1e400``). Where it accepts, it
    reads what ``json`` reads (duplicate keys: the last wins, in the first one's place), with one
    difference: an integer literal beyond 64 bits comes back as a float, where ``parse_object``
    gives an int or a ``HugeInt``. Every rule that reads a number takes only an int in
    1..2**63-1, so it refuses both with the same code and message (tests/test_memo.py compares
    the two on generated bodies). Nesting is counted on the text, as ``parse_object`` does.
    """
    if body.count(b"{") + body.count(b"[") <= max_depth:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        else:
            if type(value) is dict:
                return value
    return parse_object(body, max_depth)
