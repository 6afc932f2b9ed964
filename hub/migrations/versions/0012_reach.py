"""Reaching people with no page open: their browsers' push subscriptions and the reach
jobs (one per notice, person, channel and round)

Revision ID: 0012_reach
Revises: 0011_roster
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_reach"
down_revision = "0011_roster"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("endpoint", sa.String(length=800), nullable=False),
        sa.Column("p256dh", sa.String(length=100), nullable=False),
        sa.Column("auth", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    )
    op.create_index("ix_push_subscriptions_user", "push_subscriptions", ["user_id", "id"])
    op.create_table(
        "reach_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("notice_id", BigId, sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("meeting_id", BigId, nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("key", name="uq_reach_jobs_key"),
    )
    op.create_index("ix_reach_jobs_due", "reach_jobs", ["state", "next_at"])
    op.create_index("ix_reach_jobs_notice", "reach_jobs", ["notice_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_reach_jobs_notice", table_name="reach_jobs")
    op.drop_index("ix_reach_jobs_due", table_name="reach_jobs")
    op.drop_table("reach_jobs")
    op.drop_index("ix_push_subscriptions_user", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
