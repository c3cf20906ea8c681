"""What can be wrong: a pact file that cannot be read, and a value that breaks a contract.

A `PactProblem` is a mistake in a pact file, named by its JSON path (`interactions`, 3,
`response`, `status`); the reader turns the path into a line and column of the file. A
`Mismatch` is a place where an actual request, response or message differs from what the
pact expects, with the path in splice's diff style (`body.items[0].price`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from splice._internal.expect.vocabulary import join_index, join_key


class PactProblem(Exception):
    """A pact file (or a matching rule in it) that cannot be used: message, JSON path, hint."""

    def __init__(self, message: str, where: tuple[Any, ...] = (), hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint


@dataclass(frozen=True)
class Mismatch:
    """One difference: where (`body.items[0].price`), and what was expected and found."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def show_path(root: str, parts: tuple[str | int, ...]) -> str:
    """`body` + ("items", 0, "price") -> `body.items[0].price`."""
    path = root
    for part in parts:
        path = join_index(path, part) if isinstance(part, int) else join_key(path, part)
    return path
