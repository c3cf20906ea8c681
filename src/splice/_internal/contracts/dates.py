"""Date and time formats of Pact's `date`, `time` and `timestamp` matchers.

Pact writes formats in the pattern language of Java's DateTimeFormatter (`yyyy-MM-dd`,
`HH:mm:ss.SSSXXX`), which every Pact implementation accepts. A format is turned into an
anchored regular expression over the letters it uses; a matcher without a format takes
ISO 8601.
"""

from __future__ import annotations

import functools
import re
from typing import Final

_MONTHS: Final = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_MONTH_NAMES: Final = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
_DAYS: Final = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_DAY_NAMES: Final = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_OFFSET: Final = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"

# letter -> {run length: regex}; a longer run than listed takes the longest entry
_LETTERS: Final[dict[str, dict[int, str]]] = {
    "y": {1: r"\d{1,4}", 2: r"\d{2}", 3: r"\d{3,4}", 4: r"\d{4}"},
    "u": {1: r"\d{1,4}", 2: r"\d{2}", 4: r"\d{4}"},
    "M": {1: r"(?:1[0-2]|0?[1-9])", 2: r"(?:0[1-9]|1[0-2])", 3: _MONTHS, 4: _MONTH_NAMES},
    "L": {1: r"(?:1[0-2]|0?[1-9])", 2: r"(?:0[1-9]|1[0-2])", 3: _MONTHS, 4: _MONTH_NAMES},
    "d": {1: r"(?:3[01]|[12]\d|0?[1-9])", 2: r"(?:0[1-9]|[12]\d|3[01])"},
    "D": {1: r"\d{1,3}", 3: r"\d{3}"},
    "E": {1: _DAYS, 3: _DAYS, 4: _DAY_NAMES},
    "a": {1: r"(?:AM|PM|am|pm)"},
    "H": {1: r"(?:2[0-3]|[01]?\d)", 2: r"(?:[01]\d|2[0-3])"},
    "k": {1: r"(?:2[0-4]|1?\d)", 2: r"(?:0[1-9]|1\d|2[0-4])"},
    "K": {1: r"(?:1[01]|\d)", 2: r"(?:0\d|1[01])"},
    "h": {1: r"(?:1[0-2]|0?[1-9])", 2: r"(?:0[1-9]|1[0-2])"},
    "m": {1: r"[0-5]?\d", 2: r"[0-5]\d"},
    "s": {1: r"[0-5]?\d", 2: r"[0-5]\d"},
    "S": {1: r"\d", 2: r"\d{2}", 3: r"\d{3}", 6: r"\d{6}", 9: r"\d{9}"},
    "n": {1: r"\d{1,9}"},
    "X": {1: r"(?:Z|[+-]\d{2}(?:\d{2})?)", 2: r"(?:Z|[+-]\d{4})", 3: r"(?:Z|[+-]\d{2}:\d{2})"},
    "x": {1: r"[+-]\d{2}(?:\d{2})?", 2: r"[+-]\d{4}", 3: r"[+-]\d{2}:\d{2}"},
    "Z": {1: r"[+-]\d{4}", 4: r"(?:GMT|UTC)?[+-]\d{2}:?\d{2}", 5: r"(?:Z|[+-]\d{2}:\d{2})"},
    "z": {1: r"[A-Za-z]{1,5}|[+-]\d{2}:?\d{2}", 4: r"[A-Za-z /_]+"},
    "V": {2: r"[A-Za-z_]+(?:/[A-Za-z_]+)*"},
    "O": {1: r"GMT(?:[+-]\d{1,2}(?::\d{2})?)?", 4: r"GMT(?:[+-]\d{2}:\d{2})?"},
    "G": {1: r"(?:AD|BC)", 4: r"(?:Anno Domini|Before Christ)"},
    "w": {1: r"\d{1,2}", 2: r"\d{2}"},
    "W": {1: r"\d"},
    "e": {1: r"\d", 2: r"\d{2}", 3: _DAYS, 4: _DAY_NAMES},
}

ISO_DATE: Final = r"\d{4}-\d{2}-\d{2}"
ISO_TIME: Final = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?" + _OFFSET + "?"
ISO_TIMESTAMP: Final = ISO_DATE + r"[T ]" + ISO_TIME


class FormatError(ValueError):
    """A format with a letter that has no meaning."""


@functools.lru_cache(maxsize=256)
def format_regex(pattern: str) -> re.Pattern[str]:
    """The anchored regex for a Java-style date/time format; FormatError for a bad letter."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":  # quoted literal; '' is one quote
            end = pattern.find("'", i + 1)
            if end == i + 1:
                out.append("'")
                i += 2
                continue
            if end < 0:
                raise FormatError(f"unclosed quote in date format {pattern!r}")
            out.append(re.escape(pattern[i + 1 : end]))
            i = end + 1
            continue
        if ch.isascii() and ch.isalpha():
            run = 1
            while i + run < len(pattern) and pattern[i + run] == ch:
                run += 1
            table = _LETTERS.get(ch)
            if table is None:
                raise FormatError(f"unknown letter {ch!r} in date format {pattern!r}")
            fitting = [n for n in table if n <= run]
            out.append("(?:" + table[max(fitting) if fitting else min(table)] + ")")
            i += run
            continue
        out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


def matches_format(value: str, pattern: str | None, kind: str) -> bool:
    """Whether `value` is a date, time or timestamp in `pattern` (ISO 8601 without one)."""
    if pattern:
        return format_regex(pattern).fullmatch(value) is not None
    iso = {"date": ISO_DATE, "time": ISO_TIME}.get(kind, ISO_TIMESTAMP)
    return re.fullmatch(iso, value) is not None
