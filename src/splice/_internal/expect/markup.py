"""XPath and CSS selectors on XML and HTML text, for the `$xpath` and `$css` matchers.

lxml parses the text (as XML when it is well-formed XML, else as HTML, which forgives what
browsers forgive) and evaluates XPath 1.0; cssselect turns CSS selectors into XPath. Both
are the `xml` extra. What a selector finds is matched like any value:

- a node set is a list: of elements' text (all of it, stripped), of attribute values, of
  text nodes;
- an XPath function's result stays a scalar: `count(//li)` a number (an integer when whole),
  `string(//h1)` a string, `boolean(//form)` true or false.
"""

from __future__ import annotations

import functools
from typing import Any

INSTALL = "pip install 'splice[xml]'"


class SelectorError(ValueError):
    """A selector that does not parse, or the libraries are missing; message and hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _lxml() -> Any:
    try:
        from lxml import etree
    except ImportError as exc:
        raise SelectorError("XPath and CSS matchers need lxml", INSTALL) from exc
    return etree


@functools.lru_cache(maxsize=512)
def compiled_xpath(expression: str) -> Any:
    """The compiled XPath; SelectorError when it does not parse."""
    etree = _lxml()
    try:
        return etree.XPath(expression)
    except etree.XPathSyntaxError as exc:
        raise SelectorError(
            f"invalid XPath {expression!r}: {exc}",
            "XPath 1.0, e.g. //h1, //a/@href, count(//li), string(//title)",
        ) from exc


@functools.lru_cache(maxsize=512)
def css_as_xpath(selector: str) -> Any:
    """The CSS selector as a compiled XPath; SelectorError when it does not parse."""
    try:
        from cssselect import GenericTranslator
        from cssselect import SelectorError as CssError
    except ImportError as exc:
        raise SelectorError("the CSS matcher needs cssselect", INSTALL) from exc
    try:
        expression = GenericTranslator().css_to_xpath(selector)
    except CssError as exc:
        raise SelectorError(
            f"invalid CSS selector {selector!r}: {exc}", "e.g. h1, ul > li.item, a[href]"
        ) from exc
    return compiled_xpath(expression)


def parse(text: str) -> Any:
    """The document in `text` (parsed for each check: lxml trees are not for sharing
    between the threads of `--jobs`); entities are not resolved, nothing is fetched."""
    etree = _lxml()
    data = text.encode("utf-8")
    try:
        return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        from lxml import html

        try:
            return html.fromstring(data)
        except (etree.ParserError, ValueError) as exc:
            raise SelectorError(f"the text is neither XML nor HTML: {exc}", "") from exc


def select(xpath: Any, document: Any) -> Any:
    """What the compiled `xpath` finds in a parsed document, as plain values."""
    found = xpath(document)
    if isinstance(found, list):
        return [_plain(item) for item in found]
    if isinstance(found, float) and found.is_integer():
        return int(found)
    return _plain(found)


def _plain(item: Any) -> Any:
    if isinstance(item, bool | int | float):
        return item
    if hasattr(item, "itertext"):  # an element
        return " ".join("".join(item.itertext()).split())
    return str(item)  # attribute values and text nodes are "smart strings"
