"""Where each value of a JSON text is: its line and column, by JSON path.

`json.loads` keeps no positions, and a pact problem must point into the file
(`pacts/shop-payments.json:42:17`), so this small scanner walks the text once more and
records the position of every value down to `depth` (the reader asks for two levels to
locate interactions, or for all of them to locate a problem). It runs only on text that
`json.loads` has accepted.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
from typing import Any, Final

_SPACE: Final = re.compile(r"[ \t\n\r]*")
_SCALAR: Final = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")

Path = tuple[Any, ...]


class _Scanner:
    def __init__(self, text: str, depth: int) -> None:
        self.text = text
        self.depth = depth
        self.found: dict[Path, int] = {}
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def skip(self, i: int) -> int:
        m = _SPACE.match(self.text, i)
        return m.end() if m else i

    def value(self, i: int, path: Path) -> int:
        i = self.skip(i)
        if len(path) <= self.depth:
            self.found[path] = i
        ch = self.text[i] if i < len(self.text) else ""
        if ch == "{":
            return self.obj(i + 1, path)
        if ch == "[":
            return self.arr(i + 1, path)
        if ch == '"':
            _, end = json.decoder.scanstring(self.text, i + 1)  # type: ignore[attr-defined]
            return int(end)
        m = _SCALAR.match(self.text, i)
        if not m:
            raise ValueError(f"unexpected character at offset {i}")
        return m.end()

    def obj(self, i: int, path: Path) -> int:
        i = self.skip(i)
        if self.text[i] == "}":
            return i + 1
        while True:
            i = self.skip(i)
            key, i = json.decoder.scanstring(self.text, i + 1)  # type: ignore[attr-defined]
            i = self.skip(i) + 1  # the colon
            i = self.skip(self.value(i, (*path, key)))
            if self.text[i] == "}":
                return i + 1
            i += 1  # the comma

    def arr(self, i: int, path: Path) -> int:
        i = self.skip(i)
        if self.text[i] == "]":
            return i + 1
        n = 0
        while True:
            i = self.skip(self.value(i, (*path, n)))
            n += 1
            if self.text[i] == "]":
                return i + 1
            i += 1

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1


def positions(text: str, depth: int = 1_000) -> dict[Path, tuple[int, int]]:
    """JSON path -> (line, column), both 1-based, for values down to `depth` levels."""
    scanner = _Scanner(text, depth)
    with contextlib.suppress(ValueError, IndexError):  # what was found so far still helps
        scanner.value(0, ())
    return {path: scanner.line_col(offset) for path, offset in scanner.found.items()}


def nearest(found: dict[Path, tuple[int, int]], path: Path) -> tuple[int, int]:
    """The position of `path`, or of the nearest value above it that exists."""
    for n in range(len(path), -1, -1):
        if path[:n] in found:
            return found[path[:n]]
    return (1, 1)
