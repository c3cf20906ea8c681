"""User regexes (splice._internal.regexes): Python's answers, in linear time where RE2 can run them,
bounded where it cannot."""

from __future__ import annotations

import re
import time
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splice._internal import regexes
from splice._internal.regexes import RegexError, RegexTimeout, compile_user_regex

ATOMS = [
    "a",
    "b",
    "é",
    "1",
    "٣",
    " ",
    "\\n",
    ".",
    "\\d",
    "\\D",
    "\\w",
    "\\W",
    "\\s",
    "\\S",
    "\\b",
    "\\B",
    "[ab]",
    "[^a]",
    "[\\d_]",
    "[a-c]",
    "[]a]",
    "[[:]",
    "\\.",
    "\\-",
    "\\x41",
    "\\u00e9",
    "\\t",
    "^",
    "$",
    "\\A",
    "\\Z",
    "(?:ab)",
    "(a|b)",
    "(?P<n>a+)",
    "{",
    "}",
    "a{,2}",
    "a{2}",
    "a{1,}",
    "\\{",
]
QUANTIFIERS = ["", "", "*", "+", "?", "*?", "+?", "{0,2}"]


@st.composite
def patterns(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(
            st.tuples(st.sampled_from(ATOMS), st.sampled_from(QUANTIFIERS)), min_size=1, max_size=6
        )
    )
    pattern = ""
    for atom, quantifier in parts:
        repeatable = atom not in ("^", "$", "\\A", "\\Z", "\\b", "\\B") and "{" not in atom[-1:]
        pattern += atom + (quantifier if repeatable and not atom.endswith("}") else "")
    if draw(st.booleans()):
        pattern = draw(st.sampled_from(["(?m)", "(?s)", "(?i)", ""])) + pattern
    return pattern


TEXTS = st.text(alphabet="ab1٣é \n_.{}-AÉ\u00a0x", max_size=12)


def _spans(found: re.Match[str] | regexes.Match | None) -> object:
    if found is None:
        return None
    return (found.start(), found.end(), found.groups())


@settings(max_examples=600, deadline=None)
@given(patterns(), TEXTS)
def test_answers_are_pythons(pattern: str, text: str) -> None:
    """Whichever engine runs it, a pattern finds what Python's re finds: the same spans and
    groups for search, fullmatch and finditer."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning: possible nested set
            expected = re.compile(pattern)
    except re.error:
        with pytest.raises(RegexError):
            compile_user_regex(pattern)
        return
    compiled = compile_user_regex(pattern)
    assert _spans(compiled.search(text)) == _spans(expected.search(text))
    assert _spans(compiled.fullmatch(text)) == _spans(expected.fullmatch(text))
    assert [_spans(m) for m in compiled.finditer(text)] == [
        _spans(m) for m in expected.finditer(text)
    ]


@settings(max_examples=200, deadline=None)
@given(patterns(), TEXTS)
def test_ignore_case_answers_are_pythons(pattern: str, text: str) -> None:
    """With ignore_case, the answers are those of re.IGNORECASE."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = re.compile(pattern, re.IGNORECASE)
    except re.error:
        return
    compiled = compile_user_regex(pattern, ignore_case=True)
    assert _spans(compiled.search(text)) == _spans(expected.search(text))


def test_catastrophic_pattern_runs_in_linear_time() -> None:
    """`^(a+)+$` against 40 a's and a '!' runs on RE2 and answers at once (re would take
    minutes)."""
    compiled = compile_user_regex("^(a+)+$")
    assert compiled.engine == "re2"
    assert compiled.search("a" * 40 + "!") is None
    assert compiled.search("a" * 40) is not None


def test_backreferences_and_lookaround_use_the_bounded_engine() -> None:
    """Patterns RE2 cannot run still work, on the backtracking engine."""
    for pattern, text in [(r"(a)\1", "xaa"), (r"a(?=b)", "ab"), (r"(?<!x)b", "ab")]:
        compiled = compile_user_regex(pattern)
        assert compiled.engine == "backtracking"
        assert compiled.reason
        assert _spans(compiled.search(text)) == _spans(re.search(pattern, text))


def test_backtracking_is_stopped_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A catastrophic pattern that needs the backtracking engine fails with RegexTimeout
    after BACKTRACK_LIMIT seconds, instead of hanging."""
    monkeypatch.setattr(regexes, "BACKTRACK_LIMIT", 0.2)
    compiled = compile_user_regex(r"^(a|a)+(?=b)\1")
    assert compiled.engine == "backtracking"
    started = time.monotonic()
    with pytest.raises(RegexTimeout, match=r"took more than 0\.2s") as caught:
        compiled.search("a" * 30 + "c")
    assert time.monotonic() - started < 30  # bounded: far below re's hours
    assert caught.value.hint


def test_invalid_pattern_gives_a_hinted_error() -> None:
    """A pattern `re` rejects is a RegexError with re's message and a hint."""
    with pytest.raises(RegexError, match=r"invalid regular expression '\(a': missing \)") as caught:
        compile_user_regex("(a")
    assert caught.value.hint
