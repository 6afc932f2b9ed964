"""Performance registrations (履职登记): a deputy records an activity, a supervisor decides.

A deputy records what they did outside the session (an inspection, research, meeting
constituents, training …) with its date, a text and optionally one attached file. The
registration is ``submitted``; a supervisor ``confirmed`` or ``rejected`` it (a reason is
required to reject). Each step changes the row and appends a message to the deputy's
inbox ``deputy:<id>`` in the same transaction (``registration.submitted``,
``registration.confirmed``, ``registration.rejected``), so the deputy's devices hear of
the decision and the log keeps it. Only confirmed registrations earn duty points.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.store.schema import BigId, metadata

KINDS = ("inspection", "research", "constituents", "training", "other")
STATES = ("submitted", "confirmed", "rejected")

registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("activity_date", sa.Date, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("attachment_name", sa.String(255), nullable=True),
    sa.Column("attachment_type", sa.String(200), nullable=True),
    sa.Column("attachment_size", sa.BigInteger, nullable=True),
    sa.Column("attachment_sha256", sa.String(64), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", BigId, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Index("ix_registrations_deputy", "deputy_id", "id"),
    sa.Index("ix_registrations_state", "state", "id"),
)
