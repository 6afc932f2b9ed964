"""Escalation: a reach job counts the attempts whose outcome is known, and may be about an
item handed to a unit (or its overdue alert) instead of a notice

Revision ID: 0019_escalation
Revises: 0018_checkin_window
Create Date: 2026-12-07 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_escalation"
down_revision = "0018_checkin_window"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("reach_jobs") as b:
        b.add_column(sa.Column("recorded", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(
            sa.Column("about", sa.String(length=10), nullable=False, server_default="notice")
        )
        b.add_column(sa.Column("item_id", BigId, nullable=True))
        b.create_foreign_key("fk_reach_jobs_item_id_items", "items", ["item_id"], ["id"])
        b.alter_column("notice_id", existing_type=BigId, nullable=True)
        b.create_index("ix_reach_jobs_item", ["item_id", "user_id"])


def downgrade() -> None:
    with op.batch_alter_table("reach_jobs") as b:
        b.drop_index("ix_reach_jobs_item")
        b.alter_column("notice_id", existing_type=BigId, nullable=False)
        b.drop_constraint("fk_reach_jobs_item_id_items", type_="foreignkey")
        b.drop_column("item_id")
        b.drop_column("about")
        b.drop_column("recorded")
