"""Every module that defines tables, imported so ``metadata`` is complete (for Alembic).

The transport's tables are in ``hub.store.schema``, the congress's own (delegations,
units, meetings, the congress's columns of ``users``) in ``hub.session.schema``; each
workflow keeps its tables beside its code and is listed here.
"""

from hub import devices  # noqa: F401
from hub.api import idempotency  # noqa: F401
from hub.reach import dispatch, subscriptions  # noqa: F401
from hub.session import (  # noqa: F401
    attendance,
    calendar,
    deadline_rules,
    deadlines,
    documents,
    items,
    meetings,
    notices,
    opinions,
    presence,
    schema,
    speakers,
)
from hub.store.schema import metadata
from hub.supervision import archive, performance, points, registrations  # noqa: F401

__all__ = ["metadata"]
