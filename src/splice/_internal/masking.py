"""The one masker: secret values, and every spelling they take on their way out, replaced
with `****` in everything splice writes, serves or shows.

A secret is masked as written and in the forms it takes when it travels:

- percent-encoded, as in a URL's password (`p%40ss`): `quote` with and without `/` kept,
  `quote_plus`, JavaScript's `encodeURIComponent`, upper- and lower-case hex;
- JSON-escaped, as inside a JSON string (`\\"`, `\\u00fc`, `\\/`), and HTML-escaped;
- base64, standard and URL-safe, with and without padding; and inside longer base64 data
  (a binary body shown as base64, a JWT's payload) at any of the three alignments;
- in an HTTP `Basic` credential: the whole credential is masked when it decodes to
  something that holds a secret (`user:secret`).

Values shorter than `MIN_LENGTH` are not masked at all, and a base64 spelling only when it
has at least `MIN_ENCODED` characters besides its padding: shorter ones turn up by chance
in unrelated text and base64 data (hashes in the HTML report, binary bodies), which
masking would garble.

Nothing here imports the rest of splice, so every layer (services, doubles, runner, store,
front ends) uses the same masker.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from ahocorasick_rs import AhoCorasick, MatchKind

MASK = "****"
MIN_LENGTH = 3  # masking 1-2 character values would mangle unrelated text
MIN_ENCODED = 8  # shorter base64 spellings occur by chance inside other base64 data

_BASIC = re.compile(r"(?i)(\bbasic[ \t]+)([A-Za-z0-9+/_-]{4,}={0,2})")
_BASIC_WORDS = ("Basic ", "basic ", "BASIC ")
_HEX_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def spellings(secret: str) -> set[str]:
    """Every form of `secret` that is masked: itself first of all."""
    if len(secret) < MIN_LENGTH:
        return set()
    found = {secret}
    raw = _bytes(secret)
    for safe in ("", "/", "!'()*~"):
        encoded = quote(raw, safe=safe)
        found |= {encoded, _HEX_ESCAPE.sub(lambda m: m.group().lower(), encoded)}
    plus = quote_plus(raw)
    found |= {plus, _HEX_ESCAPE.sub(lambda m: m.group().lower(), plus)}
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        found |= {escaped, escaped.replace("/", "\\/")}
    found |= {html.escape(secret), html.escape(secret, quote=False)}
    found |= {s for s in _base64_forms(raw) if len(s.rstrip("=")) >= MIN_ENCODED}
    return found


def _bytes(text: str) -> bytes:
    """`text` as UTF-8; undecodable bytes it was read with (surrogates) as they were."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _base64_forms(data: bytes) -> set[str]:
    """The data in base64 alone (both alphabets, padded or not), and the part of the base64
    of any longer data that holds it and only it, for each of the three alignments."""
    forms = set()
    std = base64.b64encode(data).decode()
    forms |= {std, std.rstrip("=")}
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + data + b"\0\0").decode()
        forms.add(encoded[-(-4 * k // 3) : 4 * (k + len(data)) // 3])
    return forms | {f.replace("+", "-").replace("/", "_") for f in forms}


class _Search:
    """One generation of the masker: its values and spellings, the automaton that finds
    them in one pass (as fast with fifty secrets as with one), and a memo of short texts
    already masked. Never changed: adding a value makes the next generation, so a thread
    that masks while another adds sees one generation whole."""

    MEMO_TEXT = 256  # characters: header values, names, URLs repeat from step to step
    MEMO_SIZE = 8192

    def __init__(self, values: frozenset[str], forms: list[str]) -> None:
        self.values = values
        self.forms = forms
        # text with lone surrogates (undecodable bytes of an environment variable or a
        # file name) cannot be searched as text: those spellings live in `latin` alone
        usable = [f for f in forms if _encodable(f)]
        self.markers = len(usable)  # patterns from this index on are `_BASIC_WORDS`
        self.search = AhoCorasick([*usable, *_BASIC_WORDS], matchkind=MatchKind.LeftmostLongest)
        self.memo: dict[str, str] = {}
        self._latin: AhoCorasick | None = None

    @property
    def latin(self) -> AhoCorasick:
        """The same search over bytes read as Latin-1 (one character per byte, so any bytes
        read and written back unchanged): each spelling as its UTF-8 bytes."""
        if self._latin is None:
            patterns = [_latin(f) for f in self.forms]
            self._latin = AhoCorasick(
                [*patterns, *_BASIC_WORDS], matchkind=MatchKind.LeftmostLongest
            )
        return self._latin


class Masker:
    """Knows the run's secret values and replaces them, in every spelling, wherever they
    appear.

    Values are added as they become known (declared secrets, service passwords, captures
    marked secret), so a token captured at run time is masked in every later output.
    Listeners (`on_add`) hear of each new value: a mock that records, for one.
    """

    def __init__(self, replacement: str = MASK) -> None:
        self.replacement = replacement
        self._state: _Search | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []

    @property
    def values(self) -> frozenset[str]:
        """The secret values themselves (what a listener or a child process is given)."""
        state = self._state
        return state.values if state is not None else frozenset()

    def on_add(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call `listener(value)` for each value added from now on; returns the call that
        stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def add(self, value: Any) -> None:
        """Mask `value` from now on (a string, number, or the leaves of dicts and lists)."""
        known = self.values
        new = [v for v in _leaves(value) if len(v) >= MIN_LENGTH and v not in known]
        if not new:
            return
        with self._lock:
            state = self._state
            values = state.values if state is not None else frozenset()
            added = sorted(set(new) - values)
            if not added:
                return
            forms = set(state.forms) if state is not None else set()
            for text in added:
                forms |= spellings(text)
            self._state = _Search(values | set(added), sorted(forms))
            listeners = list(self._listeners)
        for text in added:
            for listener in listeners:
                listener(text)

    def add_all(self, values: Iterable[Any]) -> None:
        for value in values:
            self.add(value)

    def __bool__(self) -> bool:
        return self._state is not None

    def text(self, value: str) -> str:
        """`value` with every spelling of every secret replaced."""
        state = self._state
        if state is None:
            return value
        memo = state.memo
        done = memo.get(value)
        if done is not None:
            return done
        try:
            done = self._text(state, state.search, state.markers, value, self.replacement)
        except UnicodeEncodeError:  # lone surrogates: search its bytes instead
            replacement = _latin(self.replacement)
            masked = self._text(state, state.latin, len(state.forms), _latin(value), replacement)
            done = masked.encode("latin-1").decode("utf-8", "surrogatepass")
        if len(value) <= state.MEMO_TEXT and len(memo) < state.MEMO_SIZE:
            memo[value] = done
        return done

    def _text(
        self, state: _Search, search: AhoCorasick, markers: int, value: str, replacement: str
    ) -> str:
        found = search.find_matches_as_indexes(value)
        if not found:
            return value
        if any(i >= markers for i, _, _ in found) or "asic" in value or "ASIC" in value:
            value = _BASIC.sub(lambda m: _credential(state, m, replacement), value)
            found = [m for m in search.find_matches_as_indexes(value) if m[0] < markers]
            if not found:
                return value
        parts, last = [], 0
        for index, start, end in found:  # leftmost-longest: a longer spelling wins
            if index < markers:
                parts += [value[last:start], replacement]
                last = end
        parts.append(value[last:])
        return "".join(parts)

    def data(self, value: bytes) -> bytes:
        """Raw bytes (a log line, a body before it is recorded) with every secret replaced;
        bytes that are not UTF-8 pass through unchanged around the secrets."""
        state = self._state
        if state is None:
            return value
        text = value.decode("latin-1")
        replacement = _latin(self.replacement)  # its UTF-8 bytes
        masked = self._text(state, state.latin, len(state.forms), text, replacement)
        return value if masked is text else masked.encode("latin-1")

    def mask(self, value: Any) -> Any:
        """A copy of `value` (dicts, lists, strings) with every secret replaced."""
        state = self._state
        if state is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.mask(k): self.mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.replacement if str(value) in state.values else value
        return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _latin(text: str) -> str:
    """`text`'s UTF-8 bytes (lone surrogates too), one character per byte."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def _credential(state: _Search, match: re.Match[str], replacement: str) -> str:
    """`Basic xxx` masked whole when xxx decodes to text holding a secret."""
    token = match.group(2)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            decoded = decode(token + "=" * (-len(token) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        if any(secret in decoded for secret in state.values):
            return match.group(1) + replacement
    return match.group(0)


def _leaves(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [leaf for v in value for leaf in _leaves(v)]
    return [str(value)]
