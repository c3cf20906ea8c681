"""splice's own exceptions. They hold data; `reporting.diagnostics` renders them."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceSpan:
    """A place in a source file: 1-based line and column, end exclusive on the same line."""

    path: Path
    line: int
    column: int
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    def shown(self, base: Path | None = None) -> str:
        """`path:line:col`, the path relative to `base` (the working directory) inside it."""
        path = self.path
        with contextlib.suppress(ValueError, OSError):
            path = path.resolve().relative_to((base or Path.cwd()).resolve())
        return f"{path.as_posix()}:{self.line}:{self.column}"


@dataclass
class Diagnostic:
    """One problem a user can fix: what is wrong, where, and what to do."""

    message: str
    span: SourceSpan | None = None
    hint: str | None = None


class SpliceError(Exception):
    """Base of every error splice raises on purpose."""


@dataclass
class SuiteError(SpliceError):
    """One or more located problems in a suite, project or template file (exit code 2)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.diagnostics[0].message if self.diagnostics else "invalid input")

    @classmethod
    def single(
        cls, message: str, span: SourceSpan | None = None, hint: str | None = None
    ) -> SuiteError:
        return cls([Diagnostic(message, span, hint)])


class UsageError(SpliceError):
    """The command line asks for something impossible (exit code 2)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class StepError(SpliceError):
    """An executor could not perform a step (connection refused, timeout, bad command).

    Raised by executors with a short message; the runner adds the step's location.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class StepInterrupted(StepError):
    """A step cut short because the run is stopping (Ctrl-C, SIGTERM).

    Executors raise it when they notice `StepContext.cancelled`; the step, and the testcase
    it belongs to, are then reported `interrupted`, neither failed nor an error.
    """


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def where(span: SourceSpan | None) -> str:
    """`file:line:column` of a span, the file shown as `display_path` does."""
    if span is None:
        return ""
    return f"{display_path(span.path)}:{span.line}:{span.column}"
