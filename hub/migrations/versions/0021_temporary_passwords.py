"""Temporary passwords: an issued password that only lets its holder choose their own

Revision ID: 0021_temporary_passwords
Revises: 0019_escalation
Create Date: 2026-12-07 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_temporary_passwords"
down_revision = "0019_escalation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("password_temporary", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_temporary")
