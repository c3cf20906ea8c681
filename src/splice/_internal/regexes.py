"""Regular expressions that users write: one compiler for every place that takes one.

Expect matchers (`$regex`), regex captures, the mock's stub matchers (`regex`,
`not_regex`, `path_regex`, `url_regex`, body `regex`), scrub patterns and a process's
`ready: {log: ...}` all compile their pattern here, so they share one dialect and one
guarantee: **matching never hangs a run**.

- The dialect is Python's `re` syntax; a pattern is checked with `re` first, so a typo
  gives the same message everywhere.
- Patterns run on RE2 (google-re2), whose matching time is linear in the text: a
  catastrophic pattern such as `^(a+)+$` answers at once. The pattern is translated so that
  RE2 gives Python's answers: `\\d`, `\\w`, `\\s` are Unicode classes, `\\Z` is the end, `a{,3}`
  is a repetition.
- Patterns RE2 cannot run (backreferences `\\1`, lookahead and lookbehind `(?=...)`,
  `(?<!...)`, atomic groups, possessive quantifiers, `(?x)`) run on the `regex` module, a
  backtracking engine compatible with `re` that can be stopped: each match gets at most
  `BACKTRACK_LIMIT` seconds, after which it fails with `RegexTimeout`. So do the few texts
  where RE2 and Python disagree: `\\b` on non-ASCII text and `$` before the last of several
  line breaks.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

BACKTRACK_LIMIT = 1.0  # seconds one match may take on the backtracking engine

# Python's `\s` on text: str.isspace(), the Unicode white space
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
# Python's `\w` on text: str.isalnum() or '_'; `\d`: str.isdecimal()
_WORD = r"\p{L}\p{N}_"
_DIGIT = r"\p{Nd}"
_CLASS_ESCAPES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_SIMPLE_ESCAPES = {"a": 0x07, "f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
_QUANTIFIER = re.compile(r"\{(\d*)(,?)(\d*)\}")


class RegexError(ValueError):
    """A pattern that cannot be used: `message` says why, `hint` what to do, `detail` is
    the engine's own words (re's "missing ), unterminated subpattern at position 0")."""

    def __init__(self, message: str, hint: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail or message


class RegexTimeout(RegexError):
    """A match on the backtracking engine ran out of time."""


class Match(Protocol):
    """What both engines' match objects offer."""

    def group(self, *groups: int | str) -> Any: ...
    def groups(self) -> tuple[Any, ...]: ...
    def groupdict(self) -> dict[str, Any]: ...
    def start(self, group: int | str = 0) -> int: ...
    def end(self, group: int | str = 0) -> int: ...


class _Untranslatable(Exception):
    """The pattern uses something RE2 has no exact equivalent for."""


@dataclass
class _Translation:
    text: str  # `$` left as the placeholder \x00 until a variant is made
    dollar: bool = False  # has a `$` outside multiline mode
    word_boundary: bool = False  # has \b or \B (ASCII-only in RE2)


