"""Where each value of a document is: spans of values and mapping keys by their path.

Part of the model (a step keeps the positions of its mapping, so a plugin's problem found
at run time is shown at its place); filled by `splice._internal.source.yaml_source` while reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from splice._internal.errors import SourceSpan

PathKey = tuple[str | int, ...]


class _PrefixIndex:
    """Every path of a values table by each of its prefixes, built on first use and again
    when the table has grown (it is filled while the document is read)."""

    def __init__(self) -> None:
        self._by_prefix: dict[PathKey, list[PathKey]] = {}
        self._size = -1
        self._table = 0

    def paths(self, values: dict[PathKey, SourceSpan], prefix: PathKey) -> list[PathKey]:
        if self._size != len(values) or self._table != id(values):
            by_prefix: dict[PathKey, list[PathKey]] = {}
            for path in values:
                for cut in range(len(path) + 1):
                    by_prefix.setdefault(path[:cut], []).append(path)
            self._by_prefix, self._size, self._table = by_prefix, len(values), id(values)
        return [p for p in self._by_prefix.get(prefix, ()) if p in values]


@dataclass
class Positions:
    """Spans of values (and of mapping keys) in one YAML document."""

    path: Path
    values: dict[PathKey, SourceSpan] = field(default_factory=dict)
    keys: dict[PathKey, SourceSpan] = field(default_factory=dict)
    # a view of a sub-tree (see `sub`) shares the tables and prefixes look-ups with `root`
    root: PathKey = ()
    # the paths under each prefix, shared by every view of the document: `spans` of one
    # step's view would otherwise scan the whole document's table, so loading a suite
    # was quadratic in its steps (2 s of a 200-testcase suite's 3 s load)
    _under: _PrefixIndex = field(default_factory=_PrefixIndex, repr=False, compare=False)

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
        values = self.values
        found = [(k[n:], values[k]) for k in self._under.paths(values, self.root)]
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
        return Positions(self.path, self.values, self.keys, self.root + prefix, self._under)
