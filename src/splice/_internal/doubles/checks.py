"""The pieces of request matching: one check, one difference, one text test."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.model import TextMatch, ValueMatch, as_text
from splice._internal.regexes import RegexTimeout, UserRegex, compile_user_regex


@dataclass(slots=True)
class Check:
    """One test of a request, with the words to explain a failure."""

    part: str  # "path", "query page", "header authorization", "body json"...
    expected: str
    test: Callable[[Incoming], bool]
    actual: Callable[[Incoming], str]
    weight: float = 1.0


@dataclass(slots=True)
class Difference:
    """How a request differs from a stub in one part."""

    part: str
    expected: str
    actual: str
    distance: float  # 0 (nearly equal) to the check's weight (nothing alike)

    def as_dict(self) -> dict[str, str]:
        return {"part": self.part, "expected": self.expected, "actual": self.actual}


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a[:200], b[:200], autojunk=False).ratio()


def text_test(want: ValueMatch) -> tuple[Callable[[str | None], bool], str]:
    """A test of one text value (None: absent) and how to say what it expects."""
    m = want if isinstance(want, TextMatch) else TextMatch(equal=as_text(want))
    fold = m.case_insensitive
    suffix = " (any case)" if fold else ""
    if m.absent is not None:
        if m.absent:
            return (lambda v: v is None), "absent"
        return (lambda v: v is not None), "present"
    if m.equal is not None:
        wanted = m.equal.lower() if fold else m.equal
        if fold:
            return (lambda v: v is not None and v.lower() == wanted), repr(m.equal) + suffix
        return (lambda v: v == wanted), repr(m.equal)
    if m.contains is not None:
        part = m.contains.lower() if fold else m.contains
        if fold:
            return (lambda v: v is not None and part in v.lower()), f"contains {m.contains!r}"
        return (lambda v: v is not None and part in v), f"contains {m.contains!r}"
    if m.regex is not None:
        pattern = compile_user_regex(m.regex, ignore_case=fold)
        return (lambda v: v is not None and pattern.finds(v)), f"~ {m.regex}"
    assert m.not_regex is not None
    negative = compile_user_regex(m.not_regex, ignore_case=fold)
    return (lambda v: v is not None and not _found_or_slow(negative, v)), f"!~ {m.not_regex}"


def _found_or_slow(pattern: UserRegex, text: str) -> bool:
    """For `not_regex`: a match that runs out of time counts as found (no match claimed)."""
    try:
        return pattern.search(text) is not None
    except RegexTimeout:
        return True


def short_json(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"
