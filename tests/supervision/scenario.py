"""A small scenario of a meeting whose statistics and points are worked out by hand in
the tests (the congress's time zone is Asia/Shanghai; 4 March 2030 is a Monday)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.session.attendance import check_in, decide_leave, request_leave
from hub.session.meetings import create_sitting
from hub.session.members import load_member
from hub.session.notices import notice_deliveries, notices
from hub.store.schema import receipts
from tests.supervision.helpers import receipt
from tests.utils.factories import World
from tests.utils.items import Api, at
from tests.utils.servers import RunningHub


async def notices_scenario(hub: RunningHub, world: World, api: Api) -> None:
    """Two notices to the 4 deputies. d0 acks notice 1 and read it after 60 s; d1 acks up
    to notice 2 only (so has both); d2 nothing; d3 read notice 2 after 180 s (no ack)."""
    d0, d1, _d2, d3 = world.deputies
    sent = [
        await api.post(
            world.secretariat,
            f"/api/meetings/{world.meeting}/notices",
            {"title": f"通知{i}", "text": "下午三点开会"},
            status=201,
        )
        for i in (1, 2)
    ]
    async with hub.services.engine.begin() as conn:
        where: dict[tuple[int, int], tuple[str, int]] = {}
        for r in await conn.execute(sa.select(notice_deliveries)):
            where[(int(r.notice_id), int(r.user_id))] = (r.channel, int(r.seq))
        created = {
            int(r.id): r.created_at.replace(tzinfo=UTC)
            for r in await conn.execute(sa.select(notices.c.id, notices.c.created_at))
        }
        n1, n2 = sent[0]["id"], sent[1]["id"]
        # Read receipts at chosen times, so the time to read is known: 60 s and 180 s.
        await conn.execute(
            receipts.insert(),
            [
                {
                    "channel": where[(n1, d0)][0],
                    "seq": where[(n1, d0)][1],
                    "user_id": d0,
                    "kind": "read",
                    "ts": created[n1] + timedelta(seconds=60),
                },
                {
                    "channel": where[(n2, d3)][0],
                    "seq": where[(n2, d3)][1],
                    "user_id": d3,
                    "kind": "read",
                    "ts": created[n2] + timedelta(seconds=180),
                },
            ],
        )
    await receipt(hub, world, d0, "ack", *where[(n1, d0)])
    await receipt(hub, world, d1, "ack", *where[(n2, d1)])


async def attendance_scenario(hub: RunningHub, world: World) -> None:
    """Plenary A: d0 and d1 check in, d2 on approved leave, d3 absent. Group B (delegation
    of d0 and d2): d0 checks in, d2 absent. C has not ended."""
    node, engine = hub.services.node, hub.services.engine
    sec = await load_member(engine, world.secretariat)
    deps = [await load_member(engine, d) for d in world.deputies]
    now = datetime.now(UTC)
    a = await create_sitting(
        node, sec, world.meeting, "plenary", "A", now, now + timedelta(hours=1)
    )
    b = await create_sitting(
        node, sec, world.meeting, "group", "B", now, now + timedelta(hours=1),
        delegation_id=world.delegations[0],
    )  # fmt: skip
    await create_sitting(node, sec, world.meeting, "plenary", "C", now + timedelta(days=3650))
    await check_in(node, deps[0], a["id"])
    await check_in(node, deps[1], a["id"])
    leave = await request_leave(node, deps[2], a["id"], "出差")
    await decide_leave(node, sec, leave["id"], True)
    await check_in(node, deps[0], b["id"])


async def items_scenario(hub: RunningHub, world: World, api: Api) -> dict[str, Any]:
    """C1 (U1) signed, replied and closed on Monday; C2 (U2 lead, U1 co) signed late,
    replied on time, re-handling overdue; S1 accepted, handed to U1, signed; S2 not
    accepted after a co-signature; S3 still waits for its co-signer."""
    clock = hub.services.clock
    d0, d1, d2, d3 = world.deputies
    u1, u2 = world.units
    uu1, uu2 = world.unit_users
    sec = world.secretariat
    clock.set(at("2030-03-04 09:00"))
    s1 = await api.suggestion(d2)
    s2 = await api.suggestion(d3, [d0])
    await api.suggestion(d0, [d1])
    c1 = await api.commit_item([d0], lead=u1)
    clock.set(at("2030-03-04 09:30"))
    await api.post(uu1, f"/api/items/{c1['id']}/sign")
    clock.set(at("2030-03-04 10:00"))
    c2 = await api.commit_item([d1], lead=u2, co=[u1])
    clock.set(at("2030-03-04 11:00"))
    await api.post(uu1, f"/api/items/{c2['id']}/co_opinion", {"text": "同意主办单位方案"})
    clock.set(at("2030-03-04 12:00"))
    await api.post(d0, f"/api/suggestions/{s2['id']}/cosign")
    clock.set(at("2030-03-04 15:00"))
    await api.post(uu1, f"/api/items/{c1['id']}/reply", {"grade": "A", "text": "已解决"})
    clock.set(at("2030-03-04 16:00"))
    await api.post(d0, f"/api/items/{c1['id']}/evaluate", {"rating": "satisfied"})
    clock.set(at("2030-03-05 09:00"))
    await api.post(sec, f"/api/suggestions/{s1['id']}/accept")
    await api.post(sec, f"/api/suggestions/{s2['id']}/not_accept", {"reason": "不属于建议范围"})
    clock.set(at("2030-03-05 10:00"))
    await api.post(sec, f"/api/suggestions/{s1['id']}/hand_over", {"lead_unit_id": u1})
    clock.set(at("2030-03-05 12:00"))
    await api.post(uu1, f"/api/items/{s1['id']}/sign")
    clock.set(at("2030-03-06 10:00"))
    await api.post(uu2, f"/api/items/{c2['id']}/sign")
    clock.set(at("2030-03-07 10:00"))
    await api.post(uu2, f"/api/items/{c2['id']}/reply", {"grade": "B", "text": "正在解决"})
    clock.set(at("2030-03-07 12:00"))
    await api.post(
        d1, f"/api/items/{c2['id']}/evaluate", {"rating": "unsatisfied", "reason": "未落实"}
    )
    clock.set(at("2030-03-13 09:00"))
    return {"c1": c1["id"], "c2": c2["id"], "s1": s1["id"]}
