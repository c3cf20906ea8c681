"""Which `services.NAME` a template refers to, found in its syntax tree (for checks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from splice._internal.templating import is_template, simple

if TYPE_CHECKING:
    from jinja2 import nodes


def attribute_uses(value: str, root: str) -> set[str]:
    """Names `x` used as `root.x` or `root['x']` in a template string."""
    if not is_template(value):
        return set()
    pieces = simple.parse(value)
    if pieces is not None:
        return simple.attributes(pieces, root)
    import jinja2
    from jinja2 import nodes

    try:
        ast = jinja2.Environment().parse(value)
    except jinja2.TemplateSyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == root:
            found.add(node.attr)
    for item in ast.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == root
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            found.add(item.arg.value)
    return found


def service_attributes(value: str) -> set[tuple[str, str]]:
    """(NAME, ATTR) pairs read as `services.NAME.ATTR` (or with `[...]`) in a template."""
    if not is_template(value):
        return set()
    pieces = simple.parse(value)
    if pieces is not None:  # plain reads: no Jinja2 to import
        return {
            (p[1], p[2])
            for p in pieces
            if isinstance(p, tuple) and len(p) > 2 and p[0] == "services"
        }
    import jinja2
    from jinja2 import nodes

    try:
        ast = jinja2.Environment().parse(value)
    except jinja2.TemplateSyntaxError:
        return set()
    found: set[tuple[str, str]] = set()
    access: list[nodes.Getattr | nodes.Getitem] = [
        *ast.find_all(nodes.Getattr),
        *ast.find_all(nodes.Getitem),
    ]
    for node in access:
        attr = _key(node)
        inner = node.node
        if attr is None or not isinstance(inner, nodes.Getattr | nodes.Getitem):
            continue
        name = _key(inner)
        root = inner.node
        if name is not None and isinstance(root, nodes.Name) and root.name == "services":
            found.add((name, attr))
    return found


def _key(node: nodes.Getattr | nodes.Getitem) -> str | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Getattr):
        return node.attr
    arg = node.arg
    return arg.value if isinstance(arg, nodes.Const) and isinstance(arg.value, str) else None


def walk_strings(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every string inside a value, with its path."""
    if isinstance(value, str):
        return [(loc, value)]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in walk_strings(v, (*loc, k))]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in walk_strings(v, (*loc, i))]
    return []
