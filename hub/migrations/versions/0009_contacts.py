"""users.phone: the roster's mobile number, for the secretariat's call list

Revision ID: 0009_contacts
Revises: 0008_seen
Create Date: 2026-12-09 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_contacts"
down_revision = "0008_seen"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone")
