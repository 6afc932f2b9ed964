"""revoked_sessions: logins logged out on the server before their token expired

Revision ID: 0007_auth
Revises: 0006_limits
Create Date: 2026-12-07 12:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_auth"
down_revision = "0006_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column(
            "user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session"),
    )


def downgrade() -> None:
    op.drop_table("revoked_sessions")
