"""Comparison of XML bodies under a pact's rules, as the Pact specification describes it.

Elements match by namespace and local name (prefixes do not matter), attributes by name and
value, text by value. Children are compared by name: the n-th `<item>` expected with the
n-th `<item>` found, so the order of differently named children is free, that of equally
named ones is not. A rule on an element (`type`, `min`, `max`) holds each child found to
the first expected child instead, and bounds how many there are. Rule paths name elements
by local name, attributes as `['@name']` and text as `#text`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from splice._internal.contracts.matchers import check
from splice._internal.contracts.problems import Mismatch
from splice._internal.contracts.rules import RuleList, Rules
from splice._internal.expect.vocabulary import show


def parse_xml(text: str) -> ET.Element:
    """The root element; ValueError with the parser's words for text that is not XML."""
    try:
        # expat (Python >= 3.7.1) refuses entity-expansion bombs
        return ET.fromstring(text.encode())
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element) -> str:
    parts = [element.text or ""] + [child.tail or "" for child in element]
    return "".join(parts).strip()


class XmlComparison:
    """Compares an expected XML document with an actual one; collects `mismatches`."""

    def __init__(self, rules: Rules, *, allow_extra: bool, root: str = "body") -> None:
        self.rules = rules
        self.allow_extra = allow_extra
        self.root = root
        self.mismatches: list[Mismatch] = []

    def run(self, expected: str, actual: str) -> list[Mismatch]:
        try:
            want = parse_xml(expected)
        except ValueError as exc:
            return [Mismatch(self.root, f"the pact's XML body cannot be read: {exc}")]
        try:
            got = parse_xml(actual)
        except ValueError as exc:
            return [Mismatch(self.root, f"expected an XML body, got one that is {exc}")]
        self._element(want, got, (_local(want.tag),), self.root + "." + _local(want.tag))
        return self.mismatches

    def _fail(self, shown: str, message: str) -> None:
        self.mismatches.append(Mismatch(shown, message))

    def _rule(self, path: tuple[str, ...]) -> RuleList | None:
        return self.rules.best("body", path)

    def _element(
        self, want: ET.Element, got: ET.Element, path: tuple[str, ...], shown: str
    ) -> None:
        if want.tag != got.tag:
            self._fail(shown, f"expected element <{want.tag}>, got <{got.tag}>")
            return
        self._attributes(want, got, path, shown)
        self._value(_text(want), _text(got), (*path, "#text"), shown + ".#text")
        rule = self._rule(path)
        if rule is not None and any(m.kind == "type" for m in rule.matchers):
            self._templated_children(rule, want, got, path, shown)
        else:
            self._children_by_name(want, got, path, shown)

    def _attributes(
        self, want: ET.Element, got: ET.Element, path: tuple[str, ...], shown: str
    ) -> None:
        for name, value in want.attrib.items():
            local = "@" + _local(name)
            where = f"{shown}['{local}']"
            if name not in got.attrib:
                self._fail(where, f"missing attribute, expected {show(value)}")
            else:
                self._value(value, got.attrib[name], (*path, local), where)
        if not self.allow_extra:
            for name, value in got.attrib.items():
                if name not in want.attrib:
                    self._fail(f"{shown}['@{_local(name)}']", f"unexpected attribute {show(value)}")

    def _value(self, want: str, got: str, path: tuple[str, ...], shown: str) -> None:
        rule = self._rule(path)
        if rule is None:
            if want != got:
                self._fail(shown, f"expected {show(want)}, got {show(got)}")
            return
        messages = [check(m, want, got, text=True) for m in rule.matchers]
        failed = [m for m in messages if m]
        if failed and (rule.combine == "AND" or len(failed) == len(messages)):
            for message in failed:
                self._fail(shown, message)

    def _templated_children(
        self, rule: RuleList, want: ET.Element, got: ET.Element, path: tuple[str, ...], shown: str
    ) -> None:
        found = list(got)
        for matcher in rule.matchers:
            low, high = matcher.get("min"), matcher.get("max")
            if low is not None and len(found) < low:
                self._fail(shown, f"expected at least {low} child element(s), got {len(found)}")
            if high is not None and len(found) > high:
                self._fail(shown, f"expected at most {high} child element(s), got {len(found)}")
        examples = list(want)
        if not examples:
            return
        for i, child in enumerate(found):
            template = examples[i] if i < len(examples) else examples[0]
            name = _local(template.tag)
            self._element(template, child, (*path, name), f"{shown}.{name}[{i}]")

    def _children_by_name(
        self, want: ET.Element, got: ET.Element, path: tuple[str, ...], shown: str
    ) -> None:
        wanted: dict[str, list[ET.Element]] = {}
        for child in want:
            wanted.setdefault(child.tag, []).append(child)
        present: dict[str, list[ET.Element]] = {}
        for child in got:
            present.setdefault(child.tag, []).append(child)
        for tag, children in wanted.items():
            name = _local(tag)
            others = present.get(tag, [])
            for i, child in enumerate(children):
                where = f"{shown}.{name}[{i}]"
                if i >= len(others):
                    self._fail(where, f"missing element <{name}>")
                else:
                    self._element(child, others[i], (*path, name), where)
            if not self.allow_extra:
                for i in range(len(children), len(others)):
                    self._fail(f"{shown}.{name}[{i}]", f"unexpected element <{name}>")
        if not self.allow_extra:
            for tag in present:
                if tag not in wanted:
                    self._fail(f"{shown}.{_local(tag)}", f"unexpected element <{_local(tag)}>")
