"""The one way splice makes a Rich console.

Everything splice prints carries user and system values (names, SQL, bodies, log lines),
so no value may be read as Rich syntax: emoji codes are off (`:id:` in `:id::uuid` would
print as an emoji), automatic highlighting is off, and callers escape values they put
into markup (`rich.markup.escape`) or print them with `markup=False`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console that prints values literally (see the module's docstring)."""
    options.setdefault("highlight", False)
    return Console(stderr=stderr, emoji=False, **options)
