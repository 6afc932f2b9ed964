"""users.preferred_contact: how a deputy prefers to be contacted (the roster import)

Revision ID: 0011_roster
Revises: 0010_sittings
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_roster"
down_revision = "0010_sittings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("preferred_contact", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("preferred_contact")
