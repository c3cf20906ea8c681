"""Scrubbing secrets out of recorded exchanges before anything is written.

Rules name where secrets are: request and response `headers`, `query` parameters (and
form fields), `json` fields (a key name at any depth, or a JSONPath like `$.card.number`),
and `patterns` (regular expressions over any text). Every value found by a name rule is
then also replaced wherever else it appears in the exchange: an API that echoes the
`Authorization` header in its response body does not leak the token into the cassette.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

from splice._internal.doubles.jsonpaths import compile_path
from splice._internal.regexes import RegexTimeout, compile_user_regex

REPLACEMENT = "<scrubbed>"
_MIN_SECRET = 4  # shorter values are too likely to occur by chance ("1", "eur")
_AUTH_SCHEMES = ("bearer ", "basic ", "token ", "digest ")


@dataclass
class Scrubber:
    """Rules applied to an exchange; `secrets` collects what they found."""

    headers: list[str] = field(default_factory=list)
    query: list[str] = field(default_factory=list)
    json: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    replacement: str = REPLACEMENT

    def __post_init__(self) -> None:
        self._headers = {h.lower() for h in self.headers}
        self._query = set(self.query)
        self._keys = {k for k in self.json if not k.startswith("$")}
        self._paths = [compile_path(p) for p in self.json if p.startswith("$")]
        self._patterns = [compile_user_regex(p) for p in self.patterns]

    @property
    def empty(self) -> bool:
        return not (self._headers or self._query or self._keys or self._paths or self._patterns)

    # parts ---------------------------------------------------------------------------
    def scrub_headers(self, headers: dict[str, Any], found: set[str]) -> dict[str, Any]:
        out = {}
        for name, value in headers.items():
            if name.lower() in self._headers:
                _remember(found, value)
            out[name] = self.replacement if name.lower() in self._headers else value
        return out

    def scrub_pairs(self, pairs: list[tuple[str, str]], found: set[str]) -> list[tuple[str, str]]:
        out = []
        for name, value in pairs:
            if name in self._query:
                _remember(found, value)
            out.append((name, self.replacement if name in self._query else value))
        return out

    def scrub_query_string(self, query: str, found: set[str]) -> str:
        if not query or not self._query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode(self.scrub_pairs(pairs, found))

    def scrub_json(self, value: Any, found: set[str]) -> Any:
        for path in self._paths:
            for match in path.find(value):
                _remember(found, match.value)
            value = path.update(value, self.replacement) if path.find(value) else value
        return self._keys_out(value, found) if self._keys else value

    def _keys_out(self, value: Any, found: set[str]) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if k in self._keys:
                    _remember(found, v)
                    out[k] = self.replacement
                else:
                    out[k] = self._keys_out(v, found)
            return out
        if isinstance(value, list):
            return [self._keys_out(v, found) for v in value]
        return value

    # everywhere ----------------------------------------------------------------------
    def scrub_text(self, text: str, found: set[str]) -> str:
        """Patterns, then every secret found so far, longest first."""
        for pattern in self._patterns:
            try:
                text = pattern.sub(self.replacement, text)
            except RegexTimeout:  # what cannot be searched in time is not kept at all
                text = self.replacement
        for secret in sorted(found, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, self.replacement)
        return text

    def everywhere(self, value: Any, found: set[str]) -> Any:
        """`value` (nested data) with every string passed through `scrub_text`."""
        if isinstance(value, str):
            return self.scrub_text(value, found)
        if isinstance(value, dict):
            return {self.everywhere(k, found): self.everywhere(v, found) for k, v in value.items()}
        if isinstance(value, list):
            return [self.everywhere(v, found) for v in value]
        return value


def _remember(found: set[str], value: Any) -> None:
    if isinstance(value, dict | list) or value is None:
        return
    text = str(value)
    if len(text) >= _MIN_SECRET:
        # as written, and as it reads inside a URL
        found.update({text, quote(text, safe=""), quote_plus(text)})
    lower = text.lower()
    for scheme in _AUTH_SCHEMES:
        if lower.startswith(scheme) and len(text) - len(scheme) >= _MIN_SECRET:
            found.add(text[len(scheme) :].strip())
