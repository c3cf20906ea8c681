"""The executor plugin API.

An executor performs one kind of step (`http`, `exec`, and later `sql`, `redis`, ...).
It declares the pydantic model of its YAML block, so splice validates the block with the
same located errors as the rest of a suite, and it returns a `StepOutput` whose `result`
mapping is what `expect`, `assert`, `capture` and `retry.until` see as `result`.

Third-party executors register a class under the `splice.executors` entry-point group:

    [project.entry-points."splice.executors"]
    kafka = "splice_kafka:KafkaExecutor"
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict


class Block(BaseModel):
    """Base for executor block models: unknown keys are errors, not silently ignored."""

    # defer_build: a model's validator is built when it first validates, not at import,
    # so a run pays only for the models its suites use
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


# The validation context of a block checked as the suite was written, before its templates
# are rendered (the loader ignores errors in templated values): a validator may skip work
# on a template, whose own problems show once it is rendered and validated again.
UNRENDERED: dict[str, bool] = {"unrendered": True}


def unrendered(context: Any, value: Any) -> bool:
    """Whether `value` is a template validated before rendering (see `UNRENDERED`)."""
    if not (isinstance(context, dict) and context.get("unrendered")):
        return False
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@dataclass
class StepOutput:
    """What an executor hands back.

    `result` is exposed to expectations as fields (`status`, `json`, `stdout`...);
    `request` and `response` are short summaries shown in failure reports and stored.
    """

    result: dict[str, Any]
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    # what the executor itself found wrong (a provider that breaks a pact), reported
    # beside the step's own expectations: (path, message) pairs
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class TestcaseSession:
    """State that lives for one attempt of one testcase (an HTTP client with its cookies).

    Executors keep what they need under their own name in `state` and register
    clean-up with `on_close`; the runner closes the session when the attempt ends.
    """

    __test__ = False

    state: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    def close(self) -> None:
        while self._closers:
            fn = self._closers.pop()
            with contextlib.suppress(Exception):  # a failed clean-up must not hide the result
                fn()


@dataclass
class StepContext:
    """Everything an executor may use while performing a step."""

    vars: Mapping[str, Any]
    session: TestcaseSession
    base_dir: Path  # folder of the suite file: relative paths in a block resolve here
    timeout: float | None = None  # seconds; executors must honour it
    cancelled: threading.Event = field(default_factory=threading.Event)
    # announce started process groups (`watch_group(pgid)`, `forget_group(pgid)`) so
    # they are killed even if splice is killed; None when nobody tracks them
    processes: Any = None
    # the step's `expect` block as written (templates unrendered): an executor that waits
    # for a matching message (kafka consume) skips the ones that do not match it
    expect: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class BlockProblem:
    """A mistake an executor's `check(block, base_dir)` finds in a block at load time
    (`splice check`), beyond what its model validates: a GraphQL query that does not fit
    the schema, a gRPC request that does not fit its message type.

    `path` leads to the value inside the block; `line` and `column` (1-based) point
    inside that value when it is text (a query), and `file` at another file altogether
    (a .proto file that does not compile).
    """

    path: tuple[str | int, ...]
    message: str
    hint: str | None = None
    line: int | None = None
    column: int | None = None
    file: Path | None = None
    key: bool = False  # point at the key that names `path` (an unknown field), not its value


@runtime_checkable
class Executor(Protocol):
    """What splice checks a plugin class against."""

    name: ClassVar[str]
    block_model: ClassVar[type[BaseModel]]
    # field of `result` -> one-line description; drives `expect` key checks and docs
    result_fields: ClassVar[Mapping[str, str]]
    # `expect` fields whose mapping keys compare case-insensitively (HTTP headers)
    case_insensitive_fields: ClassVar[frozenset[str]]

    def execute(self, block: Any, ctx: StepContext) -> StepOutput:
        """Perform the step described by the validated, rendered `block`."""
        ...


def implied_expect(executor: Executor | type[Executor] | None) -> Mapping[str, Any]:
    """The expectations a step has unless its `expect` names the field (an optional class
    attribute `implied_expect`: exec's `{exit_code: 0}`, so a failing command fails)."""
    implied: Mapping[str, Any] = getattr(executor, "implied_expect", None) or {}
    return implied


def block_properties(schema: dict[str, Any]) -> dict[str, Any]:
    """The `properties` of a block's JSON Schema (inside the `anyOf` that lets a template
    stand for the whole block), for an executor's `shorthand_schema`."""
    for form in schema.get("anyOf", [schema]):
        if isinstance(form, dict) and "properties" in form:
            return form["properties"]  # type: ignore[no-any-return]
    return {}


def normalize_shorthand(executor: type[Executor], raw: Any) -> Any:
    """Let an executor accept a short form (`exec: "ls -l"`) before validation."""
    fn = getattr(executor, "shorthand", None)
    return fn(raw) if callable(fn) else raw
