"""Deliberation opinions (审议意见): submitted by deputies to the meeting's desk.

A deputy who participates in a meeting submits an opinion (text, an optional agenda item
and an optional attachment reference); it lands on ``desk:<meeting id>`` at once. The
secretariat marks it ``noted``, merges it into another opinion of the same meeting
(``merged``; opinions merged into it follow it), or turns it into a commit-to-do item
with others (``committed``, by ``POST /api/items``; the item's ``item.handed_over``
message lists the opinions). Every change is also told to the deputy on ``deputy:<id>``.

==========  =======================  ===========  ===========================
status      action                   next         by
==========  =======================  ===========  ===========================
(new)       submit                   submitted    a participating deputy
submitted   note                     noted        secretariat
submitted   merge                    merged       secretariat
noted       merge                    merged       secretariat
submitted   commit                   committed    secretariat (creating an item)
noted       commit                   committed    secretariat (creating an item)
==========  =======================  ===========  ===========================
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.node import Writer
from hub.protocol import iso
from hub.session.members import Member
from hub.session.schema import meetings, users
from hub.shapes import NO_NUL, Body, Id, Page, Shape, Text, Timestamp, Words, one_or_more
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.services import Services

opinions = sa.Table(
    "opinions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meeting_id", BigId, sa.ForeignKey("meetings.id"), nullable=False),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    # The other workflow's agenda items: a plain id, no foreign key across areas.
    sa.Column("agenda_item_id", BigId, nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("attachment", sa.String(300), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("merged_into", BigId, sa.ForeignKey("opinions.id"), nullable=True),
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), nullable=True),
    sa.Column("handled_by", BigId, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_opinions_meeting_status", "meeting_id", "status"),
    sa.Index("ix_opinions_deputy", "deputy_id"),
)

Status = Literal["submitted", "noted", "merged", "committed"]
STATUSES: tuple[str, ...] = get_args(Status)
TRANSITIONS: dict[tuple[str, str], str] = {
    ("submitted", "note"): "noted",
    ("submitted", "merge"): "merged",
    ("noted", "merge"): "merged",
    ("submitted", "commit"): "committed",
    ("noted", "commit"): "committed",
}


def allowed(status: str) -> list[str]:
    return [a for (s, a) in TRANSITIONS if s == status]


def next_status(status: str, action: str, opinion_id: int) -> str:
    nxt = TRANSITIONS.get((status, action))
    if nxt is None:
        ok = allowed(status)
        raise Conflict(
            f"opinion {opinion_id} is {status}; cannot {action}"
            + (f"; allowed next: {', '.join(ok)}" if ok else ""),
            allowed=ok,
            status=status,
        )
    return nxt


Attachment = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=300,
        pattern=NO_NUL,
        description="a reference to an uploaded file (e.g. document id)",
    ),
]


class SubmitOpinion(Body):
    """A deliberation opinion as a deputy submits it."""

    meeting_id: Id
    text: Text
    agenda_item_id: Id | None = None
    attachment: Attachment | None = None


class MergeOpinion(Body):
    """Where an opinion is merged."""

    into: Annotated[Id, Meta(description="the opinion it joins")]


class Opinion(Shape):
    """A deliberation opinion."""

    id: int
    meeting_id: int
    deputy_id: int
    deputy_name: str
    agenda_item_id: int | None
    text: str
    attachment: str | None
    status: Status
    merged_into: int | None
    item_id: Annotated[int | None, Meta(description="the commit-to-do item it became")]
    created_at: Timestamp
    updated_at: Timestamp


class OpinionPage(Shape):
    """A page of opinions and how many the filters match in all."""

    opinions: list[Opinion]
    total: int


_COLS = (*opinions.c, users.c.name.label("deputy_name"))


def _select() -> sa.Select[Any]:
    return sa.select(*_COLS).join(users, users.c.id == opinions.c.deputy_id)


def as_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "meeting_id": r.meeting_id,
        "deputy_id": r.deputy_id,
        "deputy_name": r.deputy_name,
        "agenda_item_id": r.agenda_item_id,
        "text": r.text,
        "attachment": r.attachment,
        "status": r.status,
        "merged_into": r.merged_into,
        "item_id": r.item_id,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
    }


async def get_row(conn: AsyncConnection, opinion_id: int, lock: bool = False) -> Any:
    q = _select().where(opinions.c.id == opinion_id)
    if lock:
        q = q.with_for_update(of=opinions)
    r = (await conn.execute(q)).first()
    if r is None:
        raise NotFound(f"no opinion {opinion_id}")
    return r


async def submit(s: Services, me: Member, d: SubmitOpinion) -> dict[str, Any]:
    """A deputy's opinion to the meeting's desk."""
    async with s.node.writing() as w:
        return await submit_in(w, s.clock, me, d)


async def submit_in(w: Writer, clock: Clock, me: Member, d: SubmitOpinion) -> dict[str, Any]:
    """:func:`submit` inside the caller's transaction."""
    meeting_id = d.meeting_id
    if me.role != "deputy":
        raise Forbidden("only deputies submit deliberation opinions")
    now = clock.now()
    exists = (
        await w.conn.execute(sa.select(meetings.c.id).where(meetings.c.id == meeting_id))
    ).first()
    if exists is None:
        raise NotFound(f"no meeting {meeting_id}")
    if meeting_id not in me.meetings:
        raise Forbidden(f"you do not participate in meeting {meeting_id}")
    oid = (
        await w.conn.execute(
            opinions.insert()
            .values(
                meeting_id=meeting_id,
                deputy_id=me.id,
                agenda_item_id=d.agenda_item_id,
                text=d.text,
                attachment=d.attachment,
                status="submitted",
                created_at=now,
                updated_at=now,
            )
            .returning(opinions.c.id)
        )
    ).scalar_one()
    row = await get_row(w.conn, oid)
    body = {"opinion": as_dict(row)}
    await w.lock(f"desk:{meeting_id}", f"deputy:{me.id}")
    await w.append(f"desk:{meeting_id}", "opinion.submitted", me, body)
    await w.append(f"deputy:{me.id}", "opinion.submitted", me, body)
    return body["opinion"]


