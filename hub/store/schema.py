"""The transport's tables: accounts, channels, the message log, receipts, publish quotas,
logged-out logins. Alembic migrations in ``hub/migrations`` create exactly the tables of
:mod:`hub.tables` (these, and those each layer above declares on the same ``metadata``).

``messages`` is append-only: no code path updates or deletes a row. ``channels.head``
is the channel's last assigned sequence number; incrementing it (a row lock on
PostgreSQL, the write lock on SQLite) is what serialises publishers per channel.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Accounts as the transport knows them: who logs in and whose tokens are valid. The layer
# built on the transport adds its own columns (the congress's: ``hub.session.schema``).
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    # an issued password (a roster's first passwords): it only lets its holder choose their
    # own (``POST /api/login/first``), never log in
    sa.Column("password_temporary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("token_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("head", sa.BigInteger, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("sender_id", BigId, nullable=False),
    sa.Column("sender_name", sa.String(200), nullable=False),
    sa.Column("sender_role", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("idem_key", sa.String(128), nullable=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("channel", "seq", name="uq_messages_channel_seq"),
    sa.Index("ix_messages_idem", "channel", "sender_id", "idem_key", unique=True),
    sa.Index("ix_messages_ts", "ts"),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("user_id", BigId, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # ack | read
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_receipts_channel_kind_seq", "channel", "kind", "seq"),
)

# Bytes of raw publishes per account and day (``hub.limits.PublishQuota``): a counter,
# not part of the log.
publish_usage = sa.Table(
    "publish_usage",
    metadata,
    sa.Column("user_id", BigId, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("bytes", sa.BigInteger, nullable=False),
)

# Logins (devices) logged out before their token expired: every node refuses their
# tokens. A row is useless once ``expires_at`` has passed and may then be deleted.
revoked_sessions = sa.Table(
    "revoked_sessions",
    metadata,
    sa.Column("session", sa.String(32), primary_key=True),
    sa.Column("user_id", BigId, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
