"""Templates that only read variables, such as `{{ base_url }}/users/{{ user.id }}`, done
without Jinja2.

Most templates in suites are of this shape. Importing Jinja2 and building its sandbox costs
a short run ~30 ms, so `splice._internal.templating.sandbox` renders, checks and analyses these here
and hands every other template to Jinja2. A shape is taken only where the result is certain
to be Jinja2's own: a name found in the scope, then keys of plain dicts that are not also
attributes of a dict (Jinja2 reads `d.items` as the method), values of type str or int in
text; anything else (a missing name, a filter, a function, an object) goes to Jinja2, which
also gives the errors. A property test holds both ways to the same results.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

_PART = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
# outside the {{ name }} parts: braces (Jinja2 may read them with a part: `{{{ a }}` is a
# dict), statements and comments, and \r (Jinja2 normalises newlines)
_SPECIAL = ("{", "}", "{%", "%}", "{#", "#}", "\r")
# words Jinja2 reads as operators or constants, and the names of splice's template
# functions (`splice._internal.templating.functions.GLOBALS`, checked by a test)
RESERVED = frozenset(
    {"and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False"}
    | {"None", "topic", "uuid", "now", "random_int", "random_string", "env"}
)
MISS = object()  # a value that only Jinja2 can give (or an error only it can word)

Piece = str | tuple[str, ...]  # literal text, or a dotted name


@functools.lru_cache(maxsize=4096)
def parse(value: str) -> tuple[Piece, ...] | None:
    """The pieces of a simple template in order; None when it needs Jinja2."""
    pieces: list[Piece] = []
    pos = 0
    for match in _PART.finditer(value):
        literal = value[pos : match.start()]
        names = tuple(match.group(1).split("."))
        if any(s in literal for s in _SPECIAL) or any(
            n in RESERVED or n.startswith("_") for n in names
        ):
            return None
        if literal:
            pieces.append(literal)
        pieces.append(names)
        pos = match.end()
    tail = value[pos:]
    if any(s in tail for s in _SPECIAL):
        return None
    if tail:
        pieces.append(tail)
    return tuple(pieces)


def whole(pieces: tuple[Piece, ...]) -> tuple[str, ...] | None:
    """The name of a template that is one `{{ name }}` (whitespace around it allowed)."""
    names = [p for p in pieces if isinstance(p, tuple)]
    if len(names) != 1 or any(isinstance(p, str) and p.strip() for p in pieces):
        return None
    return names[0]


def lookup(names: tuple[str, ...], scope: Mapping[str, Any]) -> Any:
    """The value of a dotted name, or MISS where Jinja2 must decide."""
    if names[0] not in scope:
        return MISS
    value = scope[names[0]]
    for name in names[1:]:
        if type(value) is not dict or name not in value or hasattr(dict, name):
            return MISS
        value = value[name]
    return value


def render(pieces: tuple[Piece, ...], scope: Mapping[str, Any]) -> Any:
    """The rendered template (a whole `{{ name }}` keeps its type), or MISS."""
    only = whole(pieces)
    if only is not None:
        return lookup(only, scope)
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        value = lookup(piece, scope)
        if type(value) is str:
            out.append(value)
        elif type(value) is int:
            out.append(str(value))
        else:
            return MISS
    return "".join(out)


def variables(pieces: tuple[Piece, ...]) -> frozenset[str]:
    """Top-level names the template reads."""
    return frozenset(p[0] for p in pieces if isinstance(p, tuple))


def attributes(pieces: tuple[Piece, ...], root: str) -> set[str]:
    """Names `x` read as `root.x`."""
    return {p[1] for p in pieces if isinstance(p, tuple) and len(p) > 1 and p[0] == root}
