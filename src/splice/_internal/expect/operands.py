"""Shape checks of one operator's operand, shared by validate() (at load time) and match()
(which reports a bad operand as a mismatch instead of raising)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, Final

from splice._internal.expect.vocabulary import (
    OPERATORS,
    TYPE_NAMES,
    Loc,
    compile_regex,
    is_array,
    is_matcher,
    is_number,
    is_object,
    show,
    show_typed,
)
from splice._internal.jsonschemas import cached_validator
from splice._internal.regexes import RegexError

Problem = tuple[Loc, str, str | None]
"""(location relative to the matcher dict, message, hint)."""

# Names users bring from other tools (MongoDB, JSON Schema, Python); difflib alone would not
# connect `$in` with `$oneof`.
_OPERATOR_ALIASES: Final = {
    "$in": "$oneof",
    "$enum": "$oneof",
    "$exists": "$any",
    "$size": "$len",
    "$length": "$len",
    "$match": "$regex",
    "$pattern": "$regex",
    "$all": "$each",
    "$neq": "$ne",
    "$equals": "$eq",
    "$ge": "$gte",
    "$le": "$lte",
}
_TYPE_ALIASES: Final = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "none": "null",
    "nil": "null",
    "list": "array",
    "dict": "object",
    "map": "object",
}
_NUMERIC: Final = frozenset({"$gt", "$gte", "$lt", "$lte", "$approx"})
_STRINGS: Final = frozenset({"$startswith", "$endswith"})


def did_you_mean(word: str, choices: list[str], aliases: Mapping[str, str]) -> str | None:
    """The closest valid choice for a misspelt `word`, if any."""
    alias = aliases.get(word.lower())
    if alias is not None:
        return alias
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_operator(op: str) -> Problem:
    """The problem for an operator splice does not know, with a did-you-mean hint."""
    valid = sorted(OPERATORS)
    guess = did_you_mean(op, valid, _OPERATOR_ALIASES)
    listing = "valid operators: " + ", ".join(valid)
    escape = f"a literal key starting with $ is written with $$, e.g. '${op}'"
    hint = f"did you mean {guess!r}? {listing}" if guess else f"{listing}; {escape}"
    return (op,), f"unknown operator {op!r}", hint


def operand_problems(op: str, operand: Any, matcher: Mapping[str, Any]) -> list[Problem]:
    """Problems with `matcher[op]` on its own, without looking into nested expectations.

    Locations are relative to `matcher`: ``("$regex",)`` or ``("$type", 1)``.
    """
    if op not in OPERATORS:
        return [unknown_operator(op)]
    problem = _problem_at((op,))
    if op == "$any" and operand is not True:
        hint = "to require that a key is absent, write '$absent: true'"
        return problem(f"$any needs true, got {show(operand)}", hint)
    if op == "$absent":
        if not isinstance(operand, bool):
            return problem(f"$absent needs true or false, got {show_typed(operand)}")
        if len(matcher) > 1:
            others = ", ".join(str(key) for key in matcher if key != "$absent")
            message = f"$absent cannot be combined with other operators ({others})"
            return problem(message, "an absent key has no value to check")
    if op == "$type":
        return _type_problems(operand)
    if op == "$regex":
        return _regex_problems(operand)
    if op == "$len" and not (_is_count(operand) or is_matcher(operand)):
        message = f"$len needs a non-negative integer or a matcher, got {show_typed(operand)}"
        return problem(message, "for example '$len: 3' or '$len: {$gte: 1}'")
    if op in _NUMERIC and not is_number(operand):
        hint = "only numbers compare with numbers; write 3 or 2.5 without quotes"
        return problem(f"{op} needs a number, got {show_typed(operand)}", hint)
    if op == "$tol":
        if not (is_number(operand) and operand >= 0):
            return problem(f"$tol needs a non-negative number, got {show_typed(operand)}")
        if "$approx" not in matcher:
            hint = "for example '{$approx: 3.14, $tol: 0.01}'"
            return problem("$tol is only used together with $approx", hint)
    if op == "$number" and not (is_number(operand) or is_matcher(operand)):
        hint = "for example '$number: 12.5' or '$number: {$gte: 10}'"
        return problem(f"$number needs a number or a matcher, got {show_typed(operand)}", hint)
    if op == "$schema":
        if isinstance(operand, str):
            hint = "a schema file is read when the suite loads, relative to the suite file"
            return problem(f"schema file {operand!r} was not read", hint)
        if not isinstance(operand, dict | bool):
            hint = "write it inline, `$schema: {type: object}`, or name a .json or .yaml file"
            return problem(
                f"$schema needs a JSON Schema or a file, got {show_typed(operand)}", hint
            )
        try:
            cached_validator(operand)
        except ValueError as exc:
            return problem(str(exc), "the schema must be valid JSON Schema (draft 2020-12)")
    if op in ("$xpath", "$css"):
        return _selector_problems(op, operand)
    if op == "$oneof" and not (is_array(operand) and operand):
        return problem(f"$oneof needs a non-empty list of values, got {show_typed(operand)}")
    if op == "$unordered" and not is_array(operand):
        return problem(f"$unordered needs a list, got {show_typed(operand)}")
    if op in _STRINGS and not isinstance(operand, str):
        return problem(f"{op} needs a string, got {show_typed(operand)}")
    return []


def _selector_problems(op: str, operand: Any) -> list[Problem]:
    from splice._internal.expect import markup

    example = "//h1" if op == "$xpath" else "h1.title"
    if not (is_object(operand) and operand):
        message = f"{op} needs a mapping of selectors to expectations, got {show_typed(operand)}"
        return [((op,), message, f"for example '{op}: {{{example}: [Hello]}}'")]
    compile_selector = markup.compiled_xpath if op == "$xpath" else markup.css_as_xpath
    for selector in operand:
        try:
            compile_selector(str(selector))
        except markup.SelectorError as exc:
            return [((op, selector), exc.message, exc.hint or None)]
    return []


def _problem_at(loc: Loc) -> Callable[..., list[Problem]]:
    def problem(message: str, hint: str | None = None) -> list[Problem]:
        return [(loc, message, hint)]

    return problem


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _type_problems(operand: Any) -> list[Problem]:
    if isinstance(operand, str):
        return _type_name_problem(operand, ("$type",))
    if not (is_array(operand) and operand):
        message = f"$type needs a type name or a list of them, got {show(operand)}"
        return _problem_at(("$type",))(message, "type names: " + ", ".join(TYPE_NAMES))
    problems: list[Problem] = []
    for index, name in enumerate(operand):
        if isinstance(name, str):
            problems.extend(_type_name_problem(name, ("$type", index)))
        else:
            problems.append(
                (("$type", index), f"a type name must be a string, got {show(name)}", None)
            )
    return problems


def _type_name_problem(name: str, loc: Loc) -> list[Problem]:
    if name in TYPE_NAMES:
        return []
    names = ", ".join(TYPE_NAMES)
    guess = did_you_mean(name, list(TYPE_NAMES), _TYPE_ALIASES)
    hint = f"did you mean {guess!r}? type names: {names}" if guess else f"type names: {names}"
    return [(loc, f"unknown type {name!r}", hint)]


def _regex_problems(operand: Any) -> list[Problem]:
    problem = _problem_at(("$regex",))
    if not isinstance(operand, str):
        hint = "quote the pattern in YAML, e.g. '^\\d+$'"
        return problem(f"$regex needs a string, got {show_typed(operand)}", hint)
    try:
        compile_regex(operand)
    except RegexError as exc:
        return problem(f"invalid regex {show(operand)}: {exc.detail}", exc.hint)
    return []
