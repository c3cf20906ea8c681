"""The contract broker: pacts by consumer version, tags, verifications, deployments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("consumer_version", sa.String(200), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False, server_default=""),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("published_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_pacts_version", "pacts", ["consumer", "provider", "consumer_version"], unique=True
    )
    op.create_index("ix_pacts_provider", "pacts", ["provider", "published_at"])
    op.create_table(
        "pacticipant_tags",
        sa.Column("pacticipant", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("tag", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("pacticipant", "version", "tag"),
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("pact_sha", sa.String(64), nullable=False),
        sa.Column("provider_version", sa.String(200), nullable=False),
        sa.Column("provider_branch", sa.String(200), nullable=False, server_default=""),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("verified_at", sa.Float, nullable=False),
    )
    op.create_index("ix_verifications_pact", "verifications", ["provider", "pact_sha"])
    op.create_index("ix_verifications_version", "verifications", ["provider", "provider_version"])
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pacticipant", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(200), nullable=False),
        sa.Column("deployed_at", sa.Float, nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_deployments_current", "deployments", ["environment", "pacticipant", "current"]
    )


def downgrade() -> None:
    op.drop_table("deployments")
    op.drop_table("verifications")
    op.drop_table("pacticipant_tags")
    op.drop_table("pacts")
