"""A sitting's check-in window, its optional check-in code and its speech limit
(sittings.checkin_opens_before, checkin_closes_after, checkin_code, speech_limit_s), and the
wrong codes deputies typed (checkin_code_misses: a guard against trying them all)

Sittings made before this revision keep no window (check-in until they end), no code
and no speech limit, as they behaved.

Revision ID: 0018_checkin_window
Revises: 0015_notice_changes
Create Date: 2026-12-07 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_checkin_window"
down_revision = "0015_notice_changes"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("sittings", sa.Column("checkin_opens_before", sa.Integer(), nullable=True))
    op.add_column("sittings", sa.Column("checkin_closes_after", sa.Integer(), nullable=True))
    op.add_column("sittings", sa.Column("checkin_code", sa.String(length=12), nullable=True))
    op.add_column("sittings", sa.Column("speech_limit_s", sa.Integer(), nullable=True))
    op.create_table(
        "checkin_code_misses",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("sitting_id", BigId, sa.ForeignKey("sittings.id"), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_checkin_code_misses", "checkin_code_misses", ["sitting_id", "user_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_checkin_code_misses", table_name="checkin_code_misses")
    op.drop_table("checkin_code_misses")
    with op.batch_alter_table("sittings") as batch:
        batch.drop_column("speech_limit_s")
        batch.drop_column("checkin_code")
        batch.drop_column("checkin_closes_after")
        batch.drop_column("checkin_opens_before")
