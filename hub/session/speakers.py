"""The list of speakers in a group deliberation (分组审议发言).

A deputy of the sitting's delegation requests to speak on an agenda item; the convenor
(the secretariat) orders the waiting list, starts and ends each speech; a speech is
recorded with its start, end and duration. One speech at a time per sitting.

A request moves ``waiting`` → ``speaking`` (start) → ``done`` (end), or ``waiting`` →
``withdrawn`` (the deputy). Anything else is ``conflict`` with ``allowed`` naming what
the request allows next.

Every action publishes on ``desk:<meeting>`` and ``delegation:<id>`` one message
``speaker.requested`` / ``speaker.withdrawn`` / ``speakers.ordered`` /
``speaker.started`` / ``speaker.ended`` with body ``{"sitting", "agenda_item",
"request": the request changed (none for speakers.ordered), "queue": the item's current
list (speaking first, then waiting in order)}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.node import Writer
from hub.protocol import iso_or_none, utc
from hub.session.common import check_meeting_reader, person, require_role
from hub.session.meetings import agenda_row, refuse_if_ended, sitting_row
from hub.session.members import Member
from hub.session.schema import users
from hub.shapes import Body, Id, Named, Shape, Timestamp
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.node import Node

speech_requests = sa.Table(
    "speech_requests",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("sitting_id", BigId, sa.ForeignKey("sittings.id"), nullable=False),
    sa.Column("agenda_item_id", BigId, sa.ForeignKey("agenda_items.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # waiting|speaking|done|withdrawn
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("duration_ms", sa.BigInteger, nullable=True),
    sa.Index("ix_speech_requests_sitting", "sitting_id", "agenda_item_id", "status"),
)

NEXT = {
    "waiting": ["start", "withdraw", "order"],
    "speaking": ["end"],
    "done": [],
    "withdrawn": [],
}


# -- the shapes of what the API takes and sends about speakers -----------------------------


class SpeakInput(Body):
    """A deputy's request to speak on an agenda item."""

    agenda_item_id: Id


class OrderInput(Body):
    """The waiting list of an agenda item, first speaker first."""

    agenda_item_id: Id
    order: Annotated[
        list[Id], Meta(max_length=10_000, description="every waiting request id, once")
    ]


class SpeakersQuery(Body):
    agenda_item_id: Annotated[Id, Meta(description="only on this agenda item")] | None = None


class SpeechRequest(Shape):
    """A request to speak."""

    id: int
    sitting_id: int
    agenda_item_id: int
    deputy: Named
    position: int
    status: Annotated[str, Meta(extra_json_schema={"enum": list(NEXT)})]
    requested_at: Timestamp | None
    started_at: Timestamp | None
    ended_at: Timestamp | None
    duration_s: float | None
    allowed: list[str]


class Speakers(Shape):
    sitting: int
    requests: list[SpeechRequest]


class Queue(Shape):
    sitting: int
    agenda_item: int
    queue: Annotated[list[SpeechRequest], Meta(description="speaking first, then waiting in order")]


def request_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "sitting_id": int(r.sitting_id),
        "agenda_item_id": int(r.agenda_item_id),
        "deputy": person(int(r.user_id), r.name),
        "position": int(r.position),
        "status": r.status,
        "requested_at": iso_or_none(r.requested_at),
        "started_at": iso_or_none(r.started_at),
        "ended_at": iso_or_none(r.ended_at),
        "duration_s": None if r.duration_ms is None else r.duration_ms / 1000,
        "allowed": NEXT[r.status],
    }


_COLS = (*speech_requests.c, users.c.name)


async def _requests(
    conn: AsyncConnection, sitting_id: int, agenda_item_id: int | None, statuses: Sequence[str]
) -> list[Any]:
    q = (
        sa.select(*_COLS)
        .join(users, users.c.id == speech_requests.c.user_id)
        .where(speech_requests.c.sitting_id == sitting_id)
        .order_by(
            speech_requests.c.agenda_item_id, speech_requests.c.position, speech_requests.c.id
        )
    )
    if agenda_item_id is not None:
        q = q.where(speech_requests.c.agenda_item_id == agenda_item_id)
    if statuses:
        q = q.where(speech_requests.c.status.in_(statuses))
    return list(await conn.execute(q))


async def _request(conn: AsyncConnection, request_id: int) -> Any:
    r = (
        await conn.execute(
            sa.select(*_COLS)
            .join(users, users.c.id == speech_requests.c.user_id)
            .where(speech_requests.c.id == request_id)
        )
    ).first()
    if r is None:
        raise NotFound(f"no request to speak {request_id}")
    return r


async def _queue(conn: AsyncConnection, sitting_id: int, item_id: int) -> list[dict[str, Any]]:
    rows = await _requests(conn, sitting_id, item_id, ("speaking", "waiting"))
    rows.sort(key=lambda r: (r.status != "speaking", r.position, r.id))
    return [request_dict(r) for r in rows]


async def _publish(
    w: Writer, me: Member, s: Any, item_id: int, kind: str, request: Any | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"sitting": int(s.id), "agenda_item": item_id}
    if request is not None:
        body["request"] = request_dict(request)
    body["queue"] = await _queue(w.conn, int(s.id), item_id)
    for ch in (f"delegation:{s.delegation_id}", f"desk:{s.meeting_id}"):
        await w.append(ch, kind, me, body)
    return body


async def _group_sitting(conn: AsyncConnection, sitting_id: int) -> Any:
    s = await sitting_row(conn, sitting_id, lock=True)
    if s.kind != "group":
        raise BadRequest(
            f"sitting {sitting_id} is a plenary: speakers are listed in group deliberations"
        )
    return s


