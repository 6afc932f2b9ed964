"""What the session workflows share: the system sender, meeting access and timestamps.

Access rules every workflow applies the same way:

* an unknown meeting, sitting or object is :class:`NotFound` (checked first);
* secretariat, supervisors and admins may read every meeting; others only the meetings
  they participate in (else :class:`Forbidden`);
* only the secretariat changes a meeting's structure, sends notices and runs sittings.

A workflow's transaction is ``node.writing()``: refused while the node drains, and locking
the channels it appends to in one order (:class:`hub.node.Writer`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Forbidden, NotFound
from hub.protocol import utc
from hub.session.channels import READERS_OF_ALL
from hub.session.members import Member
from hub.session.schema import meeting_participants, meetings, users
from hub.store.engine import in_chunks

if TYPE_CHECKING:
    pass

SYSTEM = Member(id=0, name="会议系统", role="system")
"""The sender of messages the hub raises by itself (tallies, presence changes)."""


def parse_ts(raw: object, name: str) -> datetime:
    """An ISO-8601 timestamp with a zone (``2026-03-01T09:00:00+08:00`` or ``…Z``)."""
    if not isinstance(raw, str):
        raise BadRequest(f"`{name}` must be an ISO-8601 timestamp like 2026-03-01T09:00:00+08:00")
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"`{name}` must be an ISO-8601 timestamp like 2026-03-01T09:00:00+08:00"
        ) from None
    if ts.tzinfo is None:
        raise BadRequest(f"`{name}` needs a time zone, e.g. +08:00 or Z")
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise BadRequest(f"`{name}` is out of range") from None


def require_role(me: Member, *roles: str) -> None:
    if me.role not in roles:
        raise Forbidden(f"a {me.role} may not do this; needs one of: {', '.join(roles)}")


async def meeting_row(conn: AsyncConnection, meeting_id: int) -> Any:
    m = (await conn.execute(sa.select(meetings).where(meetings.c.id == meeting_id))).first()
    if m is None:
        raise NotFound(f"no meeting {meeting_id}")
    return m


def check_meeting_reader(me: Member, meeting_id: int) -> None:
    if me.role not in READERS_OF_ALL and meeting_id not in me.meetings:
        raise Forbidden(f"{me.role} {me.id} does not participate in meeting {meeting_id}")


async def meeting_deputies(conn: AsyncConnection, meeting_id: int) -> list[Any]:
    """The deputies participating in a meeting: rows (id, name, delegation_id), by id."""
    rows = await conn.execute(
        sa.select(users.c.id, users.c.name, users.c.delegation_id)
        .join(meeting_participants, meeting_participants.c.user_id == users.c.id)
        .where(meeting_participants.c.meeting_id == meeting_id, users.c.role == "deputy")
        .order_by(users.c.id)
    )
    return list(rows)


async def names(conn: AsyncConnection, user_ids: set[int] | list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ids = sorted(set(user_ids))
    for part in in_chunks(ids):
        rows = await conn.execute(sa.select(users.c.id, users.c.name).where(users.c.id.in_(part)))
        out.update({int(r.id): r.name for r in rows})
    return out


def person(user_id: int, name: str) -> dict[str, Any]:
    return {"id": user_id, "name": name}


# -- timestamps -------------------------------------------------------------------------


def aware(ts: datetime | None) -> datetime | None:
    """:func:`utc` of a timestamp that may be absent."""
    return None if ts is None else utc(ts)
