"""A meeting's structure: sittings (plenary, group deliberation by delegation) and agenda
items. The secretariat creates them; participants list them.

Each creation publishes on ``meeting:<id>`` (every participant sees the schedule):
``sitting.created`` ``{"sitting": …}`` and ``agenda.created`` ``{"agenda_item": …}``; an
agenda item edited by the meeting's secretariat, ``agenda.changed`` ``{"agenda_item": …}``.
The secretariat may edit a sitting until it ends (:func:`edit_sitting`): the row takes the new
values and ``sitting.edited`` ``{"sitting": …, "changed": […]}`` keeps each version in the
log.

A sitting has a check-in window (opens ``checkin_opens_before`` minutes before its start,
closes ``checkin_closes_after`` minutes after; null: no limit on that side), optionally a
check-in code the deputies type (shown in the hall; sent only on the attendance board,
never in a sitting's shape, which deputies read), and a limit on one speech for the
convenor's timer.

A sitting **ends** when the secretariat of its meeting closes it (``closed_at``, who in
``closed_by``; ``sitting.closed`` ``{"sitting": …}`` on ``meeting:<id>``), or when its
scheduled ``ends_at`` has passed; the schedule is kept as it was. Once ended, check-in,
leave requests and requests to speak are refused, and its attendance is final: a deputy
without check-in or approved leave is absent (:func:`sitting_ended`, :func:`ended_clause`
— the one rule every reader of attendance applies).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import sqlalchemy as sa
from msgspec import UNSET, Meta, UnsetType
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
    # check-in opens this many minutes before ``starts_at`` and closes this many after it
    # (null: no limit on that side); a check-in code the deputies must type (null: none;
    # never sent to a deputy); the convenor's limit on one speech (null: none)
    sa.Column("checkin_opens_before", sa.Integer, nullable=True),
    sa.Column("checkin_closes_after", sa.Integer, nullable=True),
    sa.Column("checkin_code", sa.String(12), nullable=True),
    sa.Column("speech_limit_s", sa.Integer, nullable=True),
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


Minutes = Annotated[int, Meta(ge=0, le=1440, description="minutes (0-1440)")]
SpeechLimit = Annotated[int, Meta(ge=10, le=7200, description="seconds (10-7200)")]


class SittingInput(Body):
    """A sitting as the secretariat adds it: a plenary, or the group deliberation of a
    delegation. The check-in window and the speech limit left out take the hub's defaults
    (HUB_CHECKIN_OPENS_BEFORE, HUB_CHECKIN_CLOSES_AFTER, HUB_SPEECH_LIMIT); null is no
    limit."""

    kind: SittingKind
    title: Title
    starts_at: Instant
    ends_at: Instant | None = None
    place: MaybeTitle | None = None
    delegation_id: Annotated[Id, Meta(description="required for kind=group")] | None = None
    checkin_opens_before: (
        Annotated[Minutes, Meta(description="check-in opens this many minutes before the start")]
        | UnsetType
        | None
    ) = UNSET
    checkin_closes_after: (
        Annotated[Minutes, Meta(description="check-in closes this many minutes after the start")]
        | UnsetType
        | None
    ) = UNSET
    checkin_code: Annotated[
        bool, Meta(description="deputies must type a code the secretariat shows in the hall")
    ] = False
    speech_limit_s: SpeechLimit | UnsetType | None = UNSET


class SittingEdit(Body):
    """A sitting as the secretariat corrects it: every field given (null: none / no
    limit). Its kind and delegation stay. ``checkin_code`` true keeps the code it has, or
    makes one; false drops it."""

    title: Title
    starts_at: Instant
    ends_at: Instant | None
    place: MaybeTitle | None
    checkin_opens_before: Minutes | None
    checkin_closes_after: Minutes | None
    checkin_code: bool
    speech_limit_s: SpeechLimit | None


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
    checkin_opens_before: Annotated[
        int | None, Meta(description="minutes before the start check-in opens (null: any time)")
    ]
    checkin_closes_after: Annotated[
        int | None,
        Meta(description="minutes after the start check-in closes (null: until it ends)"),
    ]
    checkin_opens_at: Annotated[Timestamp | None, Meta(description="null: no opening time")]
    checkin_closes_at: Annotated[
        Timestamp | None, Meta(description="null: check-in until the sitting ends")
    ]
    checkin_code: Annotated[
        bool,
        Meta(
            description="check-in needs the code shown in the hall (the code itself only on "
            "the attendance board)"
        ),
    ]
    speech_limit_s: Annotated[int | None, Meta(description="a speech's limit (null: none)")]


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
        "checkin_opens_before": r.checkin_opens_before,
        "checkin_closes_after": r.checkin_closes_after,
        "checkin_opens_at": iso_or_none(checkin_opens_at(r)),
        "checkin_closes_at": iso_or_none(checkin_closes_at(r)),
        "checkin_code": r.checkin_code is not None,
        "speech_limit_s": r.speech_limit_s,
    }


def checkin_opens_at(s: Any) -> datetime | None:
    """When check-in to the sitting opens (None: it is open from the sitting's creation)."""
    if s.checkin_opens_before is None:
        return None
    return utc(s.starts_at) - timedelta(minutes=int(s.checkin_opens_before))


def checkin_closes_at(s: Any) -> datetime | None:
    """When check-in closes before the sitting ends (None: only when it ends)."""
    if s.checkin_closes_after is None:
        return None
    return utc(s.starts_at) + timedelta(minutes=int(s.checkin_closes_after))


def new_code() -> str:
    """A check-in code: six digits, shown large in the hall."""
    return f"{secrets.randbelow(1_000_000):06d}"


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
    node: Node, me: Member, meeting_id: int, *args: Any, **fields: Any
) -> dict[str, Any]:
    """A plenary or a group deliberation (``kind="group"`` with its ``delegation_id``),
    with its check-in window (minutes around its start; None: no limit), whether
    check-in needs a code (made here), and its speech limit: :func:`add_sitting` in a
    transaction of its own."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        return await add_sitting(w, me, meeting_id, *args, **fields)


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
    checkin_opens_before: int | None = None,
    checkin_closes_after: int | None = None,
    checkin_code: bool = False,
    speech_limit_s: int | None = None,
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
                checkin_opens_before=checkin_opens_before,
                checkin_closes_after=checkin_closes_after,
                checkin_code=new_code() if checkin_code else None,
                speech_limit_s=speech_limit_s,
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


EDITABLE = (
    "title",
    "starts_at",
    "ends_at",
    "place",
    "checkin_opens_before",
    "checkin_closes_after",
    "checkin_code",
    "speech_limit_s",
)
"""What the secretariat may change in a sitting (its kind and delegation stay)."""


async def edit_sitting(
    node: Node,
    me: Member,
    sitting_id: int,
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None,
    place: str,
    checkin_opens_before: int | None,
    checkin_closes_after: int | None,
    checkin_code: bool,
    speech_limit_s: int | None,
) -> dict[str, Any]:
    """The secretariat of the sitting's meeting corrects it: every field of
    :data:`EDITABLE` given (``checkin_code`` a bool: true keeps the code or makes one,
    false drops it). The row takes the new values and ``sitting.edited`` ``{"sitting": …,
    "changed": [the fields that changed]}`` goes on ``meeting:<id>``, so the log keeps
    each version. Refused once the sitting has ended (``conflict`` with ``reason``
    ``sitting_closed`` / ``sitting_ended``): its attendance is final; an ``ends_at``
    already past is a ``bad_request`` (close the sitting instead). Nothing changed is
    no edit: the sitting as it is, nothing appended."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        s = await sitting_row(w.conn, sitting_id, lock=True)
        if int(s.meeting_id) not in me.meetings:
            raise Forbidden(
                f"secretariat {me.id} does not run meeting {s.meeting_id} of sitting {sitting_id}"
            )
        at = node.clock.now()
        refuse_if_ended(s, "editing it", at)
        if ends_at is not None and ends_at <= starts_at:
            raise BadRequest("`ends_at` must be after `starts_at`", field="ends_at")
        if ends_at is not None and ends_at <= at:
            raise BadRequest(
                "`ends_at` is already past: to end the sitting now, close it",
                field="ends_at",
            )
        row: dict[str, Any] = {
            "title": title,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "place": place,
            "checkin_opens_before": checkin_opens_before,
            "checkin_closes_after": checkin_closes_after,
            "checkin_code": (s.checkin_code or new_code()) if checkin_code else None,
            "speech_limit_s": speech_limit_s,
        }
        changed = [k for k in EDITABLE if _stored(getattr(s, k)) != _stored(row[k])]
        if not changed:
            return sitting_dict(s)
        await w.conn.execute(sittings.update().where(sittings.c.id == sitting_id).values(**row))
        out = sitting_dict(await sitting_row(w.conn, sitting_id))
        await w.append(
            f"meeting:{s.meeting_id}", "sitting.edited", me, {"sitting": out, "changed": changed}
        )
    return out


def _stored(v: Any) -> Any:
    """A value as compared before and after an edit (times in UTC: SQLite gives them back
    naive)."""
    return utc(v) if isinstance(v, datetime) else v
