"""item_seen: when a unit's account last saw an item (the hand-over alert sounds once)

Revision ID: 0008_seen
Revises: 0007_auth
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_seen"
down_revision = "0007_auth"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "item_seen",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"]),
        sa.PrimaryKeyConstraint("user_id", "item_id"),
    )


def downgrade() -> None:
    op.drop_table("item_seen")
