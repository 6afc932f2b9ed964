"""Attendance per sitting: check-in (签到), leave requests (请假) and the board.

Who is expected at a sitting: the meeting's deputies, and for a group deliberation only
those of its delegation. Per deputy and sitting:

* ``check in`` (the deputy): refused once checked in, and after the sitting has ended
  (closed by the secretariat, or past its scheduled end: ``conflict`` with ``reason``
  ``sitting_closed`` / ``sitting_ended``, ``hub.session.meetings``). A deputy on leave who
  turns up may still check in; the board then shows them checked in.
* ``request leave`` with a reason (the deputy): refused once checked in, after the
  sitting has ended (as check-in), or while a request is pending or approved; after a
  refusal the deputy may ask again.
* ``approve`` / ``refuse`` (the secretariat): only a pending request.

Messages, all on ``desk:<meeting>``: ``attendance.checked_in`` ``{"sitting", "deputy",
"ts"}``, ``attendance.leave_requested`` ``{"leave": …}``, ``attendance.leave_decided``
``{"leave": …}`` (also on the deputy's inbox ``deputy:<id>``). Presence changes come as
``presence.changed`` (see ``hub.session.presence``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited
from hub.node import Writer
from hub.protocol import iso_or_none, utc
from hub.session.common import meeting_deputies, person, require_role
from hub.session.meetings import (
    Sitting,
    checkin_closes_at,
    checkin_opens_at,
    refuse_if_ended,
    sitting_dict,
    sitting_ended,
    sitting_row,
)
from hub.session.members import Member
from hub.session.presence import online_users
from hub.session.schema import delegations, users
from hub.shapes import Body, Label, MaybeShortText, Named, Shape, ShortText, Timestamp
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.node import Node

checkins = sa.Table(
    "checkins",
    metadata,
    sa.Column("sitting_id", BigId, sa.ForeignKey("sittings.id"), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
)

leave_requests = sa.Table(
    "leave_requests",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("sitting_id", BigId, sa.ForeignKey("sittings.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # pending | approved | refused
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", BigId, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index("ix_leave_requests_sitting", "sitting_id", "user_id"),
)

# Wrong check-in codes (not messages: a guess is nobody's business but the guard's), so that
# a deputy away from the hall cannot try the codes one after another.
checkin_code_misses = sa.Table(
    "checkin_code_misses",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("sitting_id", BigId, sa.ForeignKey("sittings.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_checkin_code_misses", "sitting_id", "user_id", "at"),
)

CODE_MISSES = 5
CODE_MISS_WINDOW = timedelta(minutes=10)
"""At most ``CODE_MISSES`` wrong codes per deputy and sitting in ``CODE_MISS_WINDOW``: one
more is ``rate_limited`` with ``retry_after`` (a million six-digit codes then take years)."""

NEXT = {"pending": ["approve", "refuse"], "approved": [], "refused": []}


# -- the shapes of what the API takes and sends about attendance ----------------------------


class LeaveInput(Body):
    """A deputy's leave request for a sitting."""

    reason: ShortText


class CheckInInput(Body):
    """A check-in: the code shown in the hall, when the sitting asks for one."""

    code: Annotated[Label, Meta(description="the sitting's check-in code")] | None = None


class DecisionInput(Body):
    """The secretariat's decision on a leave request, with an optional note."""

    note: MaybeShortText | None = None


Status = Literal["checked_in", "on_leave", "leave_pending", "absent"]
STATUSES: tuple[str, ...] = get_args(Status)


class Leave(Shape, kw_only=True):
    """A leave request."""

    id: int
    sitting_id: int
    deputy: Named
    reason: str
    status: Literal["pending", "approved", "refused"]
    created_at: Timestamp | None
    decided_at: Timestamp | None = None
    note: str | None = None
    allowed: Annotated[list[str], Meta(description="the actions the object allows next")]


class CheckIn(Shape):
    sitting: int
    deputy: Named
    ts: Timestamp


class Counts(Shape):
    checked_in: int
    on_leave: int
    leave_pending: int
    absent: int
    online: int


class BoardDeputy(Shape, kw_only=True):
    id: int
    name: str
    delegation_id: int | None = None
    delegation_name: str | None = None
    status: Status
    online: bool
    checked_in_at: Timestamp | None = None
    leave: Leave | None = None


class Board(Shape):
    """The attendance board of a sitting."""

    sitting: Sitting
    open: bool
    checkin_code: Annotated[
        str | None,
        Meta(
            description="the code deputies type to check in, to show in the hall (staff "
            "only; null: none)"
        ),
    ]
    expected: int
    counts: Counts
    deputies: list[BoardDeputy]


