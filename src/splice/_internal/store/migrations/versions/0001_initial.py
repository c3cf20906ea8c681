"""The first schema: runs, tests, results, attempts, steps, and what the server keeps.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_F = sa.false()


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("project", sa.String(200), nullable=False, server_default=""),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("duration", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("commit_sha", sa.String(64), nullable=False, server_default=""),
        sa.Column("branch", sa.String(200), nullable=False, server_default=""),
        sa.Column("ci_url", sa.Text, nullable=False, server_default=""),
        sa.Column("host", sa.String(255), nullable=False, server_default=""),
        sa.Column("cwd", sa.Text, nullable=False, server_default=""),
        sa.Column("command", sa.Text, nullable=False, server_default="[]"),
        sa.Column("environment", sa.Text, nullable=False, server_default="{}"),
        sa.Column("services", sa.Text, nullable=False, server_default="[]"),
        sa.Column("pid", sa.Integer),
        sa.Column("pid_start", sa.String(32)),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("passed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
        sa.Column("flaky", sa.Integer, nullable=False, server_default="0"),
        sa.Column("quarantined", sa.Integer, nullable=False, server_default="0"),
        sa.Column("outage", sa.Boolean, nullable=False, server_default=_F),
    )
    op.create_index("ix_runs_started", "runs", ["started_at"])
    op.create_index("ix_runs_branch", "runs", ["branch", "started_at"])
    op.create_index("ix_runs_status", "runs", ["status", "started_at"])
    op.create_index("ix_runs_commit", "runs", ["commit_sha"])

    op.create_table(
        "tests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("suite", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False, server_default=""),
        sa.Column("line", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("last_status", sa.String(16), nullable=False, server_default=""),
        sa.Column("last_duration", sa.Float, nullable=False, server_default="0"),
        sa.Column("avg_duration", sa.Float, nullable=False, server_default="0"),
        sa.Column("window_runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("window_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("flips", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failure_estimate", sa.Float, nullable=False, server_default="0"),
        sa.Column("flip_rate", sa.Float, nullable=False, server_default="0"),
        sa.Column("flaky_score", sa.Float, nullable=False, server_default="0"),
        sa.Column("flaky_confirmed", sa.Boolean, nullable=False, server_default=_F),
        sa.Column("flaky_commit", sa.String(64), nullable=False, server_default=""),
        sa.Column("flaky_since", sa.Float),
    )
    op.create_index("ix_tests_score", "tests", ["flaky_score"])
    op.create_index("ix_tests_duration", "tests", ["avg_duration"])

    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "test_id", sa.Integer, sa.ForeignKey("tests.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("skip_reason", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("path", sa.Text, nullable=False, server_default=""),
        sa.Column("line", sa.Integer, nullable=False, server_default="0"),
        sa.Column("quarantined", sa.Boolean, nullable=False, server_default=_F),
    )
    op.create_index("ix_results_run", "results", ["run_id"])
    op.create_index("ix_results_test", "results", ["test_id", "started_at"])

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "result_id",
            sa.Integer,
            sa.ForeignKey("results.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
    )
    op.create_index("ix_attempts_result", "attempts", ["result_id"])

    op.create_table(
        "steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("result_id", sa.Integer, sa.ForeignKey("results.id", ondelete="CASCADE")),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("suite", sa.Text, nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("executor", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("polls", sa.Integer, nullable=False),
        sa.Column("location", sa.Text),
        sa.Column("service", sa.Text),
        sa.Column("target", sa.Text),
        sa.Column("request", sa.Text),
        sa.Column("response", sa.Text),
        sa.Column("captures", sa.Text),
        sa.Column("failures", sa.Text),
        sa.Column("skip_reason", sa.Text),
    )
    op.create_index("ix_steps_result", "steps", ["result_id"])

    op.create_table(
        "run_tags",
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("tag", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "tag"),
    )
    op.create_index("ix_run_tags_tag", "run_tags", ["tag"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("result_id", sa.Integer, sa.ForeignKey("results.id", ondelete="CASCADE")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
    )
    op.create_index("ix_artifacts_run", "artifacts", ["run_id"])

    op.create_table(
        "target_stats",
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("executor", sa.String(64), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("day", "executor", "service", "target"),
    )

    op.create_table(
        "quarantine",
        sa.Column("test_key", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("added_by", sa.Text, nullable=False, server_default=""),
        sa.Column("added_at", sa.Float, nullable=False),
    )

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float),
    )

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "webhook_id",
            sa.Integer,
            sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.Float),
        sa.Column("last_code", sa.Integer),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_at"])


def downgrade() -> None:
    for table in (
        "deliveries",
        "webhooks",
        "tokens",
        "quarantine",
        "target_stats",
        "artifacts",
        "run_tags",
        "steps",
        "attempts",
        "results",
        "tests",
        "runs",
    ):
        op.drop_table(table)
