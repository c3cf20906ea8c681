"""What each `$operator` checks at match time.

Every function takes (operand, actual, ctx) and returns the mismatches, [] when it holds.
They recurse through `ctx.recurse` rather than importing `matchers`, which dispatches to them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from splice._internal.expect import markup
from splice._internal.expect.vocabulary import (
    DEFAULT_TOLERANCE,
    MISSING,
    Mismatch,
    compile_regex,
    has_type,
    is_array,
    is_matcher,
    is_number,
    is_object,
    join_index,
    join_key,
    lookup,
    same_kind,
    show,
    show_typed,
    values_equal,
)
from splice._internal.jsonschemas import cached_validator
from splice._internal.regexes import RegexTimeout
from splice._internal.words import count

_NUMERIC_TEXT: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

_SCHEMA_ERRORS: Final = 5  # of one `$schema`, reported

Recurse = Callable[[Any, Any, str, bool, bool], list[Mismatch]]
"""match's inner function: (expected, actual, path, strict, fold_keys) -> mismatches."""


@dataclass(frozen=True)
class Ctx:
    """Where an operator is evaluated and how nested expectations are matched."""

    path: str
    node: Mapping[str, Any]  # the whole matcher dict, reported as Mismatch.expected
    strict: bool
    fold_keys: bool  # case-insensitive keys; true only for the caller's top-level object
    recurse: Recurse

    def fail(self, message: str, actual: Any) -> list[Mismatch]:
        """One mismatch at this matcher's path."""
        return [Mismatch(self.path, message, self.node, actual)]

    def holds(self, expected: Any, actual: Any, *, top: bool = False) -> bool:
        """Whether `actual` matches the nested expectation; `top` keeps the key folding."""
        return not self.recurse(expected, actual, self.path, self.strict, top and self.fold_keys)


def expected_got(expected: Any, actual: Any) -> str:
    """``expected 201, got 404``; names the type when the kinds differ (``got string '201'``)."""
    got = show(actual) if same_kind(expected, actual) else show_typed(actual)
    return f"expected {show(expected)}, got {got}"


