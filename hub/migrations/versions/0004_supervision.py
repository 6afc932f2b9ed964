"""supervision: registrations, performance views, points rules and disputes; archive indexes

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-27 13:10:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError


revision = '0004'
down_revision = '0001'
branch_labels = ('supervision',)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('registrations',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('deputy_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('activity_date', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attachment_name', sa.String(length=255), nullable=True),
    sa.Column('attachment_type', sa.String(length=200), nullable=True),
    sa.Column('attachment_size', sa.BigInteger(), nullable=True),
    sa.Column('attachment_sha256', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', BigId, nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_registrations_deputy', 'registrations', ['deputy_id', 'id'])
    op.create_index('ix_registrations_state', 'registrations', ['state', 'id'])

    op.create_table('performance_views',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('deputy_id', BigId, nullable=False),
    sa.Column('viewer_id', BigId, nullable=False),
    sa.Column('registration_id', BigId, nullable=True),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_performance_views_deputy', 'performance_views', ['deputy_id', 'ts'])
    op.create_index('ix_performance_views_registration', 'performance_views', ['registration_id'])

    op.create_table('points_rulesets',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('created_by', BigId, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_points_rulesets_valid_from', 'points_rulesets', ['valid_from'])

    op.create_table('points_disputes',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('deputy_id', BigId, nullable=False),
    sa.Column('entry', sa.String(length=120), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by', BigId, nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_points_disputes_deputy', 'points_disputes', ['deputy_id', 'entry'])
    op.create_index('ix_points_disputes_state', 'points_disputes', ['state', 'id'])

    # The archive's filters, each in the stable order of message ids.
    op.create_index('ix_messages_channel_id', 'messages', ['channel', 'id'])
    op.create_index('ix_messages_kind_id', 'messages', ['kind', 'id'])
    op.create_index('ix_messages_sender_id', 'messages', ['sender_id', 'id'])
    # "The first ack of this user on this channel at or after seq N" in one probe.
    op.create_index('ix_receipts_user_seq', 'receipts', ['user_id', 'channel', 'kind', 'seq'])

    # Text search in bodies: a trigram index on PostgreSQL when pg_trgm can be created
    # (a trusted extension: the database owner may). Without it the search still works,
    # by scanning.
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        try:
            with bind.begin_nested():
                bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        except DBAPIError:
            return
        op.execute(
            'CREATE INDEX ix_messages_body_trgm ON messages USING gin (body gin_trgm_ops)'
        )


def downgrade() -> None:
    op.execute('DROP INDEX IF EXISTS ix_messages_body_trgm')
    op.drop_index('ix_receipts_user_seq', table_name='receipts')
    op.drop_index('ix_messages_sender_id', table_name='messages')
    op.drop_index('ix_messages_kind_id', table_name='messages')
    op.drop_index('ix_messages_channel_id', table_name='messages')
    op.drop_table('points_disputes')
    op.drop_table('points_rulesets')
    op.drop_table('performance_views')
    op.drop_table('registrations')
