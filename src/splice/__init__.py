"""splice: integration testing of a system's seams.

The public API is small: the result model, errors, and the executor plugin API. Names
load on first use, so `splice --version` and the pytest plugin stay fast to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Diagnostic": "splice.errors",
    "SourceSpan": "splice.errors",
    "SpliceError": "splice.errors",
    "StepError": "splice.errors",
    "StepInterrupted": "splice.errors",
    "SuiteError": "splice.errors",
    "UsageError": "splice.errors",
    "Block": "splice.executors.base",
    "Executor": "splice.executors.base",
    "StepContext": "splice.executors.base",
    "StepOutput": "splice.executors.base",
    "TestcaseSession": "splice.executors.base",
    "AttemptResult": "splice.model.results",
    "Failure": "splice.model.results",
    "RunResult": "splice.model.results",
    "Status": "splice.model.results",
    "StepResult": "splice.model.results",
    "SuiteResult": "splice.model.results",
    "TestcaseResult": "splice.model.results",
}

__all__ = [
    "AttemptResult",
    "Block",
    "Diagnostic",
    "Executor",
    "Failure",
    "RunResult",
    "SourceSpan",
    "SpliceError",
    "Status",
    "StepContext",
    "StepError",
    "StepInterrupted",
    "StepOutput",
    "StepResult",
    "SuiteError",
    "SuiteResult",
    "TestcaseResult",
    "TestcaseSession",
    "UsageError",
    "__version__",
]

if TYPE_CHECKING:
    from splice.errors import (
        Diagnostic,
        SourceSpan,
        SpliceError,
        StepError,
        StepInterrupted,
        SuiteError,
        UsageError,
    )
    from splice.executors.base import Block, Executor, StepContext, StepOutput, TestcaseSession
    from splice.model.results import (
        AttemptResult,
        Failure,
        RunResult,
        Status,
        StepResult,
        SuiteResult,
        TestcaseResult,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splice' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
