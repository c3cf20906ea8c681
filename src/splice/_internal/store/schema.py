"""The tables of the results store, as SQLAlchemy Core metadata.

Times are seconds since the epoch (floats), as in `model.results`, so rows compare and
sort the same on SQLite and PostgreSQL. JSON values are stored as text written by the store
itself: a step's request and response are read back whole and never queried inside.

The migrations in `splice/store/migrations` create exactly these tables; a test compares the
two, so a change here without a migration fails.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

from splice._internal.store import revision

# The newest migration (it lives in revision.py, which imports nothing); the store skips
# Alembic entirely when the database is already there.
HEAD = revision.HEAD

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    # running, passed, failed, error, interrupted, killed
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),  # run, pytest, junit, upload
    Column("project", String(200), nullable=False, server_default=""),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("duration", Float),
    Column("updated_at", Float, nullable=False),  # last event or heartbeat
    Column("commit_sha", String(64), nullable=False, server_default=""),
    Column("branch", String(200), nullable=False, server_default=""),
    Column("ci_url", Text, nullable=False, server_default=""),
    Column("host", String(255), nullable=False, server_default=""),
    Column("cwd", Text, nullable=False, server_default=""),
    Column("command", Text, nullable=False, server_default="[]"),
    Column("environment", Text, nullable=False, server_default="{}"),
    Column("services", Text, nullable=False, server_default="[]"),
    Column("pid", Integer),
    Column("pid_start", String(32)),  # start time of the pid, so a reused pid is not taken for it
    Column("total", Integer, nullable=False, server_default="0"),  # testcases planned
    Column("done", Integer, nullable=False, server_default="0"),
    Column("passed", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("errors", Integer, nullable=False, server_default="0"),
    Column("skipped", Integer, nullable=False, server_default="0"),
    Column("flaky", Integer, nullable=False, server_default="0"),
    Column("quarantined", Integer, nullable=False, server_default="0"),
    # most testcases failed together: an outage, left out of flakiness scoring
    Column("outage", Boolean, nullable=False, server_default=false()),
    # `xfail:` testcases: failed as expected (the run passes), passed when strict (it fails)
    Column("xfailed", Integer, nullable=False, server_default="0"),
    Column("xpassed", Integer, nullable=False, server_default="0"),
    # the operation coverage of the run's OpenAPI documents (RunResult.openapi), as JSON
    Column("openapi", Text, nullable=False, server_default="[]"),
    Index("ix_runs_started", "started_at"),
    Index("ix_runs_branch", "branch", "started_at"),
    Index("ix_runs_status", "status", "started_at"),
    Index("ix_runs_commit", "commit_sha"),
)

tests = Table(
    "tests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "suite::testcase": the identity across runs, whatever file the suite lives in
    Column("key", Text, nullable=False, unique=True),
    Column("suite", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False, server_default=""),
    Column("line", Integer, nullable=False, server_default="0"),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    # the statistics below are recomputed when a run with this test finishes
    Column("last_status", String(16), nullable=False, server_default=""),
    Column("last_duration", Float, nullable=False, server_default="0"),
    Column("avg_duration", Float, nullable=False, server_default="0"),
    Column("window_runs", Integer, nullable=False, server_default="0"),
    Column("window_failures", Integer, nullable=False, server_default="0"),
    Column("flips", Integer, nullable=False, server_default="0"),
    Column("failure_estimate", Float, nullable=False, server_default="0"),
    Column("flip_rate", Float, nullable=False, server_default="0"),
    Column("flaky_score", Float, nullable=False, server_default="0"),
    Column("flaky_confirmed", Boolean, nullable=False, server_default=false()),
    Column("flaky_commit", String(64), nullable=False, server_default=""),
    Column("flaky_since", Float),
    Index("ix_tests_score", "flaky_score"),
    Index("ix_tests_duration", "avg_duration"),
)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("test_id", Integer, ForeignKey("tests.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # a Status value, or running
    Column("started_at", Float, nullable=False),
    Column("duration", Float, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("skip_reason", Text),
    Column("message", Text),  # the first failure, for lists
    Column("path", Text, nullable=False, server_default=""),
    Column("line", Integer, nullable=False, server_default="0"),
    Column("quarantined", Boolean, nullable=False, server_default=false()),
    Index("ix_results_run", "run_id"),
    Index("ix_results_test", "test_id", "started_at"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("result_id", Integer, ForeignKey("results.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration", Float, nullable=False),
    Index("ix_attempts_result", "result_id"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    # null for a suite's own setup and teardown steps, which belong to no testcase
    Column("result_id", Integer, ForeignKey("results.id", ondelete="CASCADE")),
    Column("attempt", Integer, nullable=False),
    Column("suite", Text, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("executor", String(64), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration", Float, nullable=False),
    Column("polls", Integer, nullable=False),
    Column("location", Text),
    Column("service", Text),  # the service of the project the step talked to, when known
    Column("target", Text),  # the integration point: "POST /orders/:id", a queue, a table
    Column("request", Text),
    Column("response", Text),
    Column("captures", Text),
    Column("failures", Text),
    Column("skip_reason", Text),
    # by testcase result; a suite's own steps (result_id null) share one short range of it
    Index("ix_steps_result", "result_id"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("tag", String(200), nullable=False),
    PrimaryKeyConstraint("run_id", "tag"),
    Index("ix_run_tags_tag", "tag"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("result_id", Integer, ForeignKey("results.id", ondelete="CASCADE")),
    Column("kind", String(32), nullable=False),  # service-log, output
    Column("name", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("size", Integer, nullable=False),  # of the original, before it was cut
    Index("ix_artifacts_run", "run_id"),
)

# calls and failures per day and integration point, kept at ingest so the "failing
# integration points" page never scans every step
target_stats = Table(
    "target_stats",
    metadata,
    Column("day", Integer, nullable=False),  # days since the epoch (UTC)
    Column("executor", String(64), nullable=False),
    Column("service", String(200), nullable=False),
    Column("target", String(400), nullable=False),
    Column("calls", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("duration", Float, nullable=False),
    PrimaryKeyConstraint("day", "executor", "service", "target"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("test_key", Text, primary_key=True),
    Column("reason", Text, nullable=False, server_default=""),
    Column("added_by", Text, nullable=False, server_default=""),
    Column("added_at", Float, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("digest", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("scope", String(8), nullable=False),  # read or write
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),  # kept to sign; never shown again
    Column("events", Text, nullable=False),  # JSON list
    Column("created_at", Float, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, sending, delivered, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Column("last_code", Integer),
    Column("last_error", Text),
    Index("ix_deliveries_due", "status", "next_at"),
)

# runs started through the API (`web.triggers`): the queue of `splice serve --project`, kept
# here so that a restarted server finds what was waiting and what was running
triggers = Table(
    "triggers",
    metadata,
    Column("id", String(64), primary_key=True),  # also the id of its run in `runs`
    Column("kind", String(16), nullable=False),  # workflow or suites
    Column("target", Text, nullable=False),  # the workflow's name, or the suites described
    Column("args", Text, nullable=False),  # JSON list: the arguments of `splice`
    # queued, running, passed, failed, error, interrupted, cancelled
    Column("state", String(16), nullable=False),
    Column("branch", String(200), nullable=False, server_default=""),
    Column("commit_sha", String(64), nullable=False, server_default=""),
    Column("environment", String(200), nullable=False, server_default=""),
    Column("ci_url", Text, nullable=False, server_default=""),
    Column("queued_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("exit_code", Integer),
    Column("reason", Text, nullable=False, server_default=""),  # why it ended as it did
    # the server that holds it: its project folder, host, pid and the pid's start marker
    Column("project", Text, nullable=False, server_default=""),
    Column("host", String(255), nullable=False, server_default=""),
    Column("server_pid", Integer),
    Column("server_start", String(32)),
    # the child process running it (its own process group)
    Column("pid", Integer),
    Column("pid_start", String(32)),
    Index("ix_triggers_state", "state", "queued_at"),
    Index("ix_triggers_queued", "queued_at"),
)

# --- the contract broker (contracts/broker.py) ---------------------------------------------------

pacts = Table(
    "pacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(200), nullable=False),
    Column("provider", String(200), nullable=False),
    Column("consumer_version", String(200), nullable=False),
    Column("branch", String(200), nullable=False, server_default=""),
    Column("sha", String(64), nullable=False),  # sha256 of the canonical pact content
    Column("content", Text, nullable=False),
    Column("published_at", Float, nullable=False),
    Index("ix_pacts_version", "consumer", "provider", "consumer_version", unique=True),
    Index("ix_pacts_provider", "provider", "published_at"),
)

pacticipant_tags = Table(
    "pacticipant_tags",
    metadata,
    Column("pacticipant", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("tag", String(200), nullable=False),
    PrimaryKeyConstraint("pacticipant", "version", "tag"),
)

verifications = Table(
    "verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(200), nullable=False),
    Column("provider", String(200), nullable=False),
    Column("pact_sha", String(64), nullable=False),
    Column("provider_version", String(200), nullable=False),
    Column("provider_branch", String(200), nullable=False, server_default=""),
    Column("success", Boolean, nullable=False),
    Column("run_id", String(64)),
    Column("verified_at", Float, nullable=False),
    Index("ix_verifications_pact", "provider", "pact_sha"),
    Index("ix_verifications_version", "provider", "provider_version"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pacticipant", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("environment", String(200), nullable=False),
    Column("deployed_at", Float, nullable=False),
    Column("current", Boolean, nullable=False),
    Index("ix_deployments_current", "environment", "pacticipant", "current"),
)
