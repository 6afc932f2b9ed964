"""Escalation to text messages: a reach job counts the attempts whose outcome is known

Revision ID: 0019_escalation
Revises: 0015_notice_changes
Create Date: 2026-12-07 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_escalation"
down_revision = "0015_notice_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reach_jobs") as b:
        b.add_column(sa.Column("recorded", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("reach_jobs") as b:
        b.drop_column("recorded")