async def request_to_speak(
    node: Node, me: Member, sitting_id: int, agenda_item_id: int
) -> dict[str, Any]:
    require_role(me, "deputy")
    async with node.writing() as w:
        s = await _group_sitting(w.conn, sitting_id)
        if int(s.meeting_id) not in me.meetings or s.delegation_id != me.delegation_id:
            raise Forbidden(
                f"sitting {sitting_id} is the group deliberation of delegation {s.delegation_id}"
            )
        item = await agenda_row(w.conn, agenda_item_id)
        if item.meeting_id != s.meeting_id:
            raise BadRequest(f"agenda item {agenda_item_id} is not on this meeting's agenda")
        refuse_if_ended(s, "asking to speak", node.clock.now())
        mine = [
            r
            for r in await _requests(w.conn, sitting_id, agenda_item_id, ("waiting", "speaking"))
            if r.user_id == me.id
        ]
        if mine:
            raise Conflict(
                f"you already have request {mine[0].id} ({mine[0].status}) on this item",
                allowed=NEXT[mine[0].status],
                request_id=int(mine[0].id),
            )
        last = (
            await w.conn.execute(
                sa.select(sa.func.max(speech_requests.c.position)).where(
                    speech_requests.c.sitting_id == sitting_id,
                    speech_requests.c.agenda_item_id == agenda_item_id,
                )
            )
        ).scalar()
        rid = (
            await w.conn.execute(
                speech_requests.insert()
                .values(
                    sitting_id=sitting_id,
                    agenda_item_id=agenda_item_id,
                    user_id=me.id,
                    position=int(last or 0) + 1,
                    status="waiting",
                    requested_at=node.clock.now(),
                )
                .returning(speech_requests.c.id)
            )
        ).scalar_one()
        r = await _request(w.conn, int(rid))
        await _publish(w, me, s, agenda_item_id, "speaker.requested", r)
    return request_dict(r)


async def _transition(
    node: Node, me: Member, request_id: int, action: str, kind: str
) -> dict[str, Any]:
    """withdraw (the deputy), start and end (the secretariat)."""
    require_role(me, "deputy" if action == "withdraw" else "secretariat")
    async with node.writing() as w:
        r0 = await _request(w.conn, request_id)
        s = await sitting_row(w.conn, int(r0.sitting_id), lock=True)
        r = await _request(w.conn, request_id)  # again, now that the sitting is locked
        if action == "withdraw" and r.user_id != me.id:
            raise Forbidden(f"request {request_id} is another deputy's")
        if action not in NEXT[r.status]:
            raise Conflict(
                f"request {request_id} is {r.status}; it cannot {action}", allowed=NEXT[r.status]
            )
        t = node.clock.now()
        values: dict[str, Any]
        if action == "withdraw":
            values = {"status": "withdrawn", "ended_at": t}
        elif action == "start":
            speaking = await _requests(w.conn, int(s.id), None, ("speaking",))
            if speaking:
                raise Conflict(
                    f"{speaking[0].name} (request {speaking[0].id}) is speaking: end that first",
                    allowed=["end"],
                    speaking=int(speaking[0].id),
                )
            values = {"status": "speaking", "started_at": t}
        else:
            ms = int((t - utc(r.started_at)).total_seconds() * 1000)
            values = {"status": "done", "ended_at": t, "duration_ms": max(ms, 0)}
        await w.conn.execute(
            speech_requests.update().where(speech_requests.c.id == request_id).values(**values)
        )
        r = await _request(w.conn, request_id)
        await _publish(w, me, s, int(r.agenda_item_id), kind, r)
    return request_dict(r)


async def withdraw(node: Node, me: Member, request_id: int) -> dict[str, Any]:
    return await _transition(node, me, request_id, "withdraw", "speaker.withdrawn")


async def start(node: Node, me: Member, request_id: int) -> dict[str, Any]:
    return await _transition(node, me, request_id, "start", "speaker.started")


async def end(node: Node, me: Member, request_id: int) -> dict[str, Any]:
    return await _transition(node, me, request_id, "end", "speaker.ended")


async def order(
    node: Node, me: Member, sitting_id: int, agenda_item_id: int, request_ids: Sequence[int]
) -> dict[str, Any]:
    """Set the order of the waiting list: ``request_ids`` lists every waiting request of
    the item once, first speaker first."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        s = await _group_sitting(w.conn, sitting_id)
        await agenda_row(w.conn, agenda_item_id)
        waiting = [
            int(r.id) for r in await _requests(w.conn, sitting_id, agenda_item_id, ("waiting",))
        ]
        if len(set(request_ids)) != len(request_ids) or set(request_ids) != set(waiting):
            raise Conflict(
                "`order` must list each waiting request of the item exactly once; "
                "the list changed meanwhile: reload it and order again",
                allowed=["order"],
                waiting=waiting,
            )
        for pos, rid in enumerate(request_ids, start=1):
            await w.conn.execute(
                speech_requests.update().where(speech_requests.c.id == rid).values(position=pos)
            )
        return await _publish(w, me, s, agenda_item_id, "speakers.ordered", None)


async def list_speakers(
    node: Node, me: Member, sitting_id: int, agenda_item_id: int | None = None
) -> dict[str, Any]:
    """Every request of the sitting (or of one item), in order, with durations."""
    async with node.log.reading() as conn:
        s = await sitting_row(conn, sitting_id)
        check_meeting_reader(me, int(s.meeting_id))
        rows = await _requests(conn, sitting_id, agenda_item_id, ())
    return {"sitting": sitting_id, "requests": [request_dict(r) for r in rows]}
