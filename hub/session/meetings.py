"""A meeting's structure: sittings (plenary, group deliberation by delegation) and agenda
items. The secretariat creates them; participants list them.

Each creation publishes on ``meeting:<id>`` (every participant sees the schedule):
``sitting.created`` ``{"sitting": …}`` and ``agenda.created`` ``{"agenda_item": …}``; an
agenda item edited by the meeting's secretariat, ``agenda.changed`` ``{"agenda_item": …}``.

A sitting **ends** when the secretariat of its meeting closes it (``closed_at``, who in
``closed_by``; ``sitting.closed`` ``{"sitting": …}`` on ``meeting:<id>``), or when its
scheduled ``ends_at`` has passed; the schedule is kept as it was. Once ended, check-in,
leave requests and requests to speak are refused, and its attendance is final: a deputy
without check-in or approved leave is absent (:func:`sitting_ended`, :func:`ended_clause`
— the one rule every reader of attendance applies).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.protocol import iso_or_none, utc
from hub.session.channels import READERS_OF_ALL
from hub.session.common import (
    check_meeting_reader,
    meeting_deputies,
    meeting_row,
    require_role,
)
from hub.session.members import Member
from hub.session.schema import delegations, meetings
from hub.shapes import Body, Day, Id, Instant, MaybeTitle, Shape, Timestamp, Title
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.node import Node, Writer

SittingKind = Literal["plenary", "group"]
SITTING_KINDS: tuple[str, ...] = get_args(SittingKind)

sittings = sa.Table(
    "sittings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meeting_id", BigId, sa.ForeignKey("meetings.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # plenary | group
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("place", sa.String(300), nullable=False, server_default=""),
    # the delegation that deliberates in a group sitting; None for a plenary
    sa.Column("delegation_id", BigId, sa.ForeignKey("delegations.id"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # when and by whom the secretariat closed it (null: not closed; ``ends_at`` stays the
    # schedule)
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_by", BigId, nullable=True),
    sa.Index("ix_sittings_meeting", "meeting_id", "starts_at"),
)

agenda_items = sa.Table(
    "agenda_items",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meeting_id", BigId, sa.ForeignKey("meetings.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_agenda_items_meeting", "meeting_id", "position"),
)


# -- the shapes of what the API takes and sends about meetings ------------------------------


class SittingInput(Body):
    """A sitting as the secretariat adds it: a plenary, or the group deliberation of a
    delegation."""

    kind: SittingKind
    title: Title
    starts_at: Instant
    ends_at: Instant | None = None
    place: MaybeTitle | None = None
    delegation_id: Annotated[Id, Meta(description="required for kind=group")] | None = None


class AgendaInput(Body):
    """An agenda item as the secretariat adds it."""

    title: Title
    position: Annotated[int, Meta(ge=1, le=1_000_000, description="default: last")] | None = None


class Meeting(Shape):
    id: int
    title: str
    starts_on: Day | None
    ends_on: Day | None


class Meetings(Shape):
    meetings: list[Meeting]


class Sitting(Shape):
    id: int
    meeting_id: int
    kind: SittingKind
    title: str
    starts_at: Timestamp
    ends_at: Timestamp | None
    place: str
    delegation_id: int | None
    closed_at: Annotated[
        Timestamp | None, Meta(description="when the secretariat closed it (null: not closed)")
    ]
    closed_by: Annotated[int | None, Meta(description="the secretariat account that closed it")]


class AgendaItem(Shape):
    id: int
    meeting_id: int
    position: int
    title: str


class MeetingDeputy(Shape):
    id: int
    name: str
    delegation_id: int | None
    delegation_name: str | None


class MeetingDeputies(Shape):
    deputies: list[MeetingDeputy]


def sitting_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "meeting_id": int(r.meeting_id),
        "kind": r.kind,
        "title": r.title,
        "starts_at": iso_or_none(r.starts_at),
        "ends_at": iso_or_none(r.ends_at),
        "place": r.place,
        "delegation_id": None if r.delegation_id is None else int(r.delegation_id),
        "closed_at": iso_or_none(r.closed_at),
        "closed_by": None if r.closed_by is None else int(r.closed_by),
    }


def agenda_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "meeting_id": int(r.meeting_id),
        "position": int(r.position),
        "title": r.title,
    }


async def sitting_row(conn: AsyncConnection, sitting_id: int, lock: bool = False) -> Any:
    """The sitting (NotFound if none); ``lock`` holds its row until commit (PostgreSQL), so
    actions on one sitting are serialised."""
    q = sa.select(sittings).where(sittings.c.id == sitting_id)
    if lock:
        q = q.with_for_update()
    r = (await conn.execute(q)).first()
    if r is None:
        raise NotFound(f"no sitting {sitting_id}")
    return r


async def agenda_row(conn: AsyncConnection, item_id: int) -> Any:
    r = (await conn.execute(sa.select(agenda_items).where(agenda_items.c.id == item_id))).first()
    if r is None:
        raise NotFound(f"no agenda item {item_id}")
    return r


async def create_sitting(
    node: Node,
    me: Member,
    meeting_id: int,
    kind: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    place: str = "",
    delegation_id: int | None = None,
) -> dict[str, Any]:
    """A plenary or a group deliberation (``kind="group"`` with its ``delegation_id``)."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        return await add_sitting(
            w, me, meeting_id, kind, title, starts_at, ends_at, place, delegation_id
        )


