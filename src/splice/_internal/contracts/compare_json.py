"""Structural comparison of JSON bodies (and message contents) under a pact's rules.

Without a rule, values must be equal: objects must have every expected key (extra keys are
allowed in responses and messages, not in requests, as Postel's law and the Pact
specification say), arrays must have the same elements in the same order. A rule changes
that at its path and below: `type` compares types and lets arrays grow (each element is
held to the first expected one), `min`/`max` bound the length, a wildcard rule (`$.a.*`)
or `values` holds every key of an object to the expected value, `eachKey`/`eachValue`
check every key or value, and `arrayContains` looks for each variant anywhere in the array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splice._internal.contracts.matchers import check, json_type
from splice._internal.contracts.problems import Mismatch, show_path
from splice._internal.contracts.rules import STAR, Matcher, RuleList, Rules, path_weight
from splice._internal.expect.vocabulary import show, show_typed

_TEMPLATED = frozenset({"type", "values", "eachValue", "notEmpty"})
# matchers about a container's keys or elements, which do not cascade to what is inside
_CONTAINER_ONLY = frozenset({"values", "eachKey", "eachValue", "arrayContains"})


class JsonComparison:
    """Compares one expected JSON value with an actual one; collects `mismatches`."""

    def __init__(
        self, rules: Rules, *, category: str = "body", root: str = "body", allow_extra: bool
    ) -> None:
        self.rules = rules
        self.category = category
        self.root = root
        self.allow_extra = allow_extra
        self.mismatches: list[Mismatch] = []

    def run(self, expected: Any, actual: Any) -> list[Mismatch]:
        self.compare(expected, actual, ())
        return self.mismatches

    def _fail(self, path: tuple[str | int, ...], message: str) -> None:
        self.mismatches.append(Mismatch(show_path(self.root, path), message))

    def compare(self, expected: Any, actual: Any, path: tuple[str | int, ...]) -> None:
        key = tuple(str(p) for p in path)
        found = self.rules.best_with_depth(self.category, key)
        rule = found[0] if found else None
        if found is not None and found[1] < len(key) and rule is not None:
            # inherited from above: only the matchers that cascade to what is inside, and
            # a type match without its bounds (min/max are about the array they name)
            kept = tuple(
                Matcher(m.kind, {k: v for k, v in m.params.items() if k not in ("min", "max")})
                for m in rule.matchers
                if m.kind not in _CONTAINER_ONLY
            )
            rule = RuleList(kept, rule.combine) if kept else None
        if rule is not None:
            self._with_rule(rule, expected, actual, path)
        elif isinstance(expected, Mapping) and isinstance(actual, Mapping):
            self._objects(expected, actual, path, templated=False)
        elif isinstance(expected, list) and isinstance(actual, list):
            self._arrays(expected, actual, path, templated=False)
        else:
            self._scalars(expected, actual, path)

    def _scalars(self, expected: Any, actual: Any, path: tuple[str | int, ...]) -> None:
        if json_type(expected) != json_type(actual):
            self._fail(path, f"expected {show_typed(expected)}, got {show_typed(actual)}")
        elif expected != actual:
            self._fail(path, f"expected {show(expected)}, got {show(actual)}")

    # --- with a rule ------------------------------------------------------------------------

    def _with_rule(
        self, rule: RuleList, expected: Any, actual: Any, path: tuple[str | int, ...]
    ) -> None:
        failures: list[list[Mismatch]] = []
        for matcher in rule.matchers:
            failures.append(self._one(matcher, expected, actual, path))
        if rule.combine == "OR" and any(not f for f in failures):
            return
        for found in failures:
            self.mismatches.extend(found)

    def _one(
        self, matcher: Matcher, expected: Any, actual: Any, path: tuple[str | int, ...]
    ) -> list[Mismatch]:
        outer, self.mismatches = self.mismatches, []
        try:
            message = check(matcher, expected, actual)
            if message:
                self._fail(path, message)
            elif matcher.kind == "arrayContains":
                self._array_contains(matcher, expected, actual, path)
            elif matcher.kind == "eachKey":
                self._each_key(matcher, actual, path)
            elif matcher.kind == "eachValue":
                self._each_value(matcher, expected, actual, path)
            elif isinstance(actual, Mapping) and isinstance(expected, Mapping):
                self._objects(expected, actual, path, templated=matcher.kind in _TEMPLATED)
            elif isinstance(actual, list) and isinstance(expected, list):
                self._arrays(expected, actual, path, templated=matcher.kind in _TEMPLATED)
            return self.mismatches
        finally:
            self.mismatches = outer

    # --- containers -------------------------------------------------------------------------

    def _wildcard_below(self, path: tuple[str | int, ...]) -> bool:
        key = tuple(str(p) for p in path)
        for _, tokens, _rule in self.rules.category(self.category):
            wildcard = len(tokens) == len(key) + 1 and tokens[-1].text == STAR
            if wildcard and path_weight(tokens[:-1], key):
                return True
        return False

    def _objects(
        self,
        expected: Mapping[str, Any],
        actual: Mapping[str, Any],
        path: tuple[str | int, ...],
        *,
        templated: bool,
    ) -> None:
        rule = self.rules.best(self.category, tuple(str(p) for p in path))
        every = self._wildcard_below(path)
        if rule is not None and any(m.kind == "values" for m in rule.matchers):
            every = True
        if every and expected:
            first = next(iter(expected.values()))
            for name, value in actual.items():
                self.compare(expected.get(name, first), value, (*path, name))
            return
        for name, value in expected.items():
            if name not in actual:
                self._fail((*path, name), f"missing key, expected {show(value)}")
            else:
                self.compare(value, actual[name], (*path, name))
        if not self.allow_extra and not templated:
            for name, value in actual.items():
                if name not in expected:
                    self._fail((*path, name), f"unexpected key with value {show(value)}")

    def _arrays(
        self,
        expected: list[Any],
        actual: list[Any],
        path: tuple[str | int, ...],
        *,
        templated: bool,
    ) -> None:
        if templated:
            if not expected:
                return
            for i, value in enumerate(actual):
                self.compare(expected[i] if i < len(expected) else expected[0], value, (*path, i))
            return
        for i in range(max(len(expected), len(actual))):
            if i >= len(actual):
                self._fail((*path, i), f"missing element, expected {show(expected[i])}")
            elif i >= len(expected):
                self._fail((*path, i), f"unexpected element {show(actual[i])}")
            else:
                self.compare(expected[i], actual[i], (*path, i))

    def _array_contains(
        self, matcher: Matcher, expected: Any, actual: Any, path: tuple[str | int, ...]
    ) -> None:
        examples = expected if isinstance(expected, list) else []
        for n, variant in enumerate(matcher.get("variants") or []):
            if not isinstance(variant, Mapping):
                continue
            index = variant.get("index", n)
            wanted = examples[index] if isinstance(index, int) and index < len(examples) else None
            sub_rules = Rules.read({"body": variant.get("rules") or {}})
            if not any(
                not JsonComparison(sub_rules, allow_extra=self.allow_extra).run(wanted, item)
                for item in actual
            ):
                self._fail(path, f"no element matches variant {n} ({show(wanted)})")

    def _each_key(self, matcher: Matcher, actual: Any, path: tuple[str | int, ...]) -> None:
        if not isinstance(actual, Mapping):
            return
        inner = _inner(matcher)
        for name in actual:
            for m in inner:
                message = check(m, name, name, text=True)
                if message:
                    self._fail((*path, name), f"key {name!r}: {message}")

    def _each_value(
        self, matcher: Matcher, expected: Any, actual: Any, path: tuple[str | int, ...]
    ) -> None:
        inner = _inner(matcher)
        items = list(actual.items()) if isinstance(actual, Mapping) else list(enumerate(actual))
        template: Any = matcher.get("value")
        if template is None:
            if isinstance(expected, Mapping) and expected:
                template = next(iter(expected.values()))
            elif isinstance(expected, list) and expected:
                template = expected[0]
        for name, value in items:
            for m in inner:
                message = check(m, template, value)
                if message:
                    self._fail((*path, name), message)
            if not inner and template is not None:
                self.compare(template, value, (*path, name))


def _inner(matcher: Matcher) -> list[Matcher]:
    """The matchers an eachKey / eachValue matcher holds (already checked by the reader)."""
    rules = matcher.get("rules") or []
    return [Matcher(r["match"], {k: v for k, v in r.items() if k != "match"}) for r in rules]
