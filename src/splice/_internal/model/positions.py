"""Where each value of a document is: spans of values and mapping keys by their path.

Part of the model (a step keeps the positions of its mapping, so a plugin's problem found
at run time is shown at its place); filled by `splice._internal.source.yaml_source` while reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from splice._internal.errors import SourceSpan

PathKey = tuple[str | int, ...]


@dataclass
class Positions:
    """Spans of values (and of mapping keys) in one YAML document."""

    path: Path
    values: dict[PathKey, SourceSpan] = field(default_factory=dict)
    keys: dict[PathKey, SourceSpan] = field(default_factory=dict)
    # a view of a sub-tree (see `sub`) shares the tables and prefixes look-ups with `root`
    root: PathKey = ()

    def value(self, loc: PathKey) -> SourceSpan | None:
        """The span of the value at `loc`, or of its nearest enclosing value."""
        loc = self.root + loc
        for cut in range(len(loc), -1, -1):
            span = self.values.get(loc[:cut])
            if span is not None:
                return span
        return None

    def spans(self) -> list[tuple[PathKey, SourceSpan]]:
        """(relative path, span) of every value in this view, in file order."""
        n = len(self.root)
        found = [(k[n:], v) for k, v in self.values.items() if k[:n] == self.root]
        return sorted(found, key=lambda kv: (kv[1].line, kv[1].column))

    def key_names(self) -> set[str]:
        """Names of the mapping keys directly under this view's root."""
        n = len(self.root)
        return {str(k[n]) for k in self.keys if len(k) == n + 1 and k[:n] == self.root}

    def key(self, loc: PathKey) -> SourceSpan | None:
        """The span of the mapping key that names `loc`, falling back to the value."""
        return self.keys.get(self.root + loc) or self.value(loc)

    def sub(self, prefix: PathKey) -> Positions:
        """A view re-rooted at `prefix` (no copy: steps of large suites stay cheap)."""
        return Positions(self.path, self.values, self.keys, self.root + prefix)
