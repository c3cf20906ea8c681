"""render_diff(): a readable, pytest-like account of how two structures differ.

Lines are grouped so a reader sees the real failures first::

    differing:
      status: expected 'pending', got 'failed'
      items[0].id: expected 1, got 2
    missing:
      total: 3
    unexpected:
      items[2]: {'id': 9}
    not checked (extra keys):
      created_at: '2024-05-01'
    (2 identical items not shown)

Difference is judged by the same rules as match(), so matchers and numeric equality apply;
values are shown as written. Long or multi-line strings get difflib.ndiff lines (``-``
expected, ``+`` actual, ``?`` markers). Two scalars give a single line and no headings.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Final

from splice._internal.expect.matchers import match_node
from splice._internal.expect.vocabulary import (
    MISSING,
    is_array,
    is_matcher,
    is_object,
    join_index,
    join_key,
    literal_key,
    lookup,
    show,
)
from splice._internal.words import count

_LONG_STRING: Final = 40
_CONTEXT: Final = 2  # equal lines kept around each change in a string diff


def render_diff(expected: Any, actual: Any, *, case_insensitive_keys: bool = False) -> list[str]:
    """Lines describing how `actual` differs from `expected`; [] when it matches.

    Objects list differing, missing, unexpected and unchecked (extra) keys; arrays are compared
    index by index; long strings are diffed line by line. `case_insensitive_keys` is as in
    match(). The lines carry no colour or trailing newline, for console and HTML reports alike.
    """
    diff = _Diff()
    diff.walk(expected, actual, "", strict=False, fold=case_insensitive_keys)
    return diff.lines()


def _label(path: str, text: str) -> str:
    return f"{path}: {text}" if path else text


@dataclass
class _Diff:
    differing: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    identical: int = 0
    structured: bool = False  # an object or array pair was compared: use headings

    def lines(self) -> list[str]:
        if not self.structured:
            return self.differing
        out: list[str] = []
        for title, group in (
            ("differing:", self.differing),
            ("missing:", self.missing),
            ("unexpected:", self.unexpected),
            ("not checked (extra keys):", self.unchecked),
        ):
            if group:
                out.append(title)
                out.extend("  " + line for line in group)
        if out and self.identical:
            out.append(f"({count(self.identical, 'identical item')} not shown)")
        return out

    def walk(self, expected: Any, actual: Any, path: str, *, strict: bool, fold: bool) -> None:
        if not match_node(expected, actual, path, strict, fold):
            self.identical += 1
            return
        if is_matcher(expected) and list(expected) == ["$strict"]:
            self.walk(expected["$strict"], actual, path, strict=True, fold=fold)
        elif is_matcher(expected) or actual is MISSING:
            self._messages(expected, actual, path, strict=strict, fold=fold)
        elif is_object(expected) and is_object(actual):
            self._objects(expected, actual, path, strict=strict, fold=fold)
        elif is_array(expected) and is_array(actual):
            self._arrays(expected, actual, path, strict=strict)
        elif isinstance(expected, str) and isinstance(actual, str) and _long(expected, actual):
            self.differing.append(_label(path, "strings differ (- expected, + actual):"))
            self.differing.extend("  " + line for line in _string_diff(expected, actual))
        else:
            self._messages(expected, actual, path, strict=strict, fold=fold)

    def _messages(self, expected: Any, actual: Any, path: str, *, strict: bool, fold: bool) -> None:
        for mismatch in match_node(expected, actual, path, strict, fold):
            self.differing.append(_label(mismatch.path, mismatch.message))

    def _objects(self, expected: Any, actual: Any, path: str, *, strict: bool, fold: bool) -> None:
        self.structured = True
        named: set[Any] = set()
        for raw_key, value in expected.items():
            key = literal_key(raw_key)
            named.add(key.lower() if fold and isinstance(key, str) else key)
            here = join_key(path, key)
            found = lookup(actual, key, case_insensitive=fold)
            if is_matcher(value) and value.get("$absent") is True:
                if found is not MISSING:
                    self.unexpected.append(f"{here}: {show(found)} (expected absent)")
                else:
                    self.identical += 1
            elif found is MISSING:
                self.missing.append(f"{here}: {show(value)}")
            else:
                self.walk(value, found, here, strict=strict, fold=False)
        for key, value in actual.items():
            if (key.lower() if fold and isinstance(key, str) else key) in named:
                continue
            # Extra keys fail only under $strict; otherwise they help explain a failure.
            group = self.unexpected if strict else self.unchecked
            group.append(f"{join_key(path, key)}: {show(value)}")

    def _arrays(self, expected: Any, actual: Any, path: str, *, strict: bool) -> None:
        self.structured = True
        if len(expected) != len(actual):
            message = f"expected {count(len(expected), 'item')}, got {len(actual)}"
            self.differing.append(_label(path, message))
        for index, (item, found) in enumerate(zip(expected, actual, strict=False)):
            self.walk(item, found, join_index(path, index), strict=strict, fold=False)
        for index in range(len(actual), len(expected)):
            self.missing.append(f"{join_index(path, index)}: {show(expected[index])}")
        for index in range(len(expected), len(actual)):
            self.unexpected.append(f"{join_index(path, index)}: {show(actual[index])}")


def _long(expected: str, actual: str) -> bool:
    return max(len(expected), len(actual)) > _LONG_STRING or "\n" in expected + actual


def _string_diff(expected: str, actual: str) -> list[str]:
    """ndiff lines, with long runs of equal lines folded into ``...``."""
    lines = [
        line.rstrip("\n") for line in difflib.ndiff(expected.splitlines(), actual.splitlines())
    ]
    changed = [i for i, line in enumerate(lines) if not line.startswith("  ")]
    if not changed:  # only line endings differ, which splitlines() hides
        return [f"- {expected!r}", f"+ {actual!r}"]
    keep = {j for i in changed for j in range(i - _CONTEXT, i + _CONTEXT + 1)}
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in keep:
            out.append(line)
        elif not out or out[-1] != "  ...":
            out.append("  ...")
    return out
