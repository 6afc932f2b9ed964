"""The congress's own tables, on which every workflow builds: delegations, undertaking
units, meetings and their participants, and the congress's columns of the transport's
``users`` (a deputy's delegation, a unit account's unit, the roster's phone and preferred
contact).

Declared on the transport's ``metadata``, so :mod:`hub.tables` (and Alembic) see one
schema; each workflow keeps its own tables beside its code.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.store.schema import BigId, metadata, users

delegations = sa.Table(
    "delegations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
)

# The same Table object as ``hub.store.schema.users``, with the congress's columns added.
sa.Table(
    "users",
    metadata,
    sa.Column("delegation_id", BigId, sa.ForeignKey("delegations.id"), nullable=True),
    sa.Column("unit_id", BigId, sa.ForeignKey("units.id"), nullable=True),
    # the roster's mobile (手机), normalised by hub.session.members.check_phone; shown to
    # the secretariat and admins only, never written into the message log
    sa.Column("phone", sa.String(20), nullable=True),
    # how the deputy prefers to be contacted (首选联系方式): a code of
    # hub.session.members.CONTACTS; shown with the phone to the units of the deputy's items
    sa.Column("preferred_contact", sa.String(16), nullable=True),
    extend_existing=True,
)

meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=True),
    sa.Column("ends_on", sa.Date, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

meeting_participants = sa.Table(
    "meeting_participants",
    metadata,
    sa.Column("meeting_id", BigId, sa.ForeignKey("meetings.id"), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
)

__all__ = ["delegations", "meeting_participants", "meetings", "units", "users"]
