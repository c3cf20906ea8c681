"""Matching rules of a pact: their paths, the matchers they hold, and which rule applies where.

A pact's `matchingRules` come in three spellings, all read here into one `Rules` value:

- V2: one flat object keyed by `$.body.items[*].id`, `$.headers.Accept`, `$.path`, each value
  one matcher (`{"match": "type", "min": 1}`);
- V3 and V4: categories (`body`, `header`, `query`, `path`, `status`, `metadata`), each
  keyed by a path expression (body, metadata) or a name (header, query), each value
  `{"matchers": [...], "combine": "AND"}`; `path` and `status` hold the list directly.

A body rule applies to its path and to everything below it (a `type` rule on `$.items`
cascades into each item), and where several apply the most specific one wins: each path
token weighs 2 when it names the key or index exactly and 1 when it is a wildcard, weights
multiply, and a longer path wins a tie. These are the reference implementation's rules, so a
pact means the same here as in every other Pact tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from splice._internal.contracts.problems import PactProblem

CATEGORIES: Final = ("body", "header", "query", "path", "status", "metadata", "content")

# Every matcher of the V4 specification, with the keys it takes besides "match".
MATCHER_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "equality": (),
    "regex": ("regex",),
    "type": ("min", "max"),
    "min": ("min",),
    "max": ("max",),
    "minType": ("min",),
    "maxType": ("max",),
    "minmax": ("min", "max"),
    "include": ("value",),
    "integer": (),
    "decimal": (),
    "number": (),
    "boolean": (),
    "null": (),
    "date": ("format", "date"),
    "time": ("format", "time"),
    "timestamp": ("format", "timestamp"),
    "datetime": ("format",),
    "values": (),
    "arrayContains": ("variants",),
    "statusCode": ("status",),
    "notEmpty": (),
    "semver": (),
    "eachKey": ("rules", "value"),
    "eachValue": ("rules", "value"),
    "contentType": ("value",),
}


@dataclass(frozen=True)
class Matcher:
    """One matcher: its kind (`type`, `regex`, ...) and the settings it carries."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {"match": self.kind, **self.params}


@dataclass(frozen=True)
class RuleList:
    """The matchers at one path, combined with AND (all must pass) or OR (one must)."""

    matchers: tuple[Matcher, ...]
    combine: str = "AND"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"matchers": [m.to_json() for m in self.matchers]}
        if self.combine != "AND":
            out["combine"] = self.combine
        return out


# --- path expressions -----------------------------------------------------------------------

STAR: Final = "*"


@dataclass(frozen=True)
class Token:
    """One step of a path expression: a key, an index, `*` (any key) or `[*]` (any index)."""

    text: str
    index: bool = False  # written as [n] or [*]

    def weight(self, fragment: str) -> int:
        if self.text == STAR:
            return 1
        return 2 if self.text == fragment else 0


_BRACKETED: Final = re.compile(r"\[\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(\d+|\*))\s*\]")
_DOTTED: Final = re.compile(r"\.([^.\[\]]+)")


def parse_path(expression: str) -> tuple[Token, ...]:
    """`$.items[*].name` -> tokens after the root; raises ValueError on a malformed one."""
    text = expression.strip()
    if not text.startswith("$"):
        # header and query rules may be keyed by a bare name
        return (Token(text),)
    tokens: list[Token] = []
    i = 1
    while i < len(text):
        if text[i] == ".":
            m = _DOTTED.match(text, i)
            if not m:
                raise ValueError(f"expected a key after '.' at position {i}")
            tokens.append(Token(m.group(1)))
            i = m.end()
        elif text[i] == "[":
            m = _BRACKETED.match(text, i)
            if not m:
                raise ValueError(f"expected ['key'], [n] or [*] at position {i}")
            quoted = m.group(1) if m.group(1) is not None else m.group(2)
            if quoted is not None:
                tokens.append(Token(re.sub(r"\\(.)", r"\1", quoted)))
            else:
                tokens.append(Token(m.group(3), index=True))
            i = m.end()
        else:
            raise ValueError(f"unexpected {text[i]!r} at position {i}")
    return tuple(tokens)


