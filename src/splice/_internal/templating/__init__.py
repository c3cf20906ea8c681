"""Templating of parsed values and expressions (sandboxed Jinja2, typed results).

Templates that only read variables (`{{ base_url }}/items/{{ item.id }}`) are done by
`simple` without importing Jinja2; every other one by `sandbox`. Both give the same results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splice._internal.templating import simple
from splice._internal.templating.failure import TemplateFailure

__all__ = [
    "TemplateFailure",
    "evaluate",
    "find_variables",
    "is_template",
    "render",
    "syntax_error",
]


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every template string inside `value` (dicts, lists, scalars)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        pieces = simple.parse(value)
        if pieces is not None:
            done = simple.render(pieces, scope)
            if done is not simple.MISS:
                return done
        from splice._internal.templating import sandbox

        return sandbox.render(value, scope)
    if isinstance(value, dict):
        return {render(k, scope): render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope) for v in value]
    return value


def evaluate(expression: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate a bare expression (`result.json.total > 3`); `{{ }}` around it is allowed."""
    pieces = _simple(expression, expression=True)
    names = simple.whole(pieces) if pieces is not None else None
    if names is not None:
        value = simple.lookup(names, scope)
        if value is not simple.MISS:
            return value
    from splice._internal.templating import sandbox

    return sandbox.evaluate(expression, scope)


def syntax_error(value: str, *, expression: bool = False) -> TemplateFailure | None:
    """The syntax problem in a template string or bare expression, if any (for `check`)."""
    if _simple(value, expression) is not None:
        return None
    from splice._internal.templating import sandbox

    return sandbox.syntax_error(value, expression=expression)


def find_variables(value: str, *, expression: bool = False) -> set[str]:
    """Top-level variable names a template or expression reads (for undefined checks)."""
    pieces = _simple(value, expression)
    if pieces is not None:
        return set(simple.variables(pieces))
    from splice._internal.templating import sandbox

    return sandbox.find_variables(value, expression=expression)


def _simple(value: str, expression: bool) -> tuple[simple.Piece, ...] | None:
    """The pieces of a simple template, or of a simple expression (one dotted name)."""
    if not expression:
        return simple.parse(value)
    bare = value.strip()
    pieces = simple.parse(bare if bare.startswith("{{") else "{{ " + bare + " }}")
    return pieces if pieces is not None and simple.whole(pieces) is not None else None