def leave_dict(r: Any, name: str) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "sitting_id": int(r.sitting_id),
        "deputy": person(int(r.user_id), name),
        "reason": r.reason,
        "status": r.status,
        "created_at": iso_or_none(r.created_at),
        "decided_at": iso_or_none(r.decided_at),
        "note": r.note,
        "allowed": NEXT[r.status],
    }


def status_of(checked_in: bool, leave: Any | None) -> str:
    """A deputy's attendance at a sitting from their check-in and latest leave request:
    ``checked_in`` (whatever the leave), ``on_leave``, ``leave_pending`` or ``absent``."""
    if checked_in:
        return "checked_in"
    if leave is not None and leave.status == "approved":
        return "on_leave"
    if leave is not None and leave.status == "pending":
        return "leave_pending"
    return "absent"


async def expected(conn: AsyncConnection, sitting: Any) -> list[Any]:
    """The deputies expected at a sitting: rows (id, name, delegation_id)."""
    deps = await meeting_deputies(conn, int(sitting.meeting_id))
    if sitting.delegation_id is not None:
        deps = [d for d in deps if d.delegation_id == sitting.delegation_id]
    return deps


async def _expected_deputy(conn: AsyncConnection, me: Member, sitting_id: int) -> Any:
    """The sitting, locked; Forbidden unless the caller is a deputy expected there."""
    require_role(me, "deputy")
    s = await sitting_row(conn, sitting_id, lock=True)
    if int(s.meeting_id) not in me.meetings:
        raise Forbidden(f"deputy {me.id} does not participate in meeting {s.meeting_id}")
    if s.delegation_id is not None and s.delegation_id != me.delegation_id:
        raise Forbidden(
            f"sitting {sitting_id} is the group deliberation of delegation {s.delegation_id}"
        )
    return s


async def _checked_in(conn: AsyncConnection, sitting_id: int, user_id: int) -> Any:
    return (
        await conn.execute(
            sa.select(checkins.c.ts).where(
                checkins.c.sitting_id == sitting_id, checkins.c.user_id == user_id
            )
        )
    ).first()


CHECKIN_WINDOW_REASONS = ("checkin_not_open", "checkin_over")
"""The ``reason`` of a ``conflict`` for a check-in outside the sitting's window: before it
opens (``opens_at``) or after it has closed (``closes_at``)."""

CHECKIN_CODE_REASONS = ("checkin_code_needed", "checkin_code_wrong")
"""The ``reason`` of a ``bad_request`` (``field`` ``code``) for a check-in to a sitting
that asks for its code: none given, or not the one shown in the hall."""


def refuse_outside_window(s: Any, at: datetime) -> None:
    """Conflict if ``at`` is outside the sitting's check-in window, with the moment it
    opens or closed (the pages say "签到将于 08:30 开始" / "签到已于 09:30 截止")."""
    opens, closes = checkin_opens_at(s), checkin_closes_at(s)
    if opens is not None and at < opens:
        raise Conflict(
            f"check-in to sitting {s.id} opens at {iso_or_none(opens)}",
            allowed=["check_in"],
            reason="checkin_not_open",
            opens_at=iso_or_none(opens),
        )
    if closes is not None and at > closes:
        raise Conflict(
            f"check-in to sitting {s.id} closed at {iso_or_none(closes)}",
            allowed=[],
            reason="checkin_over",
            closes_at=iso_or_none(closes),
        )


WRONG_CODE = "this is not the sitting's check-in code: type the one shown in the hall"


async def code_is_wrong(
    conn: AsyncConnection, s: Any, user_id: int, code: str | None, at: datetime
) -> bool:
    """Is ``code`` not the sitting's check-in code (when it has one)? BadRequest when none
    is given; RateLimited after :data:`CODE_MISSES` wrong ones lately. A wrong code is
    recorded here: the caller commits, then refuses it."""
    if s.checkin_code is None:
        return False
    if not code:
        raise BadRequest(
            f"sitting {s.id} asks for the check-in code shown in the hall: send it as `code`",
            field="code",
            reason="checkin_code_needed",
        )
    m = checkin_code_misses.c
    recent = [
        utc(t)
        for t in (
            await conn.execute(
                sa.select(m.at)
                .where(m.sitting_id == s.id, m.user_id == user_id, m.at > at - CODE_MISS_WINDOW)
                .order_by(m.at.desc())
                .limit(CODE_MISSES)
            )
        ).scalars()
    ]
    if len(recent) >= CODE_MISSES:
        wait = int((recent[-1] + CODE_MISS_WINDOW - at).total_seconds()) + 1
        raise RateLimited(
            f"{CODE_MISSES} wrong check-in codes in a row; try again in {wait} s",
            retry_after=wait,
        )
    if secrets.compare_digest(code.strip().encode(), s.checkin_code.encode()):
        return False
    await conn.execute(checkin_code_misses.insert().values(sitting_id=s.id, user_id=user_id, at=at))
    return True