def path_weight(tokens: Sequence[Token], path: Sequence[str]) -> int:
    """How well a rule's path covers `path` (0: not at all); the rule applies below it too."""
    if len(tokens) > len(path):
        return 0
    weight = 2  # the root
    for token, fragment in zip(tokens, path, strict=False):
        w = token.weight(fragment)
        if not w:
            return 0
        weight *= w
    return weight


# --- reading --------------------------------------------------------------------------------


def _matcher(raw: Any, where: tuple[Any, ...]) -> Matcher:
    if not isinstance(raw, Mapping):
        raise PactProblem("a matcher must be an object", where, 'write {"match": "type"}')
    params = {k: v for k, v in raw.items() if k != "match"}
    kind = raw.get("match")
    if kind is None:  # V2 style: the kind is implied by the keys
        if "regex" in raw:
            kind = "regex"
        elif "min" in raw or "max" in raw:
            kind = "type"
        else:
            kind = "equality"
    if not isinstance(kind, str) or kind not in MATCHER_KEYS:
        close = [k for k in MATCHER_KEYS if isinstance(kind, str) and k.lower() == kind.lower()]
        raise PactProblem(
            f"unknown matcher {kind!r}",
            (*where, "match"),
            f"did you mean {close[0]!r}?"
            if close
            else "expected one of " + ", ".join(sorted(MATCHER_KEYS)),
        )
    if kind in ("min", "minType", "max", "maxType", "minmax"):
        kind = "type"  # V2/V3 spellings of a type match with bounds
    if kind == "regex" and not isinstance(params.get("regex"), str):
        raise PactProblem("a regex matcher needs a 'regex' string", where, None)
    for bound in ("min", "max"):
        if bound in params and (not isinstance(params[bound], int) or params[bound] < 0):
            raise PactProblem(
                f"'{bound}' must be a whole number >= 0, not {params[bound]!r}", (*where, bound)
            )
    if kind in ("eachKey", "eachValue") and "rules" in params:
        rules = params["rules"]
        if not isinstance(rules, list):
            raise PactProblem("'rules' must be a list of matchers", (*where, "rules"))
        params["rules"] = [_matcher(r, (*where, "rules", i)).to_json() for i, r in enumerate(rules)]
    return Matcher(kind, params)


def _rule_list(raw: Any, where: tuple[Any, ...]) -> RuleList:
    if isinstance(raw, list):  # V4 path and status: the matchers themselves
        raw = {"matchers": raw}
    if not isinstance(raw, Mapping):
        raise PactProblem("a matching rule must be an object", where, None)
    if "matchers" not in raw:  # V2: one matcher
        return RuleList((_matcher(raw, where),))
    items = raw["matchers"]
    if not isinstance(items, list):
        raise PactProblem("'matchers' must be a list", (*where, "matchers"))
    combine = str(raw.get("combine", "AND")).upper()
    if combine not in ("AND", "OR"):
        raise PactProblem(
            f"'combine' must be AND or OR, not {raw.get('combine')!r}", (*where, "combine")
        )
    matchers = tuple(_matcher(m, (*where, "matchers", i)) for i, m in enumerate(items))
    return RuleList(matchers, combine)