async def note(s: Services, me: Member, opinion_id: int) -> dict[str, Any]:
    """The secretariat marks an opinion noted."""
    async with s.node.writing() as w:
        return await note_in(w, s.clock, me, opinion_id)


async def note_in(w: Writer, clock: Clock, me: Member, opinion_id: int) -> dict[str, Any]:
    """:func:`note` inside the caller's transaction."""
    _secretariat(me)
    now = clock.now()
    row = await get_row(w.conn, opinion_id, lock=True)
    nxt = next_status(row.status, "note", opinion_id)
    await _set(w.conn, [opinion_id], me, now, status=nxt)
    row = await get_row(w.conn, opinion_id)
    body = {"opinion": as_dict(row)}
    await w.lock(f"desk:{row.meeting_id}", f"deputy:{row.deputy_id}")
    await w.append(f"desk:{row.meeting_id}", "opinion.noted", me, body)
    await w.append(f"deputy:{row.deputy_id}", "opinion.noted", me, body)
    return body["opinion"]


async def merge(s: Services, me: Member, opinion_id: int, into: int) -> dict[str, Any]:
    """Merge the opinion (and those already merged into it) into opinion ``into``."""
    async with s.node.writing() as w:
        return await merge_in(w, s.clock, me, opinion_id, into)


async def merge_in(
    w: Writer, clock: Clock, me: Member, opinion_id: int, into: int
) -> dict[str, Any]:
    """:func:`merge` inside the caller's transaction."""
    _secretariat(me)
    if into == opinion_id:
        raise BadRequest("an opinion cannot be merged into itself")
    now = clock.now()
    row = await get_row(w.conn, opinion_id, lock=True)
    target = await get_row(w.conn, into, lock=True)
    nxt = next_status(row.status, "merge", opinion_id)
    if target.meeting_id != row.meeting_id:
        raise BadRequest(f"opinion {into} belongs to another meeting")
    if target.status not in ("submitted", "noted"):
        raise Conflict(
            f"opinion {into} is {target.status}; merge into a submitted or noted opinion",
            allowed=allowed(row.status),
            status=row.status,
        )
    children = (
        (await w.conn.execute(sa.select(opinions.c.id).where(opinions.c.merged_into == opinion_id)))
        .scalars()
        .all()
    )
    await _set(w.conn, [opinion_id, *children], me, now, status=nxt, merged_into=into)
    moved = [await get_row(w.conn, i) for i in (opinion_id, *children)]
    await w.lock(*{c for r in moved for c in (f"desk:{r.meeting_id}", f"deputy:{r.deputy_id}")})
    for r in moved:
        body = {"opinion": as_dict(r), "into": into}
        await w.append(f"desk:{r.meeting_id}", "opinion.merged", me, body)
        await w.append(f"deputy:{r.deputy_id}", "opinion.merged", me, body)
    return as_dict(moved[0])


