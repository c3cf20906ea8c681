"""One Pact matcher applied to one value: `check` returns what is wrong, or None.

The structure around a value (keys of objects, elements of arrays, each-like templates) is
walked by `splice._internal.contracts.compare`; here a matcher only judges the value in front of it,
with messages in splice's diff style (`expected a decimal, got string '12.50'`).

Regexes run on splice's user-regex engine (linear time, never hangs) and must match the
whole value, as the specification's testcases require (`alligator named .{4}` does not
match "alligator named brent").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Final

from splice._internal.contracts.dates import FormatError, matches_format
from splice._internal.contracts.rules import Matcher
from splice._internal.expect.vocabulary import show, show_typed
from splice._internal.regexes import RegexError, UserRegex, compile_user_regex

SEMVER: Final = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
STATUS_CLASSES: Final[dict[str, tuple[int, int]]] = {
    "information": (100, 199),
    "success": (200, 299),
    "redirect": (300, 399),
    "clientError": (400, 499),
    "serverError": (500, 599),
    "nonError": (100, 399),
    "error": (400, 599),
}


@functools.lru_cache(maxsize=1024)
def user_regex(pattern: str) -> UserRegex:
    return compile_user_regex(pattern)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def text_of(value: Any) -> str:
    """A scalar as the text a regex sees: JSON spelling for numbers, booleans and null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check(matcher: Matcher, expected: Any, actual: Any, *, text: bool = False) -> str | None:
    """What is wrong with `actual` under `matcher`, or None when it passes.

    `text` is True for values that are always strings on the wire (headers, query
    parameters, paths): there `integer` accepts "42" and `boolean` accepts "true".
    """
    kind = matcher.kind
    if kind == "equality":
        return None if actual == expected else f"expected {show(expected)}, got {show(actual)}"
    if kind == "type":
        return _check_type(matcher, expected, actual)
    if kind == "regex":
        if isinstance(actual, list | Mapping):
            return f"expected a value matching /{matcher.get('regex')}/, got {show_typed(actual)}"
        try:
            found = user_regex(str(matcher.get("regex"))).fullmatch(text_of(actual))
        except RegexError as exc:
            return f"the pact's regex /{matcher.get('regex')}/ cannot be used: {exc.message}"
        return (
            None if found else f"expected a match of /{matcher.get('regex')}/, got {show(actual)}"
        )
    if kind == "include":
        needle = str(matcher.get("value", expected))
        if isinstance(actual, str) and needle in actual:
            return None
        return f"expected a value including {needle!r}, got {show(actual)}"
    if kind in ("integer", "decimal", "number"):
        return _check_number(kind, actual, text=text)
    if kind == "boolean":
        ok = isinstance(actual, bool) or (isinstance(actual, str) and actual in ("true", "false"))
        return None if ok else f"expected a boolean, got {show_typed(actual)}"
    if kind == "null":
        return None if actual is None else f"expected null, got {show_typed(actual)}"
    if kind in ("date", "time", "timestamp", "datetime"):
        return _check_date(matcher, kind, actual)
    if kind == "notEmpty":
        empty = actual is None or (isinstance(actual, str | list | Mapping) and len(actual) == 0)
        return f"expected a value that is not empty, got {show(actual)}" if empty else None
    if kind == "semver":
        ok = isinstance(actual, str) and SEMVER.fullmatch(actual) is not None
        return None if ok else f"expected a semantic version, got {show(actual)}"
    if kind == "statusCode":
        return check_status(matcher.get("status"), actual)
    if kind == "contentType":
        return None  # judged on the body as a whole (compare.py), not on one value
    if kind == "values":
        return None if isinstance(actual, Mapping | list) else _container(actual)
    if kind in ("eachKey", "eachValue", "arrayContains"):
        if isinstance(actual, Mapping | list):
            return None
        return _container(actual)
    return f"matcher {kind!r} is not supported"  # unreachable: the reader refused it


def _container(actual: Any) -> str:
    return f"expected an object or array, got {show_typed(actual)}"


def _check_type(matcher: Matcher, expected: Any, actual: Any) -> str | None:
    if isinstance(expected, list) or isinstance(actual, list):
        if not isinstance(actual, list):
            return f"expected an array, got {show_typed(actual)}"
        low, high = matcher.get("min"), matcher.get("max")
        if low is not None and len(actual) < low:
            return f"expected an array of at least {low} element(s), got {len(actual)}"
        if high is not None and len(actual) > high:
            return f"expected an array of at most {high} element(s), got {len(actual)}"
        return None
    want, got = json_type(expected), json_type(actual)
    if want == got:
        return None
    return f"expected a value of type {want}, got {show_typed(actual)}"


def _check_number(kind: str, actual: Any, *, text: bool) -> str | None:
    value = actual
    if text and isinstance(actual, str):
        try:
            value = int(actual)
        except ValueError:
            try:
                value = float(actual)
            except ValueError:
                return f"expected {_article(kind)}, got {show(actual)}"
    if kind == "number" and _is_number(value):
        return None
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return None
    if kind == "decimal" and isinstance(value, float):
        return None
    return f"expected {_article(kind)}, got {show_typed(actual)}"


def _article(kind: str) -> str:
    return "an integer" if kind == "integer" else f"a {kind}"


def _check_date(matcher: Matcher, kind: str, actual: Any) -> str | None:
    fmt = matcher.get("format") or matcher.get(kind)
    if not isinstance(actual, str):
        return f"expected a {kind} string, got {show_typed(actual)}"
    try:
        ok = matches_format(actual, str(fmt) if fmt else None, kind)
    except FormatError as exc:
        return f"the pact's {kind} format cannot be used: {exc}"
    if ok:
        return None
    return f"expected a {kind} in format {fmt or 'ISO 8601'!r}, got {show(actual)}"


def check_status(status: Any, actual: Any) -> str | None:
    """A `statusCode` matcher: a class name (`success`, `clientError`) or a list of codes."""
    if not isinstance(actual, int):
        return f"expected a status code, got {show_typed(actual)}"
    if isinstance(status, list):
        if actual in status:
            return None
        return f"expected one of the statuses {status}, got {actual}"
    bounds = STATUS_CLASSES.get(str(status))
    if bounds is None:
        return f"unknown status class {status!r}"
    low, high = bounds
    return None if low <= actual <= high else f"expected a {status} status, got {actual}"