@dataclass(eq=False)
class UserRegex:
    """A compiled user pattern; `search`, `fullmatch` and `finditer` like `re`'s."""

    pattern: str
    ignore_case: bool
    groups: int
    groupindex: Mapping[str, int]
    engine: str  # "re2", or "backtracking" for patterns RE2 cannot run
    reason: str | None = None  # why RE2 could not run it
    _plain: Any = None  # RE2, `$` at the very end
    _one_line: Any = None  # RE2, `$` also before a final line break (texts with one)
    _translation: _Translation | None = None
    _fallback: Any = field(default=None, repr=False)
    _python: Any = field(default=None, repr=False)  # re's own, for the empty text only
    # RE2's low-level Match of `_plain`, for ASCII text, where bytes and characters are
    # one: it skips the module's per-call work of mapping UTF-8 offsets back (5x faster)
    _direct: Any = field(default=None, repr=False)
    _dollar: bool = False

    def search(self, text: str) -> Match | None:
        if (
            self._direct is not None
            and text
            and text.isascii()
            and not (self._dollar and text[-1] == "\n")
        ):
            spans = self._direct(_UNANCHORED, text.encode("ascii"), 0, len(text))
            return None if spans[0][0] < 0 else _Spans(text, spans, self.groupindex)
        compiled = self._engine_for(text)
        if compiled is None:
            return self._bounded("search", text)  # type: ignore[no-any-return]
        return compiled.search(text)  # type: ignore[no-any-return]

    def fullmatch(self, text: str) -> Match | None:
        if (
            self._direct is not None
            and text
            and text.isascii()
            and not (self._dollar and text[-1] == "\n")
        ):
            spans = self._direct(_BOTH, text.encode("ascii"), 0, len(text))
            return None if spans[0][0] < 0 else _Spans(text, spans, self.groupindex)
        compiled = self._engine_for(text)
        if compiled is None:
            return self._bounded("fullmatch", text)  # type: ignore[no-any-return]
        return compiled.fullmatch(text)  # type: ignore[no-any-return]

    def finditer(self, text: str) -> Iterator[Match]:
        compiled = self._engine_for(text)
        if compiled is not None:
            found = list(compiled.finditer(text))
            # after an empty match, re looks for a longer one at the same place; RE2's
            # iteration does not, so those few are left to the backtracking engine
            if all(m.end() > m.start() for m in found):
                return iter(found)
        return iter(self._bounded("finditer", text))

    def sub(self, replacement: str, text: str) -> str:
        """`text` with every match replaced by `replacement`, taken literally."""
        out, last = [], 0
        for found in self.finditer(text):
            out += [text[last : found.start()], replacement]
            last = found.end()
        return "".join([*out, text[last:]])

    def finds(self, text: str) -> bool:
        """Whether the pattern occurs in `text`; a match that runs out of time is no match
        (for the mock, which must answer every request)."""
        try:
            return self.search(text) is not None
        except RegexTimeout:
            return False

    def _engine_for(self, text: str) -> Any:
        """The RE2 program that gives Python's answer on `text`, or None."""
        if not text:
            return self._python  # no text, no backtracking; and only re's \B fails on ''
        t = self._translation
        if t is None:
            return None
        if t.word_boundary and not text.isascii():
            return None
        if t.dollar and text.endswith("\n"):
            return self._one_line if text.count("\n") == 1 else None
        return self._plain

    def _bounded(self, how: str, text: str) -> Any:
        compiled = self._fallback_pattern()
        try:
            if how == "finditer":
                return list(compiled.finditer(text, timeout=BACKTRACK_LIMIT))
            return getattr(compiled, how)(text, timeout=BACKTRACK_LIMIT)
        except TimeoutError as exc:
            raise RegexTimeout(
                f"regular expression {self.pattern!r} took more than {BACKTRACK_LIMIT:g}s "
                f"on a text of {len(text)} characters",
                (f"it needs a backtracking engine ({self.reason}); " if self.reason else "")
                + "make its repetitions unambiguous, e.g. (a+)+ as a+",
            ) from exc

    def _fallback_pattern(self) -> Any:
        if self._fallback is None:
            import regex

            flags = regex.VERSION0 | (regex.IGNORECASE if self.ignore_case else 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._fallback = regex.compile(self.pattern, flags)
        return self._fallback


@functools.lru_cache(maxsize=1024)
def compile_user_regex(pattern: str, *, ignore_case: bool = False) -> UserRegex:
    """Compile once per pattern; `RegexError` with a hint for one that `re` rejects."""
    if not isinstance(pattern, str):
        raise RegexError(f"a regular expression must be text, got {pattern!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning on '[[' and the like
            checked = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise RegexError(
            f"invalid regular expression {pattern!r}: {exc}",
            "patterns use Python's re syntax; in YAML, single quotes keep backslashes",
            str(exc),
        ) from exc
    base = {
        "pattern": pattern,
        "ignore_case": ignore_case,
        "groups": checked.groups,
        "groupindex": dict(checked.groupindex),
    }
    try:
        translation = _translate(pattern)
        plain = _re2(translation, "$", ignore_case)
        one_line = _re2(translation, "(?m:$)", ignore_case) if translation.dollar else plain
    except _Untranslatable as exc:
        return UserRegex(
            **base,  # type: ignore[arg-type]
            engine="backtracking",
            reason=str(exc),
            _python=checked,
        )
    return UserRegex(
        **base,  # type: ignore[arg-type]
        engine="re2",
        _plain=plain,
        _one_line=one_line,
        _translation=translation,
        _python=checked,
        _direct=getattr(getattr(plain, "_regexp", None), "Match", None) if _BOTH else None,
        _dollar=translation.dollar,
    )


class _Spans:
    """A match from RE2's spans: what `Match` offers, on ASCII text."""

    __slots__ = ("_groupindex", "_spans", "_text")

    def __init__(self, text: str, spans: list[tuple[int, int]], groupindex: Mapping[str, int]):
        self._text, self._spans, self._groupindex = text, spans, groupindex

    def _index(self, group: int | str) -> int:
        return self._groupindex[group] if isinstance(group, str) else group

    def span(self, group: int | str = 0) -> tuple[int, int]:
        return self._spans[self._index(group)]

    def start(self, group: int | str = 0) -> int:
        return self.span(group)[0]

    def end(self, group: int | str = 0) -> int:
        return self.span(group)[1]

    def group(self, *groups: int | str) -> Any:
        found = [self._one(g) for g in groups or (0,)]
        return found[0] if len(found) == 1 else tuple(found)

    def _one(self, group: int | str) -> str | None:
        start, end = self.span(group)
        return None if start < 0 else self._text[start:end]

    def groups(self, default: Any = None) -> tuple[Any, ...]:
        return tuple(
            default if (value := self._one(i)) is None else value
            for i in range(1, len(self._spans))
        )

    def groupdict(self, default: Any = None) -> dict[str, Any]:
        return {
            name: default if (value := self._one(i)) is None else value
            for name, i in self._groupindex.items()
        }


def _anchors() -> tuple[Any, Any]:
    """RE2's anchors for its low-level Match call; None when the bindings have none."""
    try:
        import re2

        return re2._Anchor.UNANCHORED, re2._Anchor.ANCHOR_BOTH
    except (ImportError, AttributeError):  # another version of the bindings
        return None, None


_UNANCHORED, _BOTH = _anchors()


def _re2(translation: _Translation, dollar: str, ignore_case: bool) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(translation.text.replace("\x00", dollar), options)
    except re2.error as exc:
        raise _Untranslatable(_re2_reason(exc)) from exc


def _re2_reason(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return f"RE2 refused it: {text}"  # e.g. a repetition over 1000


def _translate(pattern: str) -> _Translation:  # noqa: PLR0915 - one pass over the syntax
    """Python syntax into RE2 syntax with Python's meaning, or `_Untranslatable`."""
    out: list[str] = []
    t = _Translation("")
    i, n = 0, len(pattern)
    multiline = False
    if pattern.startswith("(?"):
        flags = re.match(r"\(\?([aiLmsux]+)\)", pattern)
        if flags:
            letters = flags.group(1)
            if set(letters) & set("aLx"):
                raise _Untranslatable(f"the (?{letters}) flags")
            multiline = "m" in letters
            kept = "".join(c for c in letters if c in "ims")
            out.append(f"(?{kept})" if kept else "")
            i = flags.end()
    while i < n:
        c = pattern[i]
        if c == "\\":
            text, i = _escape(pattern, i, in_class=False, t=t)
            out.append(text)
            continue
        if c == "[":
            text, i = _char_class(pattern, i, t)
            out.append(text)
            continue
        if c == "(":
            if pattern.startswith("(?#", i):
                end = pattern.index(")", i)
                i = end + 1
                continue
            if pattern.startswith("(?", i) and not pattern.startswith(("(?:", "(?P<"), i):
                follower = pattern[i + 2 : i + 4]
                if follower[:1] in ("=", "!") or follower in ("<=", "<!"):
                    raise _Untranslatable("lookaround")
                if follower[:1] == ">":
                    raise _Untranslatable("an atomic group")
                if follower[:1] == "(":
                    raise _Untranslatable("a conditional group")
                if pattern.startswith("(?P=", i):
                    raise _Untranslatable("a backreference")
                raise _Untranslatable("scoped flags")  # (?i:...) and the like
            out.append(c)
            i += 1
            continue
        if c == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier and (quantifier.group(1) or quantifier.group(2)):
                low, comma, high = quantifier.groups()
                out.append("{" + (low or "0") + comma + high + "}")
                i = quantifier.end()
            else:
                out.append(r"\{")
                i += 1
            if i < n and pattern[i] == "+":
                raise _Untranslatable("a possessive quantifier")
            continue
        if c in "*+?" and i + 1 < n and pattern[i + 1] == "+":
            raise _Untranslatable("a possessive quantifier")
        if c == "$":
            if multiline:
                out.append("$")
            else:
                out.append("\x00")
                t.dollar = True
            i += 1
            continue
        if c == "}":
            out.append(r"\}")
            i += 1
            continue
        out.append(c)
        i += 1
    t.text = "".join(out)
    return t


def _escape(pattern: str, i: int, *, in_class: bool, t: _Translation) -> tuple[str, int]:
    """One escape sequence starting at `pattern[i]` (a backslash)."""
    c = pattern[i + 1]
    i += 2
    if c in _CLASS_ESCAPES:
        inner = _CLASS_ESCAPES[c]
        return (inner if in_class else f"[{inner}]"), i
    if c in "DWS":
        if in_class:
            raise _Untranslatable(f"\\{c} inside a character class")
        return f"[^{_CLASS_ESCAPES[c.lower()]}]", i
    if c in "bB" and not in_class:
        t.word_boundary = True
        return "\\" + c, i
    if c == "b":  # in a class: a backspace
        return _char(0x08), i
    if c == "Z":
        return r"\z", i
    if c == "A":
        return r"\A", i
    if c in _SIMPLE_ESCAPES:
        return _char(_SIMPLE_ESCAPES[c]), i
    if c == "x":
        return _char(int(pattern[i : i + 2], 16)), i + 2
    if c == "u":
        return _char(int(pattern[i : i + 4], 16)), i + 4
    if c == "U":
        return _char(int(pattern[i : i + 8], 16)), i + 8
    if c == "N":
        end = pattern.index("}", i)
        return _char(ord(unicodedata.lookup(pattern[i + 1 : end]))), end + 1
    if c == "0" or (c in "1234567" and (in_class or _octal_at(pattern, i - 1))):
        digits = re.match(r"[0-7]{1,3}", pattern[i - 1 :])
        assert digits is not None
        return _char(int(digits.group(), 8)), i - 1 + len(digits.group())
    if c.isdigit():
        raise _Untranslatable("a backreference")
    return _char(ord(c)), i  # an escaped punctuation mark (or space): itself


def _octal_at(pattern: str, i: int) -> bool:
    """Python reads `\\123` (three octal digits) as a character, `\\12` as a group."""
    return re.match(r"[0-7]{3}", pattern[i:]) is not None


def _char_class(pattern: str, i: int, t: _Translation) -> tuple[str, int]:
    """A `[...]` class from `pattern[i]`; Python's literal `[` and leading `]` escaped."""
    out = ["["]
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        c = pattern[i]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        if c == "\\":
            text, i = _escape(pattern, i, in_class=True, t=t)
            out.append(text)
        else:
            out.append(_char(ord(c)) if c in "[]" else c)  # RE2 reads [:alpha:]
            i += 1
        first = False
    raise _Untranslatable("an unclosed class")  # `re` has rejected it already


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"
