"""Path templates: `/users/{id}/orders/{order}` matches one segment per `{name}`, and the
names become `request.params.*` in response templates."""

from __future__ import annotations

import functools
import re

_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@functools.lru_cache(maxsize=1024)
def compile_template(template: str) -> re.Pattern[str]:
    """The regular expression of a path template; ValueError when it is malformed."""
    if not template.startswith("/"):
        raise ValueError(f"path template {template!r} must start with '/'")
    out = []
    pos = 0
    seen: set[str] = set()
    for found in _NAME.finditer(template):
        literal = template[pos : found.start()]
        if "{" in literal or "}" in literal:
            break
        name = found.group(1)
        if name in seen:
            raise ValueError(f"path template {template!r} names {{{name}}} twice")
        seen.add(name)
        out.append(re.escape(literal))
        out.append(f"(?P<{name}>[^/]+)")
        pos = found.end()
    rest = template[pos:]
    if "{" in rest or "}" in rest:
        raise ValueError(
            f"path template {template!r} has a brace that is not a {{name}} part; "
            "names are letters, digits and _"
        )
    out.append(re.escape(rest))
    return re.compile("".join(out))