async def check_in(
    node: Node, me: Member, sitting_id: int, code: str | None = None
) -> dict[str, Any]:
    """The deputy checks in: refused once checked in, once the sitting has ended, outside
    its check-in window (:func:`refuse_outside_window`), and without its code when it
    asks for one (:func:`code_is_wrong`: the wrong code is kept, then refused)."""
    async with node.writing() as w:
        s = await _expected_deputy(w.conn, me, sitting_id)
        if await _checked_in(w.conn, sitting_id, me.id):
            raise Conflict(
                f"deputy {me.id} has already checked in to sitting {sitting_id}", allowed=[]
            )
        ts = node.clock.now()
        refuse_if_ended(s, "check-in", ts)
        refuse_outside_window(s, ts)
        wrong = await code_is_wrong(w.conn, s, me.id, code, ts)
        if not wrong:
            body = await _check_in(w, me, s, ts)
    if wrong:  # after the commit that kept the miss
        raise BadRequest(WRONG_CODE, field="code", reason="checkin_code_wrong")
    return body


async def _check_in(w: Writer, me: Member, s: Any, ts: datetime) -> dict[str, Any]:
    sitting_id = int(s.id)
    try:
        await w.conn.execute(checkins.insert().values(sitting_id=sitting_id, user_id=me.id, ts=ts))
    except IntegrityError:  # a concurrent check-in won (the sitting lock prevents it on PG)
        raise Conflict(
            f"deputy {me.id} has already checked in to sitting {sitting_id}", allowed=[]
        ) from None
    body = {"sitting": sitting_id, "deputy": person(me.id, me.name), "ts": iso_or_none(ts)}
    await w.append(f"desk:{s.meeting_id}", "attendance.checked_in", me, body)
    return body


async def request_leave(node: Node, me: Member, sitting_id: int, reason: str) -> dict[str, Any]:
    async with node.writing() as w:
        s = await _expected_deputy(w.conn, me, sitting_id)
        if await _checked_in(w.conn, sitting_id, me.id):
            raise Conflict(
                f"deputy {me.id} has already checked in to sitting {sitting_id}", allowed=[]
            )
        refuse_if_ended(s, "asking for leave", node.clock.now())
        open_ = (
            await w.conn.execute(
                sa.select(leave_requests.c.id, leave_requests.c.status).where(
                    leave_requests.c.sitting_id == sitting_id,
                    leave_requests.c.user_id == me.id,
                    leave_requests.c.status.in_(("pending", "approved")),
                )
            )
        ).first()
        if open_ is not None:
            raise Conflict(
                f"leave request {open_.id} for this sitting is already {open_.status}",
                allowed=NEXT[open_.status],
                leave_id=int(open_.id),
            )
        lid = (
            await w.conn.execute(
                leave_requests.insert()
                .values(
                    sitting_id=sitting_id,
                    user_id=me.id,
                    reason=reason,
                    status="pending",
                    created_at=node.clock.now(),
                )
                .returning(leave_requests.c.id)
            )
        ).scalar_one()
        row = (
            await w.conn.execute(sa.select(leave_requests).where(leave_requests.c.id == lid))
        ).one()
        out = leave_dict(row, me.name)
        await w.append(f"desk:{s.meeting_id}", "attendance.leave_requested", me, {"leave": out})
    return out


async def decide_leave(
    node: Node, me: Member, leave_id: int, approve: bool, note: str | None = None
) -> dict[str, Any]:
    """Approve or refuse a pending leave request (secretariat)."""
    note = note or None
    require_role(me, "secretariat")
    async with node.writing() as w:
        r = (
            await w.conn.execute(
                sa.select(leave_requests).where(leave_requests.c.id == leave_id).with_for_update()
            )
        ).first()
        if r is None:
            raise NotFound(f"no leave request {leave_id}")
        if r.status != "pending":
            raise Conflict(
                f"leave request {leave_id} is already {r.status}", allowed=NEXT[r.status]
            )
        s = await sitting_row(w.conn, int(r.sitting_id))
        await w.conn.execute(
            leave_requests.update()
            .where(leave_requests.c.id == leave_id)
            .values(
                status="approved" if approve else "refused",
                decided_by=me.id,
                decided_at=node.clock.now(),
                note=note,
            )
        )
        row = (
            await w.conn.execute(sa.select(leave_requests).where(leave_requests.c.id == leave_id))
        ).one()
        name = (
            await w.conn.execute(sa.select(users.c.name).where(users.c.id == row.user_id))
        ).scalar_one()
        out = leave_dict(row, name)
        for ch in (f"deputy:{row.user_id}", f"desk:{s.meeting_id}"):
            await w.append(ch, "attendance.leave_decided", me, {"leave": out})
    return out