@dataclass
class Rules:
    """Every matching rule of one request, response or message, by category."""

    paths: dict[str, list[tuple[str, tuple[Token, ...], RuleList]]] = field(default_factory=dict)

    @classmethod
    def read(cls, raw: Any, where: tuple[Any, ...] = ("matchingRules",)) -> Rules:
        """Read `matchingRules` in any spelling; a PactProblem names the bad entry."""
        rules = cls()
        if raw is None:
            return rules
        if not isinstance(raw, Mapping):
            raise PactProblem("'matchingRules' must be an object", where)
        if any(isinstance(k, str) and k.startswith("$") for k in raw):
            for key, value in raw.items():
                rules._add_v2(str(key), value, (*where, key))
            return rules
        for category, entries in raw.items():
            if category not in CATEGORIES:
                raise PactProblem(
                    f"unknown matching rule category {category!r}",
                    (*where, category),
                    "expected one of " + ", ".join(CATEGORIES),
                )
            if category in ("path", "status") and (
                isinstance(entries, list) or "matchers" in entries
            ):
                rules._put(category, "$", _rule_list(entries, (*where, category)), where)
                continue
            if not isinstance(entries, Mapping):
                raise PactProblem(f"'{category}' rules must be an object", (*where, category))
            for key, value in entries.items():
                rules._put(category, str(key), _rule_list(value, (*where, category, key)), where)
        return rules

    def _add_v2(self, key: str, value: Any, where: tuple[Any, ...]) -> None:
        m = re.match(r"\$\.(body|headers|header|query|path|status)(.*)$", key)
        if not m:
            raise PactProblem(f"matching rule path {key!r} names no part of the request", where)
        category = {"headers": "header"}.get(m.group(1), m.group(1))
        rest = m.group(2)
        if category in ("header", "query"):
            tokens = parse_path("$" + rest) if rest else ()
            name = tokens[0].text if tokens else ""
            self._put(category, name, _rule_list(value, where), where[:-1])
        else:
            self._put(category, "$" + rest, _rule_list(value, where), where[:-1])

    def _put(
        self, category: str, key: str, rule: RuleList, where: tuple[Any, ...] = ("matchingRules",)
    ) -> None:
        if category == "content":  # V4 messages call the body "content"
            category = "body"
        try:
            tokens = parse_path(key) if category in ("body", "metadata", "content") else ()
        except ValueError as exc:
            raise PactProblem(
                f"matching rule path {key!r} is malformed: {exc}",
                (*where, category, key),
                "write paths as $.items[*].name or $['a key']",
            ) from None
        self.paths.setdefault(category, []).append((key, tokens, rule))

    # --- lookup -----------------------------------------------------------------------------

    def best(self, category: str, path: Sequence[str]) -> RuleList | None:
        """The rule that applies at `path` (a body path as strings), or None."""
        found = self.best_with_depth(category, path)
        return found[0] if found else None

    def best_with_depth(self, category: str, path: Sequence[str]) -> tuple[RuleList, int] | None:
        """The rule that applies at `path` and the length of its own path (shorter than
        `path` when the rule is inherited from above)."""
        best: tuple[int, int, RuleList] | None = None
        for _, tokens, rule in self.paths.get(category, ()):
            w = path_weight(tokens, path)
            if w and (best is None or (w, len(tokens)) > best[:2]):
                best = (w, len(tokens), rule)
        return (best[2], best[1]) if best else None

    def exact(self, category: str, path: Sequence[str]) -> RuleList | None:
        """A rule written for exactly this path (wildcards allowed), not inherited from above."""
        for _, tokens, rule in self.paths.get(category, ()):
            if len(tokens) == len(path) and path_weight(tokens, path):
                return rule
        return None

    def named(self, category: str, name: str, *, fold: bool = False) -> RuleList | None:
        """The rule of a header (names compared case-insensitively) or a query parameter."""
        for key, _, rule in self.paths.get(category, ()):
            if key == name or (fold and key.lower() == name.lower()):
                return rule
        return None

    def category(self, category: str) -> list[tuple[str, tuple[Token, ...], RuleList]]:
        return self.paths.get(category, [])

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def to_json(self) -> dict[str, Any]:
        """The V4 spelling: categories, then paths, then `{"matchers": [...]}`."""
        out: dict[str, Any] = {}
        for category, entries in self.paths.items():
            if category in ("path", "status") and entries:
                out[category] = entries[0][2].to_json()
                continue
            out[category] = {key: rule.to_json() for key, _, rule in entries}
        return out
