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

from splice._internal.version import VERSION as __version__

_EXPORTS = {
    # running and checking
    "run": "splice._internal.api",
    "check": "splice._internal.api",
    "open_environment": "splice._internal.api",
    "OpenEnvironment": "splice._internal.environment.lifecycle",
    "StartFailed": "splice._internal.environment.lifecycle",
    # what a run tells while it runs
    "Listener": "splice._internal.runner.events",
    "RunListener": "splice._internal.runner.events",
    "AttemptHook": "splice._internal.runner.hooks",
    # results
    "AttemptResult": "splice._internal.model.results",
    "Failure": "splice._internal.model.results",
    "FailureKind": "splice._internal.model.results",
    "Phase": "splice._internal.model.results",
    "RunResult": "splice._internal.model.results",
    "Status": "splice._internal.model.results",
    "StepResult": "splice._internal.model.results",
    "SuiteResult": "splice._internal.model.results",
    "TestcaseResult": "splice._internal.model.results",
    # errors
    "Diagnostic": "splice._internal.errors",
    "SourceSpan": "splice._internal.errors",
    "SpliceError": "splice._internal.errors",
    "StepError": "splice._internal.errors",
    "StepInterrupted": "splice._internal.errors",
    "SuiteError": "splice._internal.errors",
    "UsageError": "splice._internal.errors",
    "ServiceError": "splice._internal.services.kind_api",
    # the executor API, also in splice.plugins (kept here for plugins written before it)
    "Block": "splice._internal.executors.executor_api",
    "Executor": "splice._internal.executors.executor_api",
    "StepContext": "splice._internal.executors.executor_api",
    "StepOutput": "splice._internal.executors.executor_api",
    "TestcaseSession": "splice._internal.executors.executor_api",
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
    from splice._internal.api import check, open_environment, run
    from splice._internal.environment.lifecycle import OpenEnvironment, StartFailed
    from splice._internal.errors import (
        Diagnostic,
        SourceSpan,
        SpliceError,
        StepError,
        StepInterrupted,
        SuiteError,
        UsageError,
    )
    from splice._internal.executors.executor_api import (
        Block,
        Executor,
        StepContext,
        StepOutput,
        TestcaseSession,
    )
    from splice._internal.model.results import (
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
    from splice._internal.runner.events import Listener, RunListener
    from splice._internal.runner.hooks import AttemptHook
    from splice._internal.services.kind_api import ServiceError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splice' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