async def board(node: Node, me: Member, sitting_id: int) -> dict[str, Any]:
    """Per expected deputy: checked in / on leave / leave pending / absent, online now, and
    their delegation's name; ``open`` while the sitting has not ended (check-in still
    accepted), so an ``absent`` deputy is only not checked in *yet* and the counts are
    so far."""
    require_role(me, "secretariat", "supervisor", "admin")
    async with node.log.reading() as conn:
        s = await sitting_row(conn, sitting_id)
        deps = await expected(conn, s)
        ids = {int(d.id) for d in deps}
        ins = {
            int(r.user_id): r.ts
            for r in await conn.execute(
                sa.select(checkins.c.user_id, checkins.c.ts).where(
                    checkins.c.sitting_id == sitting_id
                )
            )
        }
        leaves: dict[int, Any] = {}
        for r in await conn.execute(
            sa.select(leave_requests)
            .where(leave_requests.c.sitting_id == sitting_id)
            .order_by(leave_requests.c.id)
        ):
            leaves[int(r.user_id)] = r  # the latest request of each deputy
        online = await online_users(conn, node.clock.now(), ids)
        dele_ids = sorted({int(d.delegation_id) for d in deps if d.delegation_id is not None})
        dele_names = {
            int(r.id): r.name
            for r in await conn.execute(
                sa.select(delegations.c.id, delegations.c.name).where(
                    delegations.c.id.in_(dele_ids)
                )
            )
        }
    people = []
    counts = {"checked_in": 0, "on_leave": 0, "leave_pending": 0, "absent": 0, "online": 0}
    for d in deps:
        uid = int(d.id)
        leave = leaves.get(uid)
        status = status_of(uid in ins, leave)
        counts[status] += 1
        counts["online"] += uid in online
        people.append(
            {
                "id": uid,
                "name": d.name,
                "delegation_id": d.delegation_id,
                "delegation_name": None
                if d.delegation_id is None
                else dele_names[int(d.delegation_id)],
                "status": status,
                "online": uid in online,
                "checked_in_at": iso_or_none(ins.get(uid)),
                "leave": None if leave is None else leave_dict(leave, d.name),
            }
        )
    return {
        "sitting": sitting_dict(s),
        "open": not sitting_ended(s, node.clock.now()),
        "checkin_code": s.checkin_code,
        "expected": len(people),
        "counts": counts,
        "deputies": people,
    }


async def add_my_attendance(node: Node, me: Member, sittings: list[dict[str, Any]]) -> None:
    """Adds a deputy's own attendance to the sittings of a meeting overview: on each
    sitting they are expected at ``my_status`` (as on the board), ``my_checked_in_at`` and
    ``my_leave`` (their latest leave request, or null); on the others all three are null."""
    mine = [
        s["id"]
        for s in sittings
        if s["delegation_id"] is None or s["delegation_id"] == me.delegation_id
    ]
    ins: dict[int, Any] = {}
    leaves: dict[int, Any] = {}
    if mine:
        async with node.log.reading() as conn:
            for r in await conn.execute(
                sa.select(checkins.c.sitting_id, checkins.c.ts).where(
                    checkins.c.user_id == me.id, checkins.c.sitting_id.in_(mine)
                )
            ):
                ins[int(r.sitting_id)] = r.ts
            for r in await conn.execute(
                sa.select(leave_requests)
                .where(leave_requests.c.user_id == me.id, leave_requests.c.sitting_id.in_(mine))
                .order_by(leave_requests.c.id)
            ):
                leaves[int(r.sitting_id)] = r  # the latest request per sitting
    expected_at = set(mine)
    for s in sittings:
        sid = s["id"]
        leave = leaves.get(sid)
        s["my_status"] = status_of(sid in ins, leave) if sid in expected_at else None
        s["my_checked_in_at"] = iso_or_none(ins.get(sid))
        s["my_leave"] = None if leave is None else leave_dict(leave, me.name)
