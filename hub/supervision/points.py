"""Duty points (履职积分): derived from the record by versioned rules, disputable.

Points are never typed in.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.store.schema import BigId, metadata

points_rulesets = sa.Table(
    "points_rulesets",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
    # JSON list of {"event", "points", "cap", "period"}
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_points_rulesets_valid_from", "valid_from"),
)

points_disputes = sa.Table(
    "points_disputes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("entry", sa.String(120), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open | upheld | rejected
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_by", BigId, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.Index("ix_points_disputes_deputy", "deputy_id", "entry"),
    sa.Index("ix_points_disputes_state", "state", "id"),
)
