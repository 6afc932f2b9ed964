"""Performance files (履职档案): everything a deputy did, in one view, and who viewed it.

Every read of a file, or of one registration in it, is recorded in ``performance_views``
(viewer, time), and the file shows its view counts.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.store.schema import BigId, metadata

performance_views = sa.Table(
    "performance_views",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("viewer_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    # set when one registration was opened, NULL for the whole file
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id"), nullable=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_performance_views_deputy", "deputy_id", "ts"),
    sa.Index("ix_performance_views_registration", "registration_id"),
)
