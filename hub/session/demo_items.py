"""The demo's opinions, commit-to-do items and suggestions (``hub demo``).

They are made by the workflows themselves (the same functions the HTTP API calls), in the
seeding transaction, so their events and inbox messages are stored like any others and a
client subscribing with ``since=0`` sees them. What is left to try by hand:

* 秘书处 (mishu): two submitted opinions to note, merge or commit; 赵强's suggestion to
  accept and hand over;
* 市交通运输局 (jiaotong): one item to sign or return, one signed item to reply to;
* 陈明 (daibiao5): a joint suggestion of 刘芳 waiting for his co-signature.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.node import Writer
from hub.session import lifecycle as lc
from hub.session.items import CommitInput, act_in, create_commit_in
from hub.session.members import Member
from hub.session.opinions import SubmitOpinion, note_in, submit_in
from hub.session.schema import meeting_participants, users
from hub.session.suggestions import submit_in as submit_suggestion_in

OPINIONS = (  # (deputy index, agenda index, text)
    (0, 0, "建议增开定海至普陀的夜间公交班次，方便海岛群众夜间出行。"),
    (2, 0, "建议加快东港片区公共停车场建设，缓解学校周边停车难。"),
    (1, 0, "政府工作报告中养老服务部分，建议明确社区老年助餐点的建设数量和完成时间。"),
    (3, 3, "建议法院工作报告补充网上立案、跨域立案的办理数据。"),
    (6, 2, "预算报告中海岛交通补贴一项，建议说明补贴标准和受益人数。"),
)


async def seed_items(
    conn: AsyncConnection, meeting_id: int, agenda_ids: list[int]
) -> dict[str, Any]:
    """Opinions, two commit-to-do items and two suggestions in the demo meeting."""
    clock = Clock()
    w = Writer(conn, clock)
    people = (
        await conn.execute(
            sa.select(users.c.id, users.c.name, users.c.role, users.c.unit_id, users.c.username)
            .outerjoin(
                meeting_participants,
                sa.and_(
                    meeting_participants.c.user_id == users.c.id,
                    meeting_participants.c.meeting_id == meeting_id,
                ),
            )
            .where(sa.or_(meeting_participants.c.meeting_id.is_not(None), users.c.role == "unit"))
            .order_by(users.c.id)
        )
    ).all()

    def who(r: Any) -> Member:
        return Member(r.id, r.name, r.role, unit_id=r.unit_id, meetings=frozenset({meeting_id}))

    deputies = [who(r) for r in people if r.role == "deputy"]
    sec = next(who(r) for r in people if r.role == "secretariat")
    unit_accounts = [who(r) for r in people if r.role == "unit"]
    transport = unit_accounts[0]
    assert transport.unit_id is not None
    # One transaction of many steps: every channel they append to, locked first.
    await w.lock(
        f"desk:{meeting_id}",
        *(f"deputy:{p.id}" for p in deputies),
        *(f"unit:{u.unit_id}" for u in unit_accounts),
    )

    ops = [
        await submit_in(
            w,
            clock,
            deputies[d],
            SubmitOpinion(meeting_id=meeting_id, agenda_item_id=agenda_ids[a], text=text),
        )
        for d, a, text in OPINIONS
    ]
    await note_in(w, clock, sec, ops[3]["id"])
    signed = await create_commit_in(
        w,
        clock,
        sec,
        CommitInput(
            opinion_ids=[ops[0]["id"]],
            title="增开定海至普陀夜间公交班次",
            lead_unit_id=transport.unit_id,
        ),
    )
    await act_in(w, clock, transport, signed["id"], "sign", lc.NoteInput())
    await act_in(
        w,
        clock,
        transport,
        signed["id"],
        "contact",
        lc.ContactInput(method="phone", note="已电话联系王建国代表，了解夜间出行需求"),
    )
    waiting = await create_commit_in(
        w,
        clock,
        sec,
        CommitInput(
            opinion_ids=[ops[1]["id"]],
            title="东港片区学校周边停车难",
            lead_unit_id=transport.unit_id,
        ),
    )
    joint = await submit_suggestion_in(
        w,
        clock,
        deputies[3],
        lc.SuggestionInput(
            meeting_id=meeting_id,
            title="关于加强海岛群众就医交通保障的建议",
            text="一、开通医院专线……二、完善急救转运……",
            cosigner_ids=[deputies[4].id],
        ),
    )
    single = await submit_suggestion_in(
        w,
        clock,
        deputies[6],
        lc.SuggestionInput(
            meeting_id=meeting_id,
            title="关于提高渔民养老保险补贴的建议",
            text="建议将渔民养老保险补贴标准与物价水平挂钩……",
        ),
    )
    return {
        "opinion_ids": [o["id"] for o in ops],
        "item_ids": [signed["id"], waiting["id"]],
        "suggestion_ids": [joint["id"], single["id"]],
    }
