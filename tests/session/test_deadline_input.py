"""Deadlines entered as a date, on both databases: ``2026-03-09`` is stored, sent and
logged as the end of that day in the hub's zone (23:59:59.999999 local, the same local
date), like the deadlines the rules count; a reply deadline before the signing deadline
is refused with ``field``, ``reason`` and the ``sign_due`` it may not precede, and
nothing is written."""

from __future__ import annotations

from datetime import date, datetime

import orjson
import sqlalchemy as sa

from hub.session.common import aware
from hub.session.items import item_events, items
from hub.store.schema import messages
from tests.utils.factories import World
from tests.utils.items import Api, rows, snapshot
from tests.utils.servers import RunningHub

END_OF_MONDAY = "2026-03-09T15:59:59.999999Z"  # Monday 9 March, 23:59:59.999999 in Beijing


async def test_a_date_is_the_end_of_that_day_and_reply_not_before_signing(
    hub: RunningHub, world: World
) -> None:
    """Handed over on Friday 6 March, an item must be signed by the end of Monday 9 March
    (one working day). A reply deadline of ``2026-03-09`` is that same instant, stored as
    it; ``2026-03-07`` (Saturday) is before the signing deadline and refused, at creation,
    at reassignment and as an extension's ``until``."""
    s = hub.services
    sec, uu0, d0 = world.secretariat, world.unit_users[0], world.deputies[0]
    s.clock.set(datetime(2026, 3, 6, 10, 0))
    async with Api(hub, world) as api:
        item = await api.commit_item(deadline="2026-03-09")
        i = item["id"]
        assert item["sign_due"] == item["reply_due"] == END_OF_MONDAY
        (row,) = await rows(hub, items, items.c.id == i)
        for stored in (row.reply_due, row.sign_due):
            local = s.clock.local(aware(stored))
            assert (local.date(), local.time().isoformat()) == (date(2026, 3, 9), "23:59:59.999999")
        (event,) = await rows(hub, item_events, item_events.c.item_id == i)
        assert orjson.loads(event.payload)["reply_due"] == END_OF_MONDAY
        async with s.engine.connect() as conn:
            logged = (
                await conn.execute(
                    sa.select(messages.c.body).where(messages.c.kind == "item.handed_over")
                )
            ).scalars()
            sent = {orjson.loads(b)["event"]["payload"]["reply_due"] for b in logged}
        assert sent == {END_OF_MONDAY}  # on every channel it went to

        # Before the signing deadline: refused with the field, the reason and sign_due.
        op = (await api.opinion(d0))["id"]
        before = await snapshot(hub)
        body = {"opinion_ids": [op], "title": "t", "lead_unit_id": world.units[0]}
        err = await api.refused(
            sec, "/api/items", {**body, "deadline": "2026-03-07"}, "bad_request"
        )
        assert {k: v for k, v in err.items() if k != "message"} == {
            "code": "bad_request",
            "field": "deadline",
            "reason": "before_sign_due",
            "sign_due": END_OF_MONDAY,
        }
        assert await snapshot(hub) == before

        # An extension's `until`, approved by the secretariat, is a reply deadline too.
        await api.post(uu0, f"/api/items/{i}/sign")
        await api.post(
            uu0, f"/api/items/{i}/request_extension", {"until": "2026-03-20", "reason": "需协调"}
        )
        before = await snapshot(hub)
        err = await api.refused(
            sec, f"/api/items/{i}/approve_extension", {"until": "2026-03-07"}, "bad_request"
        )
        assert (err["field"], err["reason"], err["sign_due"]) == (
            "until",
            "before_sign_due",
            END_OF_MONDAY,
        )
        assert await snapshot(hub) == before
        r = await api.post(sec, f"/api/items/{i}/approve_extension", {"until": "2026-03-13"})
        assert r["reply_due"] == "2026-03-13T15:59:59.999999Z"  # Friday 13 March, its end

        # A reassignment is a new hand-over: its deadline is checked the same way.
        k = (await api.commit_item())["id"]
        await api.post(uu0, f"/api/items/{k}/return", {"reason": "不属于本单位职责"})
        before = await snapshot(hub)
        err = await api.refused(
            sec,
            f"/api/items/{k}/reassign",
            {"lead_unit_id": world.units[1], "deadline": "2026-03-08T12:00:00+08:00"},
            "bad_request",
        )
        assert (err["field"], err["reason"], err["sign_due"]) == (
            "deadline",
            "before_sign_due",
            END_OF_MONDAY,
        )
        assert await snapshot(hub) == before
        r = await api.post(
            sec,
            f"/api/items/{k}/reassign",
            {"lead_unit_id": world.units[1], "deadline": "2026-03-09"},
        )
        assert r["reply_due"] == r["sign_due"] == END_OF_MONDAY
