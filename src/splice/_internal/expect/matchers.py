"""match(): compare an actual value with an expectation; see `expect` for the rules.

The walk is a plain recursion over the expectation. Objects and arrays are handled here;
every `$operator` lives in `operators`, and operand shapes are checked by `operands`, so a
malformed expectation becomes a mismatch saying so rather than an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splice._internal.expect.operands import operand_problems
from splice._internal.expect.operators import OPERATIONS, Ctx, expected_got
from splice._internal.expect.vocabulary import (
    MISSING,
    Mismatch,
    is_array,
    is_matcher,
    is_object,
    is_operator_key,
    join_index,
    join_key,
    literal_key,
    lookup,
    show,
    show_typed,
    values_equal,
)
from splice._internal.words import count


def match(
    expected: Any, actual: Any, path: str = "", *, case_insensitive_keys: bool = False
) -> list[Mismatch]:
    """Compare `actual` with `expected`; return every mismatch, or [] when it matches.

    `path` names the root in messages (``"json"`` gives ``json.items[0].id``).
    `case_insensitive_keys` compares the keys of the top-level object without regard to case,
    as HTTP header names are. Never raises for an expectation that validate() accepts; an
    invalid one yields a mismatch starting with ``invalid expectation``.
    """
    return match_node(expected, actual, path, False, case_insensitive_keys)


def match_node(
    expected: Any, actual: Any, path: str, strict: bool, fold_keys: bool
) -> list[Mismatch]:
    """match() at one node: `strict` for inside `$strict`, `fold_keys` for this level's keys."""
    if is_object(expected) and any(is_operator_key(key) for key in expected):
        return _match_operators(expected, actual, path, strict, fold_keys)
    if actual is MISSING:
        return [Mismatch(path, f"expected {show(expected)}, got <missing>", expected, actual)]
    if is_object(expected):
        return _match_object(expected, actual, path, strict, fold_keys)
    if is_array(expected):
        return _match_array(expected, actual, path, strict)
    if values_equal(expected, actual):
        return []
    return [Mismatch(path, expected_got(expected, actual), expected, actual)]


def _match_object(
    expected: Mapping[Any, Any], actual: Any, path: str, strict: bool, fold_keys: bool
) -> list[Mismatch]:
    if not is_object(actual):
        return [Mismatch(path, f"expected an object, got {show_typed(actual)}", expected, actual)]
    mismatches: list[Mismatch] = []
    for raw_key, value in expected.items():
        key = literal_key(raw_key)
        here = join_key(path, key)
        found = lookup(actual, key, case_insensitive=fold_keys)
        # `$absent` speaks about the key itself, so the object decides it, naming the key.
        if is_matcher(value) and value.get("$absent") is True:
            if found is not MISSING:
                message = f"unexpected key {show(key)}, expected it to be absent"
                mismatches.append(Mismatch(here, message, value, found))
            continue
        if found is MISSING:
            mismatches.append(Mismatch(here, f"missing key {show(key)}", value, MISSING))
            continue
        mismatches.extend(match_node(value, found, here, strict, False))
    if strict:
        mismatches.extend(_unexpected_keys(expected, actual, path, fold_keys))
    return mismatches


def _unexpected_keys(
    expected: Mapping[Any, Any], actual: Mapping[Any, Any], path: str, fold_keys: bool
) -> list[Mismatch]:
    """Keys of `actual` that `expected` does not name (only `$strict` minds them)."""

    def fold(key: Any) -> Any:
        return key.lower() if fold_keys and isinstance(key, str) else key

    named = {fold(literal_key(key)) for key in expected}
    return [
        Mismatch(join_key(path, key), f"unexpected key {show(key)} (strict)", MISSING, value)
        for key, value in actual.items()
        if fold(key) not in named
    ]


def _match_array(expected: Any, actual: Any, path: str, strict: bool) -> list[Mismatch]:
    if not is_array(actual):
        return [Mismatch(path, f"expected an array, got {show_typed(actual)}", expected, actual)]
    if len(expected) != len(actual):
        # Element-wise messages after an insertion would all be noise; render_diff shows them.
        message = f"expected {count(len(expected), 'item')}, got {len(actual)}"
        return [Mismatch(path, message, expected, actual)]
    mismatches: list[Mismatch] = []
    for index, (item, found) in enumerate(zip(expected, actual, strict=True)):
        mismatches.extend(match_node(item, found, join_index(path, index), strict, False))
    return mismatches


def _match_operators(
    node: Mapping[Any, Any], actual: Any, path: str, strict: bool, fold_keys: bool
) -> list[Mismatch]:
    if not all(is_operator_key(key) for key in node):
        keys = ", ".join(str(key) for key in node)
        message = f"invalid expectation: operators mixed with keys ({keys})"
        return [Mismatch(path, message, node, actual)]
    if actual is MISSING:
        if node.get("$absent") is True:
            return []
        return [Mismatch(path, f"expected {show(node)}, got <missing>", node, actual)]
    ctx = Ctx(path, node, strict, fold_keys, match_node)
    for op, operand in node.items():
        problems = operand_problems(op, operand, node)
        if problems:
            message = f"invalid expectation: {problems[0][1]}"
            return [Mismatch(path, message, node, actual)]
        mismatches = OPERATIONS[op](operand, actual, ctx)
        # The first failing operator explains the value; the others would mostly repeat it
        # ($type string and $regex both failing on a number).
        if mismatches:
            return mismatches
    return []