def _any(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    # Presence is checked by the enclosing object; a present key always satisfies $any.
    return []


def _absent(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    # Reached for a matcher that is not the value of an object key (the object handles those).
    if operand is True and actual is not MISSING:
        return ctx.fail(f"expected no value, got {show(actual)}", actual)
    return []


def _type(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    names = [operand] if isinstance(operand, str) else list(operand)
    if any(has_type(actual, name) for name in names):
        return []
    return ctx.fail(f"expected type {' or '.join(names)}, got {show_typed(actual)}", actual)


def _regex(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if not isinstance(actual, str):
        return ctx.fail(
            f"expected a string matching regex {show(operand)}, got {show_typed(actual)}", actual
        )
    try:
        found = compile_regex(operand).search(actual)
    except RegexTimeout as exc:
        return ctx.fail(f"{exc.message}; {exc.hint}", actual)
    if found is None:
        return ctx.fail(f"{show(actual)} does not match regex {show(operand)}", actual)
    return []


def _len(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if isinstance(actual, str | bytes):
        noun = None
    elif is_array(actual):
        noun = "item"
    elif is_object(actual):
        noun = "key"
    else:
        return ctx.fail(f"expected a string, array or object, got {show_typed(actual)}", actual)
    n = len(actual)
    if isinstance(operand, int):
        if n == operand:
            return []
        if noun is None:
            return ctx.fail(f"expected length {operand}, got {n}", actual)
        return ctx.fail(f"expected {count(operand, noun)}, got {n}", actual)
    # A matcher on the length, e.g. {$gte: 1}: report its own message about the number.
    inner = ctx.recurse(operand, n, ctx.path, False, False)
    return ctx.fail(f"length: {inner[0].message}", actual) if inner else []


def _contains(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    found = _find(operand, actual, ctx)
    if found is None:
        return ctx.fail(f"expected a string, array or object, got {show_typed(actual)}", actual)
    if found is not False:
        return []
    if isinstance(actual, str):
        return ctx.fail(f"expected a string containing {show(operand)}, got {show(actual)}", actual)
    if is_array(actual):
        what = f"an element matching {show(operand)}"
        return ctx.fail(f"expected an array with {what}, got {show(actual)}", actual)
    keys = show(list(actual))
    return ctx.fail(f"expected an object with key {show(operand)}, got keys {keys}", actual)


def _not_contains(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    found = _find(operand, actual, ctx)
    if found is None:
        return ctx.fail(f"expected a string, array or object, got {show_typed(actual)}", actual)
    if found is False:
        return []
    if isinstance(actual, str):
        return ctx.fail(
            f"expected a string not containing {show(operand)}, got {show(actual)}", actual
        )
    if is_array(actual):
        return ctx.fail(
            f"expected no element matching {show(operand)}, found one at index {found}", actual
        )
    return ctx.fail(f"unexpected key {show(operand)}", actual)


def _find(operand: Any, actual: Any, ctx: Ctx) -> int | bool | None:
    """Where `actual` contains `operand`: an index for arrays, True/False otherwise, None when
    `actual` is not a container."""
    if isinstance(actual, str):
        return isinstance(operand, str) and operand in actual
    if is_array(actual):
        # Elements are matched like any expectation, so a dict operand matches partially.
        for index, item in enumerate(actual):
            if not ctx.recurse(operand, item, ctx.path, ctx.strict, False):
                return index
        return False
    if is_object(actual):
        return lookup(actual, operand, case_insensitive=ctx.fold_keys) is not MISSING
    return None


_COMPARISONS: Final[dict[str, tuple[str, Callable[[Any, Any], Any]]]] = {
    "$gt": (">", operator.gt),
    "$gte": (">=", operator.ge),
    "$lt": ("<", operator.lt),
    "$lte": ("<=", operator.le),
}


def _compare(op: str) -> Callable[[Any, Any, Ctx], list[Mismatch]]:
    symbol, compare = _COMPARISONS[op]

    def check(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
        if not is_number(actual):
            return ctx.fail(
                f"expected a number {symbol} {show(operand)}, got {show_typed(actual)}", actual
            )
        if compare(actual, operand):
            return []
        return ctx.fail(f"expected {symbol} {show(operand)}, got {show(actual)}", actual)

    return check


def _eq(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if values_equal(operand, actual, case_insensitive_keys=ctx.fold_keys):
        return []
    return ctx.fail(expected_got(operand, actual), actual)


def _ne(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if not values_equal(operand, actual, case_insensitive_keys=ctx.fold_keys):
        return []
    return ctx.fail(f"expected a value other than {show(operand)}, got {show(actual)}", actual)


def _approx(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    tolerance = ctx.node.get("$tol", DEFAULT_TOLERANCE)
    if not is_number(actual):
        return ctx.fail(f"expected a number near {show(operand)}, got {show_typed(actual)}", actual)
    try:
        close = abs(actual - operand) <= tolerance
    except OverflowError:  # an int too large for a float is not near any float
        close = False
    if close:
        return []
    return ctx.fail(f"expected {show(operand)} +/- {show(tolerance)}, got {show(actual)}", actual)


def as_number(value: Any) -> Decimal | None:
    """A number, or a string that spells one ("12.50", "-3", "1e3", a 30-digit bigint),
    exactly; None for anything else (a bool is no number)."""
    if is_number(value):
        return Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str) and _NUMERIC_TEXT.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _number(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    parsed = as_number(actual)
    if parsed is None:
        return ctx.fail(f"expected a number or a string of one, got {show_typed(actual)}", actual)
    if is_matcher(operand):
        inner = ctx.recurse(operand, _plain_number(parsed), ctx.path, False, False)
        return ctx.fail(f"compared as a number: {inner[0].message}", actual) if inner else []
    if parsed == as_number(operand):
        return []
    return ctx.fail(
        f"expected {show(operand)} (compared as a number), got {show_typed(actual)}", actual
    )


def _schema(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    try:
        validator = cached_validator(operand)
    except ValueError as exc:  # checked at load time; a rendered template can still break it
        return ctx.fail(str(exc), actual)
    found: list[Mismatch] = []
    for error in validator.iter_errors(actual):
        path = ctx.path
        for part in error.instance_path:
            path = join_index(path, part) if isinstance(part, int) else join_key(path, part)
        found.append(Mismatch(path, f"schema: {error.message}", ctx.node, actual))
        if len(found) == _SCHEMA_ERRORS:
            break
    return found


def _selectors(kind: str) -> Callable[[Any, Any, Ctx], list[Mismatch]]:
    compile_selector = markup.compiled_xpath if kind == "XPath" else markup.css_as_xpath

    def check(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
        if not isinstance(actual, str):
            return ctx.fail(f"expected XML or HTML text, got {show_typed(actual)}", actual)
        found: list[Mismatch] = []
        try:
            document = markup.parse(actual)
        except markup.SelectorError as exc:
            return ctx.fail(exc.message, actual)
        for selector, expected in operand.items():
            try:
                value = markup.select(compile_selector(selector), document)
            except markup.SelectorError as exc:
                return ctx.fail(exc.message, actual)
            where = f"{ctx.path}[{kind} {selector}]"
            found.extend(ctx.recurse(expected, value, where, False, False))
        return found

    return check


def _tol(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    return []  # read by $approx


def _oneof(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if any(ctx.holds(option, actual, top=True) for option in operand):
        return []
    return ctx.fail(f"expected one of {show(operand)}, got {show(actual)}", actual)


def _not(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if not ctx.holds(operand, actual, top=True):
        return []
    if is_matcher(operand):
        return ctx.fail(
            f"expected a value not matching {show(operand)}, got {show(actual)}", actual
        )
    return ctx.fail(f"expected anything but {show(operand)}, got {show(actual)}", actual)


def _each(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if not is_array(actual):
        return ctx.fail(f"expected an array, got {show_typed(actual)}", actual)
    mismatches: list[Mismatch] = []
    for index, item in enumerate(actual):
        mismatches.extend(
            ctx.recurse(operand, item, join_index(ctx.path, index), ctx.strict, False)
        )
    return mismatches


def _strict(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    return ctx.recurse(operand, actual, ctx.path, True, ctx.fold_keys)


def _unordered(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
    if not is_array(actual):
        return ctx.fail(f"expected an array, got {show_typed(actual)}", actual)
    if len(operand) != len(actual):
        return ctx.fail(f"expected {count(len(operand), 'item')}, got {len(actual)}", actual)
    fits = [
        [j for j, item in enumerate(actual) if not ctx.recurse(e, item, "", ctx.strict, False)]
        for e in operand
    ]
    assigned = _assign(fits)
    left = [j for j in range(len(actual)) if j not in assigned]
    unmatched = [i for i, owner in enumerate(assigned) if owner is None]
    return [
        Mismatch(
            ctx.path,
            f"no element left to match expected item {i}: {show(operand[i])}"
            + _nearest(operand[i], actual, left, ctx),
            ctx.node,
            actual,
        )
        for i in unmatched
    ]


def _nearest(expected: Any, actual: list[Any], left: list[int], ctx: Ctx) -> str:
    """`; nearest is item J: <its differences>`: the element not matched to another
    expected item that differs least, as the structural diff shows it."""
    tried = [(ctx.recurse(expected, actual[j], "", ctx.strict, False), j) for j in left]
    if not tried:
        return ""
    diffs, j = min(tried, key=lambda found: len(found[0]))
    shown = [f"{m.path.lstrip('.')}: {m.message}" if m.path else m.message for m in diffs[:3]]
    more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
    return f"; nearest is item {j}: " + "; ".join(shown) + more


def _assign(fits: list[list[int]]) -> list[int | None]:
    """A maximum matching of expected items to distinct actual indexes (Kuhn's augmenting
    paths): a greedy pass would fail [{$type: string}, 'a'] against ['a', 'b']."""
    owner_of: dict[int, int] = {}  # actual index -> expected index

    def augment(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner_of or augment(owner_of[j], seen):
                owner_of[j] = i
                return True
        return False

    for i in range(len(fits)):
        augment(i, set())
    assigned: list[int | None] = [None] * len(fits)
    for j, i in owner_of.items():
        assigned[i] = j
    return assigned


def _affix(
    kind: str, test: Callable[[str, str], bool]
) -> Callable[[Any, Any, Ctx], list[Mismatch]]:
    def check(operand: Any, actual: Any, ctx: Ctx) -> list[Mismatch]:
        if not isinstance(actual, str):
            return ctx.fail(
                f"expected a string {kind} {show(operand)}, got {show_typed(actual)}", actual
            )
        if test(actual, operand):
            return []
        return ctx.fail(f"expected a string {kind} {show(operand)}, got {show(actual)}", actual)

    return check


OPERATIONS: Final[dict[str, Callable[[Any, Any, Ctx], list[Mismatch]]]] = {
    "$any": _any,
    "$absent": _absent,
    "$type": _type,
    "$regex": _regex,
    "$len": _len,
    "$contains": _contains,
    "$not_contains": _not_contains,
    "$gt": _compare("$gt"),
    "$gte": _compare("$gte"),
    "$lt": _compare("$lt"),
    "$lte": _compare("$lte"),
    "$eq": _eq,
    "$ne": _ne,
    "$approx": _approx,
    "$number": _number,
    "$schema": _schema,
    "$xpath": _selectors("XPath"),
    "$css": _selectors("CSS"),
    "$tol": _tol,
    "$oneof": _oneof,
    "$not": _not,
    "$each": _each,
    "$strict": _strict,
    "$unordered": _unordered,
    "$startswith": _affix("starting with", str.startswith),
    "$endswith": _affix("ending with", str.endswith),
}
