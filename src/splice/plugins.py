"""The plugin API of splice: what an executor (a step kind) or a service kind imports.

An executor is a class with `name`, `block_model` (a pydantic model of its YAML block),
`result_fields`, `case_insensitive_fields` and `execute(block, ctx) -> StepOutput`; a
service kind a class with `name`, `settings_model` (a `Settings` subclass), `providers`,
`packages`, `start_local(ctx) -> RunningService`, `external(spec) -> Endpoint` and
`check_ready(endpoint, timeout)`. splice finds them through the entry-point groups
`executors` and `services` (`EXECUTOR_GROUP`, `SERVICE_GROUP`), or a
program that embeds splice registers them (`register_executor`, `register_service_kind`).
See docs/reference/python.md. Names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

EXECUTOR_GROUP = "splice.executors"
SERVICE_GROUP = "splice.services"

_EXPORTS = {
    # executors
    "Block": "splice._internal.executors.executor_api",
    "BlockProblem": "splice._internal.executors.executor_api",
    "Executor": "splice._internal.executors.executor_api",
    "StepContext": "splice._internal.executors.executor_api",
    "StepOutput": "splice._internal.executors.executor_api",
    "TestcaseSession": "splice._internal.executors.executor_api",
    "block_properties": "splice._internal.executors.executor_api",
    "StepError": "splice._internal.errors",
    "StepInterrupted": "splice._internal.errors",
    # service kinds
    "Endpoint": "splice._internal.services.kind_api",
    "RunningService": "splice._internal.services.kind_api",
    "ServiceError": "splice._internal.services.kind_api",
    "ServiceKind": "splice._internal.services.kind_api",
    "ServiceSpec": "splice._internal.services.kind_api",
    "Settings": "splice._internal.services.kind_api",
    "StartContext": "splice._internal.services.kind_api",
    # validation helpers: errors as good as the built-ins'
    "HintedValueError": "splice._internal.source.validation",
    "did_you_mean": "splice._internal.source.validation",
    "parse_duration": "splice._internal.model.durations",
}

__all__ = [
    "EXECUTOR_GROUP",
    "SERVICE_GROUP",
    "Block",
    "BlockProblem",
    "Endpoint",
    "Executor",
    "HintedValueError",
    "RunningService",
    "ServiceError",
    "ServiceKind",
    "ServiceSpec",
    "Settings",
    "StartContext",
    "StepContext",
    "StepError",
    "StepInterrupted",
    "StepOutput",
    "TestcaseSession",
    "block_properties",
    "did_you_mean",
    "parse_duration",
    "register_executor",
    "register_service_kind",
]

if TYPE_CHECKING:
    from splice._internal.errors import StepError, StepInterrupted
    from splice._internal.executors.executor_api import (
        Block,
        BlockProblem,
        Executor,
        StepContext,
        StepOutput,
        TestcaseSession,
        block_properties,
    )
    from splice._internal.model.durations import parse_duration
    from splice._internal.services.kind_api import (
        Endpoint,
        RunningService,
        ServiceError,
        ServiceKind,
        ServiceSpec,
        Settings,
        StartContext,
    )
    from splice._internal.source.validation import HintedValueError, did_you_mean


def register_executor(name: str, executor: str | type) -> None:
    """Make an executor class (or its "module:Class" path) the step kind `name`, as an
    entry point of the group `splice.executors` does for an installed package."""
    from splice._internal.executors import executor_registry as registry

    registry.register(name, executor)


def register_service_kind(name: str, kind: str | type) -> None:
    """Make a service kind class (or its "module:Class" path) the kind `name`, as an
    entry point of the group `splice.services` does for an installed package."""
    from splice._internal.services import kind_registry as registry

    registry.register(name, kind)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splice.plugins' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
