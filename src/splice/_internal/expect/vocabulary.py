"""Shared vocabulary of the matcher: the MISSING sentinel, Mismatch, value rendering and paths.

Everything here is pure and cheap; `matchers`, `validation` and `diff` build on it.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from splice._internal.regexes import compile_user_regex

Loc = tuple[str | int, ...]
"""Keys and indexes leading from the root of an expected value to one place inside it."""


class _Missing(enum.Enum):
    # An enum member is the idiom mypy understands for a typed singleton sentinel.
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "<missing>"

    __str__ = __repr__


MISSING: Final = _Missing.MISSING
"""Stands for an absent key (or value) where an actual value is expected; renders as <missing>."""


@dataclass
class Mismatch:
    """One way in which an actual value fails an expectation."""

    path: str
    """Where, e.g. ``json.items[0].id``; starts with the root path the caller gave."""
    message: str
    """One line, e.g. ``expected 201, got 404``."""
    expected: Any
    """The expectation as the user wrote it at `path` (a value or a matcher dict)."""
    actual: Any
    """The actual value at `path`, or `MISSING`."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


OPERATORS: Final = frozenset(
    {
        "$any",
        "$absent",
        "$type",
        "$regex",
        "$len",
        "$contains",
        "$not_contains",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$eq",
        "$ne",
        "$approx",
        "$number",
        "$schema",
        "$xpath",
        "$css",
        "$tol",
        "$oneof",
        "$not",
        "$each",
        "$strict",
        "$unordered",
        "$startswith",
        "$endswith",
    }
)

TYPE_NAMES: Final = ("string", "integer", "number", "boolean", "null", "array", "object")

DEFAULT_TOLERANCE: Final = 1e-6
"""Absolute tolerance of `$approx` when `$tol` is not given."""

_MAX_SHOWN: Final = 80


# --- kinds of values ------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    """True for int and float; bool is a subclass of int but never a number here."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_array(value: Any) -> bool:
    """True for the sequences that stand for a JSON array (list, tuple; never str or bytes)."""
    return isinstance(value, list | tuple)


def is_object(value: Any) -> bool:
    """True for mappings (dict, httpx.Headers, ...), which stand for a JSON object."""
    return isinstance(value, Mapping)


def type_name(value: Any) -> str:
    """The JSON-ish type name used in messages and by `$type`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if is_array(value):
        return "array"
    if is_object(value):
        return "object"
    if value is MISSING:
        return "missing"
    return type(value).__name__


def has_type(value: Any, name: str) -> bool:
    """Whether `value` is of the `$type` named `name` (integer excludes bool; number is int or
    float)."""
    if name == "number":
        return is_number(value)
    return type_name(value) == name


# --- matcher dicts and keys -----------------------------------------------------------------


def is_operator_key(key: Any) -> bool:
    """`$name` is an operator; `$$name` is an escaped literal key."""
    return isinstance(key, str) and key.startswith("$") and not key.startswith("$$")


def is_matcher(value: Any) -> bool:
    """A non-empty dict whose keys are all operators."""
    return is_object(value) and bool(value) and all(is_operator_key(key) for key in value)


def literal_key(key: Any) -> Any:
    """The key an expected dict's key stands for: `$$name` means the literal key `$name`."""
    if isinstance(key, str) and key.startswith("$$"):
        return key[1:]
    return key


# --- equality -------------------------------------------------------------------------------


def values_equal(expected: Any, actual: Any, *, case_insensitive_keys: bool = False) -> bool:
    """Deep, strict equality: dicts need the same keys, lists the same length and order.

    Numbers compare by value (1 == 1.0) but a bool is never equal to a number. No operators
    are interpreted: this is `$eq`, for literal values. `case_insensitive_keys` applies to the
    top-level dict only.
    """
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected is actual
    if is_number(expected) and is_number(actual):
        return bool(expected == actual)
    if is_object(expected) and is_object(actual):
        if len(expected) != len(actual):
            return False
        fold = _fold if case_insensitive_keys else _keep
        folded = {fold(key): value for key, value in actual.items()}
        if len(folded) != len(actual):
            return False
        for key, value in expected.items():
            other = folded.get(fold(key), MISSING)
            if other is MISSING or not values_equal(value, other):
                return False
        return True
    if is_array(expected) and is_array(actual):
        return len(expected) == len(actual) and all(
            values_equal(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if type_name(expected) != type_name(actual) and not (is_number(expected) and is_number(actual)):
        # No coercion: '1' != 1, whatever a custom __eq__ would say.
        return False
    try:
        return bool(expected == actual)
    except Exception:  # noqa: BLE001 - an odd __eq__ must not make match() raise
        return False


def _fold(key: Any) -> Any:
    return key.lower() if isinstance(key, str) else key


def _keep(key: Any) -> Any:
    return key


def lookup(actual: Mapping[Any, Any], key: Any, *, case_insensitive: bool) -> Any:
    """`actual[key]`, or MISSING; with `case_insensitive`, string keys ignore case."""
    try:
        if key in actual:
            return actual[key]
    except TypeError:  # unhashable key written in YAML, e.g. a list
        return MISSING
    if case_insensitive and isinstance(key, str):
        wanted = key.lower()
        for other, value in actual.items():
            if isinstance(other, str) and other.lower() == wanted:
                return value
    return MISSING


# a `$regex` pattern, compiled once per pattern (see `splice._internal.regexes`: RE2, or bounded)
compile_regex = compile_user_regex


# --- rendering ------------------------------------------------------------------------------


def show(value: Any, limit: int = _MAX_SHOWN) -> str:
    """Render a value for a message: JSON-like (null, true) with Python-quoted strings."""
    text = _show(value)
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf: JSON has no spelling for them
    if is_array(value):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if is_object(value):
        return "{" + ", ".join(f"{_show(k)}: {_show(v)}" for k, v in value.items()) + "}"
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the mismatch
        return f"<{type(value).__name__}>"


def show_typed(value: Any) -> str:
    """Render a value with its type name, e.g. ``string '12'``; for messages on wrong types."""
    if value is MISSING or value is None:
        return show(value)  # "null null" would only stutter
    return f"{type_name(value)} {show(value)}"


def same_kind(expected: Any, actual: Any) -> bool:
    """Whether two values are of one JSON type for messages (integer and number are one)."""
    if is_number(expected) and is_number(actual):
        return True
    return type_name(expected) == type_name(actual)


# --- paths ----------------------------------------------------------------------------------

_PLAIN_KEY: Final = re.compile(r"[^\s.\[\]'\"]+")


def join_key(path: str, key: Any) -> str:
    """``json`` + ``id`` -> ``json.id``; awkward keys are quoted: ``json['a.b']``."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{show(key)}]"


def join_index(path: str, index: int | str) -> str:
    """``items`` + 0 -> ``items[0]``; ``*`` stands for every element."""
    return f"{path}[{index}]"


def render_loc(root: str, loc: Loc) -> str:
    """Render a location tuple (as used by validate()) as a display path under `root`."""
    path = root
    for part in loc:
        path = join_index(path, part) if isinstance(part, int) else join_key(path, part)
    return path
