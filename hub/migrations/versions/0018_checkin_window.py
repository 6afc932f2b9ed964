"""A sitting's check-in window, its optional check-in code and its speech limit
(sittings.checkin_opens_before, checkin_closes_after, checkin_code, speech_limit_s)

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


def upgrade() -> None:
    op.add_column("sittings", sa.Column("checkin_opens_before", sa.Integer(), nullable=True))
    op.add_column("sittings", sa.Column("checkin_closes_after", sa.Integer(), nullable=True))
    op.add_column("sittings", sa.Column("checkin_code", sa.String(length=12), nullable=True))
    op.add_column("sittings", sa.Column("speech_limit_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sittings") as batch:
        batch.drop_column("speech_limit_s")
        batch.drop_column("checkin_code")
        batch.drop_column("checkin_closes_after")
        batch.drop_column("checkin_opens_before")
