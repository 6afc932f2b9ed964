"""Corrections and withdrawals of sent notices, appended (a notice's row is never rewritten)

Revision ID: 0015_notice_changes
Revises: 0014_devices
Create Date: 2026-12-12 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_notice_changes"
down_revision = "0014_devices"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notice_changes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("notice_id", BigId, sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notice_changes_notice", "notice_changes", ["notice_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_notice_changes_notice", table_name="notice_changes")
    op.drop_table("notice_changes")