async def commit_for_item(
    conn: AsyncConnection, me: Member, opinion_ids: list[int], item_id: int, now: datetime
) -> tuple[list[int], list[str]]:
    """Mark opinions (and those merged into them) committed to ``item_id``.

    Returns the deputies of all of them (in order of first appearance) and their texts:
    the listed opinions first, then those merged into them.
    Conflict if one of them is not submitted or noted; BadRequest if they span meetings.
    """
    rows = [await get_row(conn, i, lock=True) for i in opinion_ids]
    meeting_ids = {r.meeting_id for r in rows}
    if len(meeting_ids) > 1:
        raise BadRequest("the opinions of one item must come from one meeting")
    for r in rows:
        next_status(r.status, "commit", r.id)
    children = (
        await conn.execute(
            sa.select(opinions.c.id, opinions.c.deputy_id, opinions.c.text)
            .where(opinions.c.merged_into.in_(opinion_ids), opinions.c.status == "merged")
            .order_by(opinions.c.id)
        )
    ).all()
    all_ids = [*opinion_ids, *(c.id for c in children)]
    await _set(conn, all_ids, me, now, status="committed", item_id=item_id)
    both = [*rows, *children]
    return list(dict.fromkeys(r.deputy_id for r in both)), [r.text for r in both]


async def _set(
    conn: AsyncConnection, ids: list[int], me: Member, now: datetime, **values: Any
) -> None:
    await conn.execute(
        opinions.update()
        .where(opinions.c.id.in_(ids))
        .values(handled_by=me.id, updated_at=now, **values)
    )


def _secretariat(me: Member) -> None:
    if me.role != "secretariat":
        raise Forbidden("only the secretariat handles opinions")


async def get(s: Services, me: Member, opinion_id: int) -> dict[str, Any]:
    async with s.log.reading() as conn:
        row = await get_row(conn, opinion_id)
    if me.role == "deputy" and row.deputy_id != me.id:
        raise Forbidden("this is another deputy's opinion")
    if me.role == "unit":
        raise Forbidden("units do not see deliberation opinions")
    return as_dict(row)


Order = Literal["oldest", "newest"]


class OpinionQuery(Page):
    """What ``GET /api/opinions`` asks for: filters (all optional, combined with AND), order
    and page (:class:`hub.shapes.Page`). ``q`` matches a substring of the text or of the
    deputy's name."""

    meeting_id: Annotated[Id, Meta(description="only this meeting")] | None = None
    status: (
        Annotated[
            str,
            Meta(
                pattern="^[a-z]+(,[a-z]+)*$",
                description=f"only these statuses, comma-separated ({', '.join(STATUSES)})",
            ),
        ]
        | None
    ) = None
    agenda_item_id: Annotated[Id, Meta(description="only on this agenda item")] | None = None
    deputy_id: Annotated[Id, Meta(description="only this deputy's")] | None = None
    delegation_id: (
        Annotated[Id, Meta(description="only the deputies of this delegation")] | None
    ) = None
    q: Annotated[Words, Meta(description="words in the text or the deputy's name")] | None = None
    order: Annotated[Order, Meta(description="by id; default oldest")] = "oldest"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.statuses()

    def statuses(self) -> tuple[str, ...]:
        """``status`` as a set of :data:`STATUSES` (empty: any)."""
        return one_or_more(self.status, STATUSES, "status")


async def listing(s: Services, me: Member, q: OpinionQuery) -> dict[str, Any]:
    """A deputy sees their own opinions; the secretariat, supervisors and admins all.
    ``total`` counts every opinion the filters match, not only the page."""
    if me.role == "unit":
        raise Forbidden("units do not see deliberation opinions")
    conds: list[sa.ColumnElement[bool]] = []
    if me.role == "deputy":
        conds.append(opinions.c.deputy_id == me.id)
    if q.deputy_id is not None:
        conds.append(opinions.c.deputy_id == q.deputy_id)
    if q.meeting_id is not None:
        conds.append(opinions.c.meeting_id == q.meeting_id)
    if statuses := q.statuses():
        conds.append(opinions.c.status.in_(statuses))
    if q.agenda_item_id is not None:
        conds.append(opinions.c.agenda_item_id == q.agenda_item_id)
    if q.delegation_id is not None:
        conds.append(users.c.delegation_id == q.delegation_id)
    for word in (q.q or "").split():
        conds.append(
            sa.or_(
                opinions.c.text.contains(word, autoescape=True),
                users.c.name.contains(word, autoescape=True),
            )
        )
    joined = opinions.join(users, users.c.id == opinions.c.deputy_id)
    key = opinions.c.id.desc() if q.order == "newest" else opinions.c.id
    async with s.log.reading() as conn:
        total = (
            await conn.execute(sa.select(sa.func.count()).select_from(joined).where(*conds))
        ).scalar_one()
        if q.before_id is not None:
            conds.append(opinions.c.id < q.before_id)
        rows = await conn.execute(
            _select().where(*conds).order_by(key).limit(q.limit).offset(q.offset)
        )
        return {"opinions": [as_dict(r) for r in rows], "total": int(total)}
