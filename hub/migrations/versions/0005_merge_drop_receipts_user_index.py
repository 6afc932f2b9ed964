"""Join the feature branches; drop ix_receipts_user (a prefix of ix_receipts_user_seq)

Revision ID: 0005
Revises: 0002, 0003, 0004
Create Date: 2026-11-27 14:45:00
"""

from alembic import op

revision = "0005"
down_revision = ("0002", "0003", "0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_receipts_user")


def downgrade() -> None:
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index("ix_receipts_user", ["user_id", "channel", "kind"], unique=False)
