"""The one error the store raises for what a user can fix: a bad URL, an unreachable server."""

from __future__ import annotations

from typing import Any

from splice._internal.errors import UsageError


class StoreError(UsageError):
    """The results store cannot be opened or used; `hint` says what to change.

    A `UsageError`, so the command line shows it with its hint and exits 2, never a traceback.
    """


class BadImport(StoreError):
    """A file given to `splice import` or the upload API that cannot be stored as a run.

    Holds where the problem is: `line` and `column` (1-based) in the file when known, and
    for a JSON report that does not match its schema, pydantic's `errors` with their paths.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        line: int | None = None,
        column: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.line, self.column, self.errors = line, column, errors

    def located(self, origin: str) -> str:
        """One line for an API answer: 'ORIGIN:LINE:COLUMN: MESSAGE (HINT)'."""
        place = origin if self.line is None else f"{origin}:{self.line}:{self.column or 1}"
        return f"{place}: {self.message}" + (f" ({self.hint})" if self.hint else "")


class IngestError(ValueError):
    """An event that cannot be stored: unknown run, a run id taken, a malformed body."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
