"""splice: integration testing of a system's seams.

The public Python API (docs/reference/python.md) is what this module exports: `run` and
`check` for suites, `open_environment` for a project's services, the result model, the
listener and hook protocols, and the errors. The plugin API for executors and service
kinds is `splice.plugins`. Every other module is private: its names may change in any
release. Names load on first use, so `splice --version` and the pytest plugin stay fast
to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from splice.version import VERSION as __version__

_EXPORTS = {
    # running and checking
    "run": "splice.api",
    "check": "splice.api",
    "open_environment": "splice.api",
    "OpenEnvironment": "splice.environment.lifecycle",
    "StartFailed": "splice.environment.lifecycle",
    # what a run tells while it runs
    "Listener": "splice.runner.events",
    "RunListener": "splice.runner.events",
    "AttemptHook": "splice.runner.hooks",
    # results
    "AttemptResult": "splice.model.results",
    "Failure": "splice.model.results",
    "FailureKind": "splice.model.results",
    "Phase": "splice.model.results",
    "RunResult": "splice.model.results",
    "Status": "splice.model.results",
    "StepResult": "splice.model.results",
    "SuiteResult": "splice.model.results",
    "TestcaseResult": "splice.model.results",
    # errors
    "Diagnostic": "splice.errors",
    "SourceSpan": "splice.errors",
    "SpliceError": "splice.errors",
    "StepError": "splice.errors",
    "StepInterrupted": "splice.errors",
    "SuiteError": "splice.errors",
    "UsageError": "splice.errors",
    "ServiceError": "splice.services.kind_api",
    # the executor API, also in splice.plugins (kept here for plugins written before it)
    "Block": "splice.executors.executor_api",
    "Executor": "splice.executors.executor_api",
    "StepContext": "splice.executors.executor_api",
    "StepOutput": "splice.executors.executor_api",
    "TestcaseSession": "splice.executors.executor_api",
}

__all__ = [
    "AttemptHook",
    "AttemptResult",
    "Block",
    "Diagnostic",
    "Executor",
    "Failure",
    "FailureKind",
    "Listener",
    "OpenEnvironment",
    "Phase",
    "RunListener",
    "RunResult",
    "ServiceError",
    "SourceSpan",
    "SpliceError",
    "StartFailed",
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
    "check",
    "open_environment",
    "run",
]

if TYPE_CHECKING:
    from splice.api import check, open_environment, run
    from splice.environment.lifecycle import OpenEnvironment, StartFailed
    from splice.errors import (
        Diagnostic,
        SourceSpan,
        SpliceError,
        StepError,
        StepInterrupted,
        SuiteError,
        UsageError,
    )
    from splice.executors.executor_api import (
        Block,
        Executor,
        StepContext,
        StepOutput,
        TestcaseSession,
    )
    from splice.model.results import (
        AttemptResult,
        Failure,
        FailureKind,
        Phase,
        RunResult,
        Status,
        StepResult,
        SuiteResult,
        TestcaseResult,
    )
    from splice.runner.events import Listener, RunListener
    from splice.runner.hooks import AttemptHook
    from splice.services.kind_api import ServiceError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splice' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