async def add_sitting(
    w: Writer,
    me: Member,
    meeting_id: int,
    kind: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    place: str = "",
    delegation_id: int | None = None,
) -> dict[str, Any]:
    """:func:`create_sitting` inside the transaction ``w`` (the demo's seeding composes
    several): checked, stored and announced as ``sitting.created``."""
    require_role(me, "secretariat")
    if kind == "group" and delegation_id is None:
        raise BadRequest("a group deliberation needs `delegation_id`", field="delegation_id")
    if kind == "plenary" and delegation_id is not None:
        raise BadRequest("a plenary sitting has no `delegation_id`", field="delegation_id")
    if ends_at is not None and ends_at <= starts_at:
        raise BadRequest("`ends_at` must be after `starts_at`", field="ends_at")
    await meeting_row(w.conn, meeting_id)
    if delegation_id is not None:
        found = await w.conn.execute(
            sa.select(delegations.c.id).where(delegations.c.id == delegation_id)
        )
        if found.first() is None:
            raise NotFound(f"no delegation {delegation_id}")
    sid = (
        await w.conn.execute(
            sittings.insert()
            .values(
                meeting_id=meeting_id,
                kind=kind,
                title=title,
                starts_at=starts_at,
                ends_at=ends_at,
                place=place,
                delegation_id=delegation_id,
                created_at=w.clock.now(),
            )
            .returning(sittings.c.id)
        )
    ).scalar_one()
    out = sitting_dict(await sitting_row(w.conn, int(sid)))
    await w.append(f"meeting:{meeting_id}", "sitting.created", me, {"sitting": out})
    return out


async def create_agenda_item(
    node: Node, me: Member, meeting_id: int, title: str, position: int | None = None
) -> dict[str, Any]:
    """An agenda item; without ``position`` it goes last."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        return await add_agenda_item(w, me, meeting_id, title, position)


async def add_agenda_item(
    w: Writer, me: Member, meeting_id: int, title: str, position: int | None = None
) -> dict[str, Any]:
    """:func:`create_agenda_item` inside the transaction ``w``: stored and announced as
    ``agenda.created``."""
    require_role(me, "secretariat")
    await meeting_row(w.conn, meeting_id)
    if position is None:
        last = (
            await w.conn.execute(
                sa.select(sa.func.max(agenda_items.c.position)).where(
                    agenda_items.c.meeting_id == meeting_id
                )
            )
        ).scalar()
        position = int(last or 0) + 1
    iid = (
        await w.conn.execute(
            agenda_items.insert()
            .values(
                meeting_id=meeting_id,
                position=position,
                title=title,
                created_at=w.clock.now(),
            )
            .returning(agenda_items.c.id)
        )
    ).scalar_one()
    out = agenda_dict(await agenda_row(w.conn, int(iid)))
    await w.append(f"meeting:{meeting_id}", "agenda.created", me, {"agenda_item": out})
    return out


async def change_agenda_item(
    node: Node, me: Member, item_id: int, title: str, position: int | None = None
) -> dict[str, Any]:
    """The secretariat of the item's meeting changes its title (and its position, if
    given); ``agenda.changed`` on ``meeting:<id>``."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        a = await agenda_row(w.conn, item_id)
        if int(a.meeting_id) not in me.meetings:
            raise Forbidden(
                f"secretariat {me.id} does not run meeting {a.meeting_id} of agenda item {item_id}"
            )
        values: dict[str, Any] = {"title": title}
        if position is not None:
            values["position"] = position
        await w.conn.execute(
            agenda_items.update().where(agenda_items.c.id == item_id).values(**values)
        )
        out = agenda_dict(await agenda_row(w.conn, item_id))
        await w.append(f"meeting:{a.meeting_id}", "agenda.changed", me, {"agenda_item": out})
    return out


async def list_sittings(conn: AsyncConnection, meeting_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(sittings)
        .where(sittings.c.meeting_id == meeting_id)
        .order_by(sittings.c.starts_at, sittings.c.id)
    )
    return [sitting_dict(r) for r in rows]


async def list_agenda(conn: AsyncConnection, meeting_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(agenda_items)
        .where(agenda_items.c.meeting_id == meeting_id)
        .order_by(agenda_items.c.position, agenda_items.c.id)
    )
    return [agenda_dict(r) for r in rows]


def meeting_dict(m: Any) -> dict[str, Any]:
    return {
        "id": int(m.id),
        "title": m.title,
        "starts_on": None if m.starts_on is None else m.starts_on.isoformat(),
        "ends_on": None if m.ends_on is None else m.ends_on.isoformat(),
    }


