"""Conversations between a deputy and the secretariat (信息互动).

A conversation is the deputy's: one thread per deputy, whoever writes in it (the deputy,
or the secretariat to the deputy). Each message is one ``conversation.message`` appended
to the deputy's own channel ``deputy:<id>`` (the deputy and the staff read it: the deputy's
thread, replayed to each of the deputy's devices) and to ``desk:<meeting id>`` of the
meeting it is written in (the secretariat's console hears it live, and lists the newest
of every deputy). Nothing else stores it: both copies are messages of the append-only log,
archived and exported like every other, and the lists below read the log.

The conversation about one item — between its deputies, its units and the secretariat —
is the item's ``message`` action (``hub.session.lifecycle``): on the item's timeline, to
the item's channels.

Who may write: a deputy in their own thread, in a meeting they take part in; the
secretariat to a deputy of the meeting. Who may read: a deputy their thread; the staff
(secretariat, supervisors, admins) any deputy's thread and any meeting's list. Anyone else
is ``forbidden``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import orjson
import sqlalchemy as sa
from msgspec import Meta

from hub.errors import BadRequest, Forbidden, NotFound
from hub.protocol import iso
from hub.session.channels import READERS_OF_ALL
from hub.session.members import Member
from hub.session.schema import meeting_participants, meetings, users
from hub.shapes import Body, Id, Named, Page, Shape, ShortText, Timestamp
from hub.store.log import COLUMNS, stored_message
from hub.store.schema import messages

if TYPE_CHECKING:
    from hub.services import Services

KIND = "conversation.message"


class ConversationInput(Body):
    """A message in a deputy's conversation with the secretariat."""

    meeting_id: Annotated[Id, Meta(description="the meeting it is written in")]
    text: ShortText
    deputy_id: (
        Annotated[
            Id,
            Meta(
                description="the deputy whose conversation it is: required for the "
                "secretariat; a deputy writes in their own (omitted, or their id)"
            ),
        ]
        | None
    ) = None


class ConversationQuery(Page):
    """Whose conversation: ``deputy_id`` (a deputy: their own, the default), or for the
    staff without it the newest messages of every deputy in ``meeting_id``; newest first."""

    deputy_id: Annotated[Id, Meta(description="the deputy's thread")] | None = None
    meeting_id: (
        Annotated[Id, Meta(description="staff: every deputy's messages in this meeting")] | None
    ) = None


class ConversationSender(Shape):
    id: int
    name: str
    role: str


class ConversationMessage(Shape):
    id: Annotated[int, Meta(description="the message's id in the log")]
    channel: str
    seq: int
    at: Timestamp
    meeting_id: int
    deputy: Annotated[Named, Meta(description="whose conversation it is")]
    sender: ConversationSender
    text: str


class ConversationPage(Shape):
    messages: Annotated[list[ConversationMessage], Meta(description="newest first")]


def _message(m: Any) -> dict[str, Any]:
    body = orjson.loads(m.body)
    return {
        "id": m.id,
        "channel": m.channel,
        "seq": m.seq,
        "at": iso(m.ts),
        "meeting_id": body["meeting_id"],
        "deputy": body["deputy"],
        "sender": {"id": m.sender_id, "name": m.sender_name, "role": m.sender_role},
        "text": body["text"],
    }


def check_writer(me: Member) -> None:
    """Only a deputy and the secretariat write in conversations: anyone else is refused
    before their request's body is read (a 403, not a 400 for what they sent)."""
    if me.role not in ("deputy", "secretariat"):
        raise Forbidden(f"a {me.role} has no conversation with the secretariat")


async def send(s: Services, me: Member, d: ConversationInput) -> dict[str, Any]:
    """Write in a deputy's conversation; the message as the deputy's channel holds it."""
    check_writer(me)
    if me.role == "deputy":
        if d.deputy_id not in (None, me.id):
            raise Forbidden("a deputy writes only in their own conversation with the secretariat")
        if d.meeting_id not in me.meetings:
            raise Forbidden(f"you do not take part in meeting {d.meeting_id}")
        deputy_id = me.id
    else:  # the secretariat
        if d.deputy_id is None:
            raise BadRequest("`deputy_id` is required: the deputy written to", field="deputy_id")
        deputy_id = d.deputy_id
    async with s.node.writing() as w:
        if (
            await w.conn.execute(sa.select(meetings.c.id).where(meetings.c.id == d.meeting_id))
        ).first() is None:
            raise NotFound(f"no meeting {d.meeting_id}")
        row = (
            await w.conn.execute(
                sa.select(users.c.id, users.c.name).where(
                    users.c.id == deputy_id, users.c.role == "deputy"
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"no deputy {deputy_id}")
        takes_part = await w.conn.execute(
            sa.select(meeting_participants.c.user_id).where(
                meeting_participants.c.meeting_id == d.meeting_id,
                meeting_participants.c.user_id == deputy_id,
            )
        )
        if takes_part.first() is None:
            raise BadRequest(
                f"deputy {deputy_id} does not take part in meeting {d.meeting_id}",
                field="deputy_id",
                reason="not_a_participant",
            )
        body = {
            "meeting_id": d.meeting_id,
            "deputy": {"id": row.id, "name": row.name},
            "text": d.text,
        }
        mine = await w.append(f"deputy:{deputy_id}", "conversation.message", me, body)
        await w.append(f"desk:{d.meeting_id}", "conversation.message", me, body)
    return _message(mine)


async def listing(s: Services, me: Member, q: ConversationQuery) -> dict[str, Any]:
    """A deputy's conversation, or the newest messages of a meeting's deputies (staff)."""
    if me.role == "deputy":
        if q.deputy_id not in (None, me.id) or q.meeting_id is not None:
            raise Forbidden("a deputy reads only their own conversation")
        channel = f"deputy:{me.id}"
    elif me.role in READERS_OF_ALL:
        if q.deputy_id is not None:
            channel = f"deputy:{q.deputy_id}"
        elif q.meeting_id is not None:
            channel = f"desk:{q.meeting_id}"
        else:
            raise BadRequest("give `deputy_id` or `meeting_id`", field="deputy_id")
    else:
        raise Forbidden(f"a {me.role} has no conversation with the secretariat")
    conds = [messages.c.channel == channel, messages.c.kind == KIND]
    if q.before_id is not None:
        conds.append(messages.c.id < q.before_id)
    async with s.log.reading() as conn:
        rows = await conn.execute(
            sa.select(*COLUMNS)
            .where(*conds)
            .order_by(messages.c.id.desc())
            .limit(q.limit)
            .offset(q.offset)
        )
        return {"messages": [_message(stored_message(r)) for r in rows]}
