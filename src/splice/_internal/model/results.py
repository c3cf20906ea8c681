"""What a run produced: runs hold suites, suites hold testcases, testcases hold attempts of steps.

Plain dataclasses, so reporters, the console and (later) the store read one shape.
`to_dict` gives the JSON form used by `--json`.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from splice._internal.errors import SourceSpan


class Status(StrEnum):
    """Outcome of a step, attempt, testcase, suite or run."""

    PASSED = "passed"
    FAILED = "failed"  # an expectation did not hold
    ERROR = "error"  # the step could not be performed (connection refused, bad template)
    SKIPPED = "skipped"
    FLAKY = "flaky"  # a testcase that failed, then passed on a retry
    INTERRUPTED = "interrupted"
    XFAILED = "xfailed"  # an `xfail:` testcase that failed, as expected: the run passes
    XPASSED = "xpassed"  # a strict `xfail:` testcase that passed: the run fails

    @property
    def ok(self) -> bool:
        return self in (Status.PASSED, Status.SKIPPED, Status.FLAKY, Status.XFAILED)


# `skip_reason` of a testcase the run stopped before (it was never started)
RUN_INTERRUPTED = "run interrupted"
FAIL_FAST = "not started: an earlier testcase failed (--fail-fast)"


class Phase(StrEnum):
    SETUP = "setup"
    TEST = "test"
    TEARDOWN = "teardown"


class FailureKind(StrEnum):
    """What kind of reason a `Failure` is (its value is the word reports show)."""

    EXPECT = "expect"  # an `expect:` that did not hold
    ASSERT = "assert"  # an `assert:` expression that was false (or a pytest assertion)
    RETRY = "retry"  # `retry:` gave up
    CAPTURE = "capture"  # a capture found nothing
    CHECK = "check"  # a custom Python check (`check: module:function`) failed
    ERROR = "error"  # the step could not be performed
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"  # cut short by Ctrl-C or SIGTERM
    SUITE_SETUP = "suite setup"  # not run: the suite's setup failed

    @classmethod
    def of(cls, value: str) -> FailureKind:
        """The kind a stored or imported word names; an unknown word is an error."""
        try:
            return cls(value)
        except ValueError:
            return cls.ERROR


@dataclass
class Failure:
    """Why a step did not pass: one unmet expectation, assertion or an execution error.

    `path` names the checked value (for example `json.items[0].id`); `expected` and
    `actual` are the values compared, kept for diffs in reports.
    """

    kind: FailureKind
    message: str
    path: str | None = None
    expected: Any = None
    actual: Any = None
    hint: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, FailureKind):  # read back from JSON or imported
            self.kind = FailureKind.of(self.kind)


@dataclass
class StepResult:
    """One step's outcome, with what it sent and received (already masked)."""

    index: int
    name: str
    executor: str
    phase: Phase
    status: Status
    location: SourceSpan | None = None
    started_at: float = 0.0  # seconds since the epoch
    duration: float = 0.0  # seconds
    polls: int = 1  # how many times `retry` ran the step
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    captures: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    skip_reason: str | None = None
    # what the step checked, kept so a report can show what a passing step held: `expect`
    # as rendered (the executor's implied fields included) and the `assert` expressions
    expect: dict[str, Any] | None = None
    asserted: list[str] = field(default_factory=list)


@dataclass
class AttemptResult:
    """One try of a testcase; a testcase with `retries` may have several."""

    number: int
    status: Status
    started_at: float = 0.0
    duration: float = 0.0
    steps: list[StepResult] = field(default_factory=list)

    @property
    def failed_step(self) -> StepResult | None:
        return next((s for s in self.steps if not s.status.ok), None)


@dataclass
class TestcaseResult:
    """A testcase's outcome over all its attempts; the unit that passes or fails."""

    __test__ = False  # not a pytest test class

    suite: str
    name: str
    path: Path
    line: int
    status: Status = Status.PASSED
    tags: list[str] = field(default_factory=list)
    started_at: float = 0.0
    duration: float = 0.0
    attempts: list[AttemptResult] = field(default_factory=list)
    skip_reason: str | None = None
    xfail_reason: str | None = None  # set for an `xfail:` testcase, whatever its outcome

    @property
    def id(self) -> str:
        """Stable identity across runs: suite name and testcase name."""
        return f"{self.suite}::{self.name}"

    @property
    def final_attempt(self) -> AttemptResult | None:
        return self.attempts[-1] if self.attempts else None


@dataclass
class SuiteResult:
    """A suite's testcases plus its own setup and teardown steps."""

    name: str
    path: Path
    status: Status = Status.PASSED
    started_at: float = 0.0
    duration: float = 0.0
    setup: list[StepResult] = field(default_factory=list)
    teardown: list[StepResult] = field(default_factory=list)
    testcases: list[TestcaseResult] = field(default_factory=list)


def new_run_id() -> str:
    """A run's id: 12 hex digits, short enough to type, random enough never to repeat."""
    return uuid.uuid4().hex[:12]


RUN_ID_ENV = "SPLICE_RUN_ID"  # the id a run started by `splice serve` was given


def given_run_id() -> str | None:
    """The id `$SPLICE_RUN_ID` gives this process's run (12 hex digits), if any."""
    value = os.environ.get(RUN_ID_ENV, "")
    return value if len(value) == 12 and all(c in "0123456789abcdef" for c in value) else None


@dataclass
class RunResult:
    """A whole invocation of `splice run`."""

    id: str
    status: Status = Status.PASSED
    started_at: float = 0.0
    duration: float = 0.0
    interrupted: bool = False
    command: list[str] = field(default_factory=list)
    host: str = ""
    cwd: str = ""
    suites: list[SuiteResult] = field(default_factory=list)
    # the services of the run: name, kind, provider, url, started_in, log
    services: list[dict[str, Any]] = field(default_factory=list)
    # operation coverage of the services' OpenAPI documents (contracts.openapi_steps)
    openapi: list[dict[str, Any]] = field(default_factory=list)

    def testcases(self) -> list[TestcaseResult]:
        return [tc for suite in self.suites for tc in suite.testcases]

    def counts(self) -> dict[str, int]:
        """Number of testcases per status, every status present (zero when none)."""
        out = {s.value: 0 for s in Status}
        for tc in self.testcases():
            out[tc.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)  # type: ignore[no-any-return]


_SCALARS = frozenset({str, int, float, bool, type(None)})
_NOT_A_DATACLASS: tuple[str, ...] = ()
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # a dataclass's fields, by class


def _plain(value: Any) -> Any:
    """Dataclasses, enums and paths into JSON-ready values.

    Called once per value of every stored result (some 40 per step, as a testcase ends),
    so the usual kinds are told apart by their exact type first, and a dataclass's field
    names are looked up once per class."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = (
            tuple(f.name for f in dataclasses.fields(kind))
            if dataclasses.is_dataclass(kind)
            else _NOT_A_DATACLASS
        )
    if names:
        out = {name: _plain(getattr(value, name)) for name in names}
        if kind is TestcaseResult or isinstance(value, TestcaseResult):
            out["id"] = value.id
        return out
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
