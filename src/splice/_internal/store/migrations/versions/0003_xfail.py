"""Counts of expected failures on runs: `xfailed` (failed as expected) and `xpassed` (a
strict `xfail:` testcase that passed).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("xfailed", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("xpassed", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("xpassed")
        batch.drop_column("xfailed")
