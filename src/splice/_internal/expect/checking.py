"""validate(): find mistakes in an expectation when a suite is loaded, before anything runs.

Problems come with their location inside the expectation, a tuple of keys and indexes, so
the loader can point at the YAML line and column of the offending key.
"""

from __future__ import annotations

from typing import Any, Final

from splice._internal.expect.operands import Problem, operand_problems
from splice._internal.expect.vocabulary import (
    Loc,
    is_array,
    is_matcher,
    is_object,
    is_operator_key,
    render_loc,
)

# Operators whose operand is itself an expectation (matched against the same or a nested
# value), so it is checked recursively; `$eq` and `$ne` take literal values and are not.
_NESTED: Final = frozenset({"$not", "$each", "$strict", "$contains", "$not_contains"})
_NESTED_LISTS: Final = frozenset({"$oneof", "$unordered"})


def validate(expected: Any, path: str = "") -> list[Problem]:
    """Check an expectation without an actual value; return (location, message, hint) triples.

    The location is the path of keys and indexes inside `expected` down to the offending key
    or item, e.g. ``("items", 0, "$regx")``. `path` names the root in messages (``"json"``),
    which end with where the problem is, e.g. ``unknown operator '$regx' in json.items[0]``.
    Never raises, whatever `expected` holds.
    """
    found: list[Problem] = []
    # The root is usually the value of a key in the caller's own block (`json:`), so `$absent`
    # is allowed there.
    _walk(expected, (), found, key_value=True)
    located: list[Problem] = []
    for loc, message, hint in found:
        where = render_loc(path, loc[:-1])
        located.append((loc, f"{message} in {where}" if where else message, hint))
    return located


def _walk(value: Any, loc: Loc, found: list[Problem], *, key_value: bool) -> None:
    if is_array(value):
        for index, item in enumerate(value):
            _walk(item, (*loc, index), found, key_value=False)
        return
    if not is_object(value):
        return
    operators = [key for key in value if is_operator_key(key)]
    if not operators:
        for key, item in value.items():
            _walk(item, (*loc, key), found, key_value=True)
        return
    if len(operators) != len(value):
        _mixed(value, operators, loc, found)
        return
    for op, operand in value.items():
        problems = operand_problems(op, operand, value)
        found.extend(((*loc, *where), message, hint) for where, message, hint in problems)
        if op == "$absent" and not key_value:
            found.append(
                (
                    (*loc, op),
                    "$absent only applies to the value of an object key",
                    "write it as 'key: {$absent: true}' in the object that must lack the key",
                )
            )
        if problems:
            continue
        if op in _NESTED or (op in ("$len", "$number") and is_matcher(operand)):
            _walk(operand, (*loc, op), found, key_value=False)
        elif op in ("$xpath", "$css"):
            for selector, item in operand.items():
                _walk(item, (*loc, op, selector), found, key_value=False)
        elif op in _NESTED_LISTS:
            for index, item in enumerate(operand):
                _walk(item, (*loc, op, index), found, key_value=False)


def _mixed(value: Any, operators: list[Any], loc: Loc, found: list[Problem]) -> None:
    keys = [key for key in value if not is_operator_key(key)]
    first = operators[0]
    found.append(
        (
            (*loc, first),
            f"operator {first!r} cannot share an object with plain keys "
            f"({', '.join(repr(key) for key in keys[:3])})",
            f"put the operators in the value of one key, or write a literal key as '${first}'",
        )
    )
    # The plain keys are still expectations; report their problems too.
    for key in keys:
        _walk(value[key], (*loc, key), found, key_value=True)
