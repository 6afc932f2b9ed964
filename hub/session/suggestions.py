"""Suggestions (代表建议): a deputy submits one, alone or jointly, and co-signers are asked
to confirm on their own devices.

A suggestion is an item of kind ``suggestion`` (``hub.session.items``) from the moment
it is submitted; its review (``cosign``, ``decline``, ``accept``, ``not_accept``) and
hand-over are actions of the item lifecycle (``hub.session.lifecycle``) like every
later step, taken through :func:`hub.session.items.act`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hub.clock import Clock
from hub.errors import BadRequest, Forbidden, NotFound
from hub.node import Writer
from hub.session import lifecycle as lc
from hub.session.items import insert_item, item_deputies, record, summary
from hub.session.members import Member
from hub.session.schema import meeting_participants, meetings, users

if TYPE_CHECKING:
    from hub.services import Services


async def submit(s: Services, me: Member, d: lc.SuggestionInput) -> dict[str, Any]:
    """A deputy's suggestion, alone or jointly: co-signers are asked to confirm."""
    async with s.node.writing() as w:
        return await submit_in(w, s.clock, me, d)


async def submit_in(w: Writer, clock: Clock, me: Member, d: lc.SuggestionInput) -> dict[str, Any]:
    """:func:`submit` inside the caller's transaction."""
    args = lc.ACTION["submit"].args(d, clock, lc.SUGGESTION)
    meeting_id: int = args["meeting_id"]
    title, text, cos = args["title"], args["text"], args["cosigner_ids"]
    if me.id in cos:
        raise BadRequest("`cosigner_ids` must not include yourself", field="cosigner_ids")
    now = clock.now()
    if (
        await w.conn.execute(sa.select(meetings.c.id).where(meetings.c.id == meeting_id))
    ).first() is None:
        raise NotFound(f"no meeting {meeting_id}")
    author = frozenset({"author"} if me.role == "deputy" and meeting_id in me.meetings else ())
    if me.role == "deputy" and not author:
        raise Forbidden(f"you do not participate in meeting {meeting_id}")
    t = lc.check(None, "submit", author, lc.Facts(), me.id)
    if cos:
        ok = set(
            (
                await w.conn.execute(
                    sa.select(users.c.id)
                    .join(
                        meeting_participants,
                        meeting_participants.c.user_id == users.c.id,
                    )
                    .where(
                        users.c.id.in_(cos),
                        users.c.role == "deputy",
                        meeting_participants.c.meeting_id == meeting_id,
                    )
                )
            ).scalars()
        )
        bad = [c for c in cos if c not in ok]
        if bad:
            raise BadRequest(f"co-signers must be deputies of meeting {meeting_id}: not {bad}")
    state = t.resolve(lc.Facts(cosigners_pending=frozenset(cos)))
    item_id = await insert_item(w.conn, lc.SUGGESTION, meeting_id, title, text, state, me, now)
    await w.conn.execute(
        item_deputies.insert(),
        [
            {
                "item_id": item_id,
                "deputy_id": me.id,
                "role": "author",
                "status": "confirmed",
                "answered_at": now,
            }
        ]
        + [
            {
                "item_id": item_id,
                "deputy_id": c,
                "role": "cosigner",
                "status": "pending",
                "answered_at": None,
            }
            for c in cos
        ],
    )
    payload = {"title": title, "text": text, "cosigner_ids": cos}
    after = await record(w, None, item_id, "submit", me, None, payload, now)
    return summary(after, now, me)
