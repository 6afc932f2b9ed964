"""Closing a sitting (sittings.closed_at, closed_by); an item's evaluation deadline and how
it was closed (items.evaluation_due, closed_reason)

Revision ID: 0010_sittings
Revises: 0009_contacts
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_sittings"
down_revision = "0009_contacts"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("sittings", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sittings", sa.Column("closed_by", BigId, nullable=True))
    op.add_column("items", sa.Column("evaluation_due", sa.DateTime(timezone=True), nullable=True))
    op.add_column("items", sa.Column("closed_reason", sa.String(length=20), nullable=True))
    # Every item closed before this revision was closed by its deputies' evaluations.
    op.execute("UPDATE items SET closed_reason = 'evaluated' WHERE state = 'closed'")


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("closed_reason")
        batch.drop_column("evaluation_due")
    with op.batch_alter_table("sittings") as batch:
        batch.drop_column("closed_by")
        batch.drop_column("closed_at")
