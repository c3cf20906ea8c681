"""What clients send: a splice run report (`splice-run/1`) and the events of a live run.

These mirror `splice._internal.model.results` as JSON (`RunResult.to_dict()`), with the limits the
store keeps (lengths of ids and names, integer and time ranges), so anything the schema
accepts can be stored, and anything else is refused before it reaches the store: with 422
by the API, with a located error by `splice import`. A report is read piece by piece
(`splice._internal.store.report_import`): its head, each suite's head, each testcase; `RunReport` is
the whole, as the API documents it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict


def _number(value: Any) -> Any:
    """A JSON number: `true` is no count and "1" no time (pydantic's lax mode takes both)."""
    if isinstance(value, bool | str):
        raise ValueError("Input should be a number")
    return value


Outcome = Literal[
    "passed", "failed", "error", "skipped", "flaky", "interrupted", "xfailed", "xpassed"
]
RunOutcome = Literal["passed", "failed", "error", "interrupted", "killed"]
Count = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_number)]
# a time or a duration, up to year 5138: finite, so no page has to show an infinite one
Seconds = Annotated[float, Field(ge=0, le=1e11), BeforeValidator(_number)]
Flag = Annotated[bool, Strict()]
RunId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Name = Annotated[str, Field(max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="allow")  # newer splice versions may send more


class FailureIn(_In):
    kind: Annotated[str, Field(max_length=64)] = "failure"
    message: str = ""
    path: str | None = None
    expected: Any = None
    actual: Any = None
    hint: str | None = None


class StepIn(_In):
    index: Count = 0
    name: Name = ""
    executor: Annotated[str, Field(max_length=64)] = ""
    phase: Literal["setup", "test", "teardown"] = "test"
    status: Outcome = "passed"
    location: str | dict[str, Any] | None = None
    started_at: Seconds = 0.0
    duration: Seconds = 0.0
    polls: Count = 1
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    captures: dict[str, Any] = Field(default_factory=dict)
    failures: list[FailureIn] = Field(default_factory=list)
    skip_reason: str | None = None


class AttemptIn(_In):
    number: Annotated[int, Field(ge=1, le=1000), BeforeValidator(_number)] = 1
    status: Outcome = "passed"
    started_at: Seconds = 0.0
    duration: Seconds = 0.0
    steps: list[StepIn] = Field(default_factory=list)


class TestcaseIn(_In):
    """One testcase with its attempts; `suite::name` is its identity across runs."""

    suite: Name
    name: Name
    path: Name = ""
    line: Count = 0
    status: Outcome = "passed"
    tags: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)
    started_at: Seconds = 0.0
    duration: Seconds = 0.0
    attempts: list[AttemptIn] = Field(default_factory=list)
    skip_reason: str | None = None


class SuiteHead(_In):
    """A suite of a report without its testcases."""

    name: Name
    path: Name = ""
    status: Outcome = "passed"
    started_at: Seconds = 0.0
    duration: Seconds = 0.0
    setup: list[StepIn] = Field(default_factory=list)
    teardown: list[StepIn] = Field(default_factory=list)


class SuiteIn(SuiteHead):
    testcases: list[TestcaseIn] = Field(default_factory=list)


class ReportHead(_In):
    """A report without its suites."""

    schema_: Annotated[str, Field(alias="schema", pattern=r"^splice-run/1$")]
    id: RunId | None = None
    status: RunOutcome = "passed"
    started_at: Seconds = 0.0
    duration: Seconds = 0.0
    interrupted: Flag = False
    command: list[str] = Field(default_factory=list)
    host: Annotated[str, Field(max_length=255)] = ""
    cwd: str = ""
    services: list[dict[str, Any]] = Field(default_factory=list)
    # the operation coverage of the services' OpenAPI documents (RunResult.openapi)
    openapi: list[dict[str, Any]] = Field(default_factory=list)


class RunReport(ReportHead):
    """A whole run as `splice run --json` writes it."""

    suites: list[SuiteIn] = Field(default_factory=list)


class ShardIn(_In):
    """Which of a run's static shards sends the event (`splice run --shard I/N`)."""

    index: Annotated[int, Field(ge=1, le=100_000), BeforeValidator(_number)]
    count: Annotated[int, Field(ge=1, le=100_000), BeforeValidator(_number)]


class RunHead(_In):
    """The metadata a live run starts with."""

    source: Annotated[str, Field(max_length=16)] = "run"
    project: Annotated[str, Field(max_length=200)] = ""
    commit_sha: Annotated[str, Field(max_length=64)] = ""
    branch: Annotated[str, Field(max_length=200)] = ""
    ci_url: Annotated[str, Field(max_length=2000)] = ""
    environment: dict[str, Any] = Field(default_factory=dict)
    pid: Count | None = None
    pid_start: Annotated[str, Field(max_length=32)] | None = None
    started_at: Seconds = 0.0
    total: Count = 0
    command: list[str] = Field(default_factory=list)
    host: Annotated[str, Field(max_length=255)] = ""
    cwd: str = ""
    services: list[dict[str, Any]] = Field(default_factory=list)
    shard: ShardIn | None = None  # shards of one run join it (store.shard_runs)


class TestStart(_In):
    suite: Name
    name: Name
    path: Name = ""
    line: Count = 0
    tags: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)
    started_at: Seconds = 0.0


class SuiteEnd(_In):
    name: Name
    path: Name = ""
    status: Outcome = "passed"
    started_at: Seconds = 0.0
    duration: Seconds = 0.0
    setup: list[StepIn] = Field(default_factory=list)
    teardown: list[StepIn] = Field(default_factory=list)


class Artifact(_In):
    kind: Annotated[str, Field(max_length=32)] = "output"
    name: Name = ""
    content: str = ""
    size: Count = 0


class RunEnd(_In):
    status: RunOutcome = "passed"
    duration: Seconds | None = None
    finished_at: Seconds | None = None
    services: list[dict[str, Any]] | None = None
    shard: ShardIn | None = None  # the run ends when the last of its shards does


class RunStarted(_In):
    event: Literal["run_started"]
    run: RunHead


class TestcaseStarted(_In):
    event: Literal["testcase_started"]
    test: TestStart


class TestcaseFinished(_In):
    event: Literal["testcase_finished"]
    testcase: TestcaseIn
    quarantined: Flag = False


class SuiteFinished(_In):
    event: Literal["suite_finished"]
    suite: SuiteEnd


class Artifacts(_In):
    event: Literal["artifacts"]
    items: list[Artifact]


class Heartbeat(_In):
    event: Literal["heartbeat"]


class RunFinished(_In):
    event: Literal["run_finished"]
    run: RunEnd


Event = Annotated[
    RunStarted
    | TestcaseStarted
    | TestcaseFinished
    | SuiteFinished
    | Artifacts
    | Heartbeat
    | RunFinished,
    Field(discriminator="event"),
]


class EventsIn(BaseModel):
    """A batch of events of one run, in order, as `splice run --report-to` sends them."""

    events: list[Event] = Field(min_length=1, max_length=10000)