async def meeting_overview(node: Node, me: Member, meeting_id: int) -> dict[str, Any]:
    """The meeting with its sittings and agenda, for a participant or a reader of all."""
    async with node.log.reading() as conn:
        m = await meeting_row(conn, meeting_id)
        check_meeting_reader(me, meeting_id)
        return {
            "meeting": meeting_dict(m),
            "sittings": await list_sittings(conn, meeting_id),
            "agenda": await list_agenda(conn, meeting_id),
        }


async def deputies_of(node: Node, me: Member, meeting_id: int) -> list[dict[str, Any]]:
    """The deputies participating in the meeting (those a notice to it reaches, who may
    co-sign a suggestion in it), with their delegation's name, by id; for a participant or
    a reader of all."""
    async with node.log.reading() as conn:
        await meeting_row(conn, meeting_id)
        check_meeting_reader(me, meeting_id)
        deps = await meeting_deputies(conn, meeting_id)
        ids = sorted({int(d.delegation_id) for d in deps if d.delegation_id is not None})
        named = {
            int(r.id): r.name
            for r in await conn.execute(
                sa.select(delegations.c.id, delegations.c.name).where(delegations.c.id.in_(ids))
            )
        }
    return [
        {
            "id": int(d.id),
            "name": d.name,
            "delegation_id": None if d.delegation_id is None else int(d.delegation_id),
            "delegation_name": None if d.delegation_id is None else named[int(d.delegation_id)],
        }
        for d in deps
    ]


async def visible_meetings(node: Node, me: Member) -> list[dict[str, Any]]:
    """Every meeting for readers of all; a participant's own meetings otherwise."""
    q = sa.select(meetings).order_by(meetings.c.id)
    if me.role not in READERS_OF_ALL:
        q = q.where(meetings.c.id.in_(sorted(me.meetings)))
    async with node.log.reading() as conn:
        return [meeting_dict(m) for m in await conn.execute(q)]


# -- the end of a sitting -------------------------------------------------------------

ENDED_REASONS = ("sitting_closed", "sitting_ended", "sitting_not_started")
"""The ``reason`` of a ``conflict`` about a sitting's end: closed by the secretariat, past
its scheduled end, not started yet (closing it); the pages have a text
``conflict.<reason>`` for each."""


def sitting_ended(s: Any, at: datetime) -> bool:
    """Has the sitting ended at ``at`` (the hub's clock): closed, or past its scheduled
    end?"""
    if s.closed_at is not None:
        return True
    return s.ends_at is not None and utc(s.ends_at) <= at


def ended_clause(at: datetime) -> sa.ColumnElement[bool]:
    """:func:`sitting_ended` in SQL, for the sittings ended at ``at``."""
    return sa.or_(
        sittings.c.closed_at.is_not(None),
        sa.and_(sittings.c.ends_at.is_not(None), sittings.c.ends_at <= at),
    )


def refuse_if_ended(s: Any, what: str, at: datetime) -> None:
    """Conflict (``allowed: []`` and the ``reason``) if the sitting has ended at ``at``:
    ``what`` (check-in, a leave request …) is no longer possible."""
    if s.closed_at is not None:
        raise Conflict(
            f"sitting {s.id} was closed at {iso_or_none(s.closed_at)}: {what} is no longer "
            "possible",
            allowed=[],
            reason="sitting_closed",
        )
    if sitting_ended(s, at):
        raise Conflict(
            f"sitting {s.id} has ended: {what} is no longer possible",
            allowed=[],
            reason="sitting_ended",
        )


async def close_sitting(node: Node, me: Member, sitting_id: int) -> dict[str, Any]:
    """The secretariat of the sitting's meeting closes it (结束会议): ``closed_at`` now,
    its attendance final from then on; ``sitting.closed`` on ``meeting:<id>``. A sitting
    already closed, past its scheduled end or not started yet is a ``conflict``."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        s = await sitting_row(w.conn, sitting_id, lock=True)
        if int(s.meeting_id) not in me.meetings:
            raise Forbidden(
                f"secretariat {me.id} does not run meeting {s.meeting_id} of sitting {sitting_id}"
            )
        at = node.clock.now()
        refuse_if_ended(s, "closing it", at)  # closing twice, or after the schedule
        if utc(s.starts_at) > at:
            raise Conflict(
                f"sitting {sitting_id} starts at {iso_or_none(s.starts_at)}: it cannot be "
                "closed before it starts",
                allowed=[],
                reason="sitting_not_started",
            )
        await w.conn.execute(
            sittings.update()
            .where(sittings.c.id == sitting_id)
            .values(closed_at=at, closed_by=me.id)
        )
        out = sitting_dict(await sitting_row(w.conn, sitting_id))
        await w.append(f"meeting:{s.meeting_id}", "sitting.closed", me, {"sitting": out})
    return out
