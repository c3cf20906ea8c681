"""The queue of runs started through the API (`splice serve --project`), so that a
restarted server requeues what waited and tells what was running that it was interrupted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False, server_default=""),
        sa.Column("commit_sha", sa.String(64), nullable=False, server_default=""),
        sa.Column("environment", sa.String(200), nullable=False, server_default=""),
        sa.Column("ci_url", sa.Text, nullable=False, server_default=""),
        sa.Column("queued_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("exit_code", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("project", sa.Text, nullable=False, server_default=""),
        sa.Column("host", sa.String(255), nullable=False, server_default=""),
        sa.Column("server_pid", sa.Integer),
        sa.Column("server_start", sa.String(32)),
        sa.Column("pid", sa.Integer),
        sa.Column("pid_start", sa.String(32)),
    )
    op.create_index("ix_triggers_state", "triggers", ["state", "queued_at"])
    op.create_index("ix_triggers_queued", "triggers", ["queued_at"])


def downgrade() -> None:
    op.drop_table("triggers")
