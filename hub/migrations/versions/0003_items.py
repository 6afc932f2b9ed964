"""items: opinions, commit-to-do items and suggestions, their events, deadline rules,
the working-day calendar, deadline alerts and task leases

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27 12:53:57
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0001'
branch_labels = ('items',)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# The defaults of hub.session.deadline_rules.DEFAULTS, written out so the admin sees and
# changes rows; a later change of the defaults in code does not rewrite these.
DEFAULT_RULES = [
    ('commit.sign', 1, 'working_days'),
    ('commit.reply', 3, 'working_days'),
    ('commit.co_opinion', 1, 'working_days'),
    ('commit.rereply', 3, 'working_days'),
    ('commit.due_soon', 4, 'hours'),
    ('suggestion.sign', 7, 'working_days'),
    ('suggestion.reply', 3, 'months'),
    ('suggestion.reply_complex', 6, 'months'),
    ('suggestion.co_opinion', 1, 'months'),
    ('suggestion.rereply', 1, 'months'),
    ('suggestion.due_soon', 7, 'days'),
]


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=100), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('deadline_rules',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', BigId, nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('task_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('items',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('meeting_id', BigId, nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('round', sa.Integer(), server_default='1', nullable=False),
    sa.Column('complex', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_by', BigId, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sign_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extension_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('grade', sa.String(length=1), nullable=True),
    sa.Column('reply_text', sa.Text(), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.create_index('ix_items_meeting', ['meeting_id', 'kind'], unique=False)
        batch_op.create_index('ix_items_state', ['state'], unique=False)

    op.create_table('deadline_alerts',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('item_id', BigId, nullable=False),
    sa.Column('deadline', sa.String(length=16), nullable=False),
    sa.Column('unit_id', BigId, nullable=False),
    sa.Column('due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'deadline', 'unit_id', 'due', 'level', name='uq_deadline_alerts')
    )
    op.create_table('item_deputies',
    sa.Column('item_id', BigId, nullable=False),
    sa.Column('deputy_id', BigId, nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.PrimaryKeyConstraint('item_id', 'deputy_id')
    )
    with op.batch_alter_table('item_deputies', schema=None) as batch_op:
        batch_op.create_index('ix_item_deputies_deputy', ['deputy_id'], unique=False)

    op.create_table('item_evaluations',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('item_id', BigId, nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('deputy_id', BigId, nullable=False),
    sa.Column('rating', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'round', 'deputy_id', name='uq_item_evaluations_once')
    )
    op.create_table('item_events',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('item_id', BigId, nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor_id', BigId, nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('actor_unit_id', BigId, nullable=True),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('item_events', schema=None) as batch_op:
        batch_op.create_index('ix_item_events_at', ['at'], unique=False)
        batch_op.create_index('ix_item_events_item', ['item_id', 'id'], unique=False)

    op.create_table('item_units',
    sa.Column('item_id', BigId, nullable=False),
    sa.Column('unit_id', BigId, nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opinion_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opinion_text', sa.Text(), nullable=True),
    sa.Column('opinion_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('item_id', 'unit_id')
    )
    with op.batch_alter_table('item_units', schema=None) as batch_op:
        batch_op.create_index('ix_item_units_unit', ['unit_id'], unique=False)

    op.create_table('opinions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('meeting_id', BigId, nullable=False),
    sa.Column('deputy_id', BigId, nullable=False),
    sa.Column('agenda_item_id', BigId, nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attachment', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('merged_into', BigId, nullable=True),
    sa.Column('item_id', BigId, nullable=True),
    sa.Column('handled_by', BigId, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['handled_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ),
    sa.ForeignKeyConstraint(['merged_into'], ['opinions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.create_index('ix_opinions_deputy', ['deputy_id'], unique=False)
        batch_op.create_index('ix_opinions_meeting_status', ['meeting_id', 'status'], unique=False)

    rules = sa.table(
        'deadline_rules', sa.column('name', sa.String), sa.column('amount', sa.Integer),
        sa.column('unit', sa.String),
    )
    op.bulk_insert(rules, [{'name': n, 'amount': a, 'unit': u} for n, a, u in DEFAULT_RULES])
    leases = sa.table(
        'task_leases', sa.column('name', sa.String), sa.column('holder', sa.String),
        sa.column('expires_at', sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        leases,
        [{'name': 'deadlines', 'holder': '', 'expires_at': datetime(1970, 1, 1, tzinfo=timezone.utc)}],
    )


def downgrade() -> None:
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.drop_index('ix_opinions_meeting_status')
        batch_op.drop_index('ix_opinions_deputy')

    op.drop_table('opinions')
    with op.batch_alter_table('item_units', schema=None) as batch_op:
        batch_op.drop_index('ix_item_units_unit')

    op.drop_table('item_units')
    with op.batch_alter_table('item_events', schema=None) as batch_op:
        batch_op.drop_index('ix_item_events_item')
        batch_op.drop_index('ix_item_events_at')

    op.drop_table('item_events')
    op.drop_table('item_evaluations')
    with op.batch_alter_table('item_deputies', schema=None) as batch_op:
        batch_op.drop_index('ix_item_deputies_deputy')

    op.drop_table('item_deputies')
    op.drop_table('deadline_alerts')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_state')
        batch_op.drop_index('ix_items_meeting')

    op.drop_table('items')
    op.drop_table('task_leases')
    op.drop_table('deadline_rules')
    op.drop_table('calendar_days')
