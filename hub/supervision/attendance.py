"""Who was expected at each sitting, and whether they checked in or were on leave.

Expected at a sitting: the deputies participating in its meeting, and for a group
deliberation only those of its delegation (as ``hub.session.attendance`` decides).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.protocol import utc
from hub.session.attendance import checkins, leave_requests
from hub.session.meetings import sitting_ended
from hub.session.schema import meeting_participants, users


def status(checked_in: bool, leave: str | None) -> str:
    """checked_in, on_leave (approved), leave_pending, or absent."""
    if checked_in:
        return "checked_in"
    if leave == "approved":
        return "on_leave"
    if leave == "pending":
        return "leave_pending"
    return "absent"


def as_of(status_: str, sitting: Any, now: datetime) -> str:
    """A status as it stands at ``now``: at a sitting that has not ended nobody is absent
    yet — ``not_checked_in`` once it has begun (未签到), ``upcoming`` before (未开始)."""
    if status_ != "absent" or sitting_ended(sitting, now):
        return status_
    return "not_checked_in" if utc(sitting.starts_at) <= now else "upcoming"


@dataclass(frozen=True)
class Mark:
    sitting: Any  # the sittings row
    deputy_id: int
    deputy_name: str
    delegation_id: int | None
    status: str
    checked_in_at: datetime | None
    leave: Any  # the deputy's latest leave request for the sitting, or None


async def marks(
    conn: AsyncConnection, sittings_: Sequence[Any], deputies: set[int] | None = None
) -> list[Mark]:
    """Every (sitting, expected deputy) of ``sittings_`` with the deputy's status, by
    sitting then deputy id; only ``deputies`` if given."""
    if not sittings_:
        return []
    ids = [int(s.id) for s in sittings_]
    present = {
        (int(x.sitting_id), int(x.user_id)): utc(x.ts)
        for x in await conn.execute(
            sa.select(checkins.c.sitting_id, checkins.c.user_id, checkins.c.ts).where(
                checkins.c.sitting_id.in_(ids)
            )
        )
    }
    leaves: dict[tuple[int, int], Any] = {}
    for x in await conn.execute(
        sa.select(leave_requests)
        .where(leave_requests.c.sitting_id.in_(ids))
        .order_by(leave_requests.c.id)
    ):
        leaves[(int(x.sitting_id), int(x.user_id))] = x  # the latest request
    q = (
        sa.select(
            meeting_participants.c.meeting_id, users.c.id, users.c.name, users.c.delegation_id
        )
        .join(users, users.c.id == meeting_participants.c.user_id)
        .where(
            meeting_participants.c.meeting_id.in_({int(s.meeting_id) for s in sittings_}),
            users.c.role == "deputy",
        )
    )
    if deputies is not None:
        q = q.where(users.c.id.in_(sorted(deputies)))
    members: dict[int, list[Any]] = defaultdict(list)
    for x in await conn.execute(q.order_by(users.c.id)):
        members[int(x.meeting_id)].append(x)
    out = []
    for s in sorted(sittings_, key=lambda s: int(s.id)):
        for d in members[int(s.meeting_id)]:
            if s.delegation_id is not None and d.delegation_id != s.delegation_id:
                continue
            key = (int(s.id), int(d.id))
            leave = leaves.get(key)
            st = status(key in present, None if leave is None else leave.status)
            out.append(Mark(s, int(d.id), d.name, d.delegation_id, st, present.get(key), leave))
    return out
