"""The shapes of the REST API, for validation and the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["running", "passed", "failed", "error", "interrupted", "killed"]
TestSort = Literal["slowest", "name", "recent"]
ResultStatus = Literal[
    "running", "passed", "failed", "error", "skipped", "flaky", "interrupted", "xfailed", "xpassed"
]


class Counts(BaseModel):
    passed: int
    failed: int
    error: int
    skipped: int
    flaky: int
    xfailed: int = 0  # `xfail:` testcases that failed, as expected
    xpassed: int = 0  # strict `xfail:` testcases that passed
    quarantined: int


class RunSummary(BaseModel):
    """A run as listed: metadata, progress and counts of testcases by outcome."""

    id: str
    status: RunStatus
    source: str
    project: str
    branch: str
    commit: str
    ci_url: str
    host: str
    started_at: float
    finished_at: float | None
    duration: float | None
    updated_at: float
    total: int = Field(description="testcases planned")
    done: int = Field(description="testcases finished so far")
    counts: Counts
    outage: bool = Field(description="most testcases failed together")


class RunPage(BaseModel):
    runs: list[RunSummary]
    next: str | None = Field(description="pass as `before` for the next page; null at the end")


class Step(BaseModel):
    index: int
    name: str
    executor: str
    phase: str
    status: str
    started_at: float
    duration: float
    polls: int
    location: str | None
    service: str | None
    target: str | None
    request: Any
    response: Any
    captures: Any
    failures: list[Any]
    skip_reason: str | None


class TestcaseRow(BaseModel):
    id: int = Field(description="the result's id in this run")
    test_id: int
    key: str = Field(description="suite::testcase, the identity across runs")
    name: str
    status: ResultStatus
    started_at: float
    duration: float
    attempts: int
    tags: list[str]
    message: str | None
    skip_reason: str | None
    quarantined: bool
    path: str
    line: int


class SuiteBlock(BaseModel):
    name: str
    testcases: list[TestcaseRow]
    steps: list[Step] = Field(description="the suite's own setup and teardown steps")


class Log(BaseModel):
    id: int
    kind: str
    name: str
    size: int
    content: str


class WorkflowJob(BaseModel):
    """A job of a workflow run, as it stands: pending, running, or how it ended."""

    name: str
    kind: str
    status: str
    needs: list[str]
    started_at: float | None
    duration: float | None
    worker: str = Field(description="the machine that ran it")
    testcases: int
    message: str


class RunShard(BaseModel):
    """A shard of a run (static, `splice run --shard I/N --run-id ID`, or on Dask), as it
    stands."""

    name: str = Field(description="`shard I/N`")
    index: int
    count: int
    state: str = Field(
        description="pending (static) or queued (Dask) until it starts, running, rerun "
        "(on Dask, after its worker was lost), finished, or lost (it never ended)"
    )
    status: str = Field(description="how it ended, as a run's status; its state until then")
    host: str = Field(description="the machine that ran it")
    worker: str = Field(default="", description="the address of the Dask worker it runs on")
    pid: int | None
    started_at: float | None
    since: float | None = Field(default=None, description="when its current state began")
    finished_at: float | None
    duration: float | None
    planned: int | None = Field(description="its testcases, as planned when it started")
    done: int | None = Field(
        description="its testcases run: on Dask, so far while it runs; static, once it ended"
    )
    starts: int = Field(default=1, description="more than 1: rerun after its worker was lost")
    message: str = Field(default="", description="why a lost shard never ended")


class ShardCritical(BaseModel):
    """The shard the run waited for: the last to end."""

    name: str
    total: float = Field(description="seconds from the run's start to this shard's end")
    waited: float = Field(description="of them, before its last start (queued, a lost attempt)")
    ran: float = Field(description="of them, its last start to its end")


class RunDetail(RunSummary):
    command: Any
    cwd: str
    environment: Any
    services: Any
    openapi: Any = Field(
        default_factory=list,
        description="the operation coverage of the run's OpenAPI documents, as in the JSON report",
    )
    suites: list[SuiteBlock]
    logs: list[Log]
    jobs: list[WorkflowJob] = Field(default_factory=list, description="a workflow run's jobs")
    shards: list[RunShard] = Field(default_factory=list, description="a sharded run's shards")
    shard_imbalance: float | None = Field(
        default=None,
        description="once every shard ended: how far the slowest took above their mean, "
        "as a fraction (0.0 = perfect), the measure `splice shard` plans by",
    )
    shard_critical: ShardCritical | None = Field(
        default=None, description="once every shard ended: the one that ended last"
    )


class Attempt(BaseModel):
    number: int
    status: str
    started_at: float
    duration: float
    steps: list[Step]


class ResultDetail(BaseModel):
    id: int
    run_id: str
    test_id: int
    key: str
    suite: str
    name: str
    status: ResultStatus
    started_at: float
    duration: float
    tags: list[str]
    message: str | None
    skip_reason: str | None
    quarantined: bool
    path: str
    line: int
    attempts: list[Attempt]


class Flakiness(BaseModel):
    score: float = Field(description="0..1, see the docs for the formula")
    confirmed: bool = Field(description="passed and failed on one commit")
    commit: str
    since: float | None
    failure_estimate: float
    flip_rate: float
    flips: int
    runs: int
    failures: int
    flaky: bool


class TestSummary(BaseModel):
    id: int
    key: str
    suite: str
    name: str
    path: str
    line: int
    first_seen: float
    last_seen: float
    last_status: str
    last_duration: float
    avg_duration: float
    flaky: Flakiness


class HistoryEntry(BaseModel):
    result_id: int
    run_id: str
    status: ResultStatus
    started_at: float
    duration: float
    attempts: int
    message: str | None
    quarantined: bool
    branch: str
    commit: str
    outage: bool


class QuarantineInfo(BaseModel):
    reason: str
    added_by: str
    added_at: float


class TestDetail(TestSummary):
    quarantine: QuarantineInfo | None
    history: list[HistoryEntry]
    evidence: list[str]


class RecentResult(BaseModel):
    status: str
    run_id: str
    started_at: float
    outage: bool


class FlakyEntry(TestSummary):
    recent: list[RecentResult]
    evidence: list[str]
    quarantined: bool


class Side(BaseModel):
    result_id: int
    status: str
    duration: float
    message: str | None = None


class Change(BaseModel):
    key: str
    test_id: int
    base: Side | None
    head: Side | None


class Comparison(BaseModel):
    base: RunSummary
    head: RunSummary
    newly_failed: list[Change]
    fixed: list[Change]
    still_failing: list[Change]
    slower: list[Change]
    added: list[Change]
    removed: list[Change]


class TrendDay(BaseModel):
    day: str
    runs: int
    failed_runs: int
    testcases: int
    pass_rate: float | None
    median_duration: float | None
    max_duration: float | None


class Trends(BaseModel):
    days: list[TrendDay]
    branch: str | None


class Point(BaseModel):
    model_config = ConfigDict(extra="allow")
    calls: int
    failures: int
    failure_rate: float
    avg_duration: float


class IntegrationPoints(BaseModel):
    days: int
    services: list[Point]
    executors: list[Point]
    endpoints: list[Point]


class QuarantineEntry(BaseModel):
    test: str
    test_id: int | None
    reason: str
    added_by: str
    added_at: float
    last_status: str | None


class QuarantineIn(BaseModel):
    test: str = Field(min_length=3, max_length=2000, pattern="::", description="suite::testcase")
    reason: str = Field(default="", max_length=2000)


class WebhookIn(BaseModel):
    url: str = Field(
        max_length=2000,
        pattern=r"^https?://[A-Za-z0-9._~-]+(:[0-9]{1,5})?(/\S*)?$",
        description="http(s) URL that receives the POSTs",
    )
    events: list[Literal["run.finished", "run.failed", "test.flaky"]] = Field(min_length=1)
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="signing secret; generated when left out",
    )


class Delivery(BaseModel):
    event: str
    status: str
    attempts: int
    last_code: int | None
    last_error: str | None


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: float
    last_delivery: Delivery | None


class WebhookCreated(BaseModel):
    id: int
    secret: str = Field(description="shown once: verify X-Splice-Signature with it")


class Accepted(BaseModel):
    run_id: str
    events: int


class Created(BaseModel):
    id: str


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


class Health(BaseModel):
    status: Literal["ok"]
    schema_revision: str
    running_runs: int
