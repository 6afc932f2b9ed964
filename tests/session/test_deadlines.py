"""Deadline alerts with a controllable clock: due soon and overdue once each, on the unit's
inbox and the desk; across weekends and holidays; one scanning node per cluster."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import sqlalchemy as sa

from hub.config import Settings
from hub.services import Services
from hub.session.deadlines import DeadlineWatcher, deadline_alerts, scan
from hub.session.items import item_events
from hub.store.schema import messages
from tests.utils.factories import World
from tests.utils.items import Api, inbox, kinds, rows
from tests.utils.servers import RunningHub, running_hub

HOLIDAYS = {
    "holidays": [{"date": f"2026-10-0{d}", "name": "国庆节"} for d in range(1, 8)],
    "workdays": [{"date": "2026-09-27", "name": "调休"}, {"date": "2026-10-10", "name": "调休"}],
}


def summary(alerts: list[object]) -> list[tuple[str, str]]:
    return [(a.deadline, a.level) for a in alerts]  # type: ignore[attr-defined]


async def test_sign_deadline_due_soon_then_overdue_once_each(hub: RunningHub, world: World) -> None:
    """A suggestion handed over on Friday 6 March must be signed by Tuesday 17 March: the
    unit and the desk get "due soon" once from 11 March, "overdue" once from 18 March;
    the overdue board lists it; signing ends the sign alerts."""
    s = hub.services
    w = hub.workflows
    u0, uu0 = world.units[0], world.unit_users[0]
    unit_box = await inbox(hub, world, uu0, f"unit:{u0}")
    desk = await inbox(hub, world, world.secretariat, f"desk:{world.meeting}")
    s.clock.set(datetime(2026, 3, 6, 10, 0))
    async with Api(hub, world) as api:
        i = (await api.suggestion(world.deputies[0]))["id"]
        await api.post(world.secretariat, f"/api/suggestions/{i}/accept")
        r = await api.post(
            world.secretariat, f"/api/suggestions/{i}/hand_over", {"lead_unit_id": u0}
        )
        assert r["sign_due"] == "2026-03-17T15:59:59.999999Z"

        s.clock.set(datetime(2026, 3, 10, 23, 59))
        assert await w.deadlines.run_once() == []
        s.clock.set(datetime(2026, 3, 11, 0, 1))
        assert summary(await w.deadlines.run_once()) == [("sign", "due_soon")]
        assert await w.deadlines.run_once() == []
        assert (await api.get(world.secretariat, "/api/items/overdue"))["items"] == []

        s.clock.set(datetime(2026, 3, 18, 0, 0))
        assert summary(await w.deadlines.run_once()) == [("sign", "overdue")]
        assert await w.deadlines.run_once() == []
        for user in (world.secretariat, uu0, world.deputies[0]):
            board = await api.get(user, "/api/items/overdue")
            assert [(x["id"], x["overdue"]) for x in board["items"]] == [(i, True)]
        assert (await api.get(world.unit_users[1], "/api/items/overdue"))["items"] == []

        r = await api.post(uu0, f"/api/items/{i}/sign")
        assert r["due"] == r["reply_due"] == "2026-06-08T15:59:59.999999Z"  # 6 June: Saturday
        assert r["overdue"] is False
        s.clock.set(datetime(2026, 3, 25, 0, 0))
        assert await w.deadlines.run_once() == []

    for c, ch in ((unit_box, f"unit:{u0}"), (desk, f"desk:{world.meeting}")):
        got = await kinds(c, 5 if c is desk else 3, ch)
        assert [k for k in got if k in ("item.due_soon", "item.overdue")] == [
            "item.due_soon",
            "item.overdue",
        ]
    events = await rows(hub, item_events, item_events.c.item_id == i)
    alerts = [e for e in events if e.action in ("due_soon", "overdue")]
    assert [(e.action, e.actor_id, e.actor_role, e.from_state) for e in alerts] == [
        ("due_soon", 0, "system", "assigned"),
        ("overdue", 0, "system", "assigned"),
    ]


async def test_commit_deadlines_cross_a_weekend_and_the_holiday_week(
    hub: RunningHub, world: World
) -> None:
    """A commit-to-do item handed over on Wednesday 30 September, before the National Day
    week, must be signed (1 working day) by 8 October and replied (3) by Saturday 10
    October, a make-up working day; one handed over on Friday 18 September by Monday 21.
    The co-unit's opinion (1 working day) is alerted to the co-unit."""
    s = hub.services
    w = hub.workflows
    u0, u1 = world.units
    co_box = await inbox(hub, world, world.unit_users[1], f"unit:{u1}")
    async with Api(hub, world) as api:
        await api.call(world.admin, "PUT", "/api/admin/calendar/2026", HOLIDAYS)
        s.clock.set(datetime(2026, 9, 18, 17, 0))
        r = await api.commit_item([world.deputies[0]])
        assert r["sign_due"] == "2026-09-21T15:59:59.999999Z"
        assert r["reply_due"] == "2026-09-23T15:59:59.999999Z"

        s.clock.set(datetime(2026, 9, 30, 17, 0))
        r = await api.commit_item([world.deputies[1]], lead=u0, co=[u1])
        i = r["id"]
        assert r["sign_due"] == "2026-10-08T15:59:59.999999Z"
        assert r["reply_due"] == "2026-10-10T15:59:59.999999Z"
        full = await api.get(world.secretariat, f"/api/items/{i}")
        assert full["unit_opinions"][0]["opinion_due"] == "2026-10-08T15:59:59.999999Z"

        s.clock.set(datetime(2026, 10, 8, 19, 59))  # the first item is long overdue
        assert sorted(summary(await w.deadlines.run_once())) == [("sign", "overdue")]
        s.clock.set(datetime(2026, 10, 8, 20, 0))  # 4 hours before the end of 8 October
        got = await w.deadlines.run_once()
        assert sorted((a.item_id, a.deadline, a.unit_id, a.level) for a in got) == [
            (i, "co_opinion", u1, "due_soon"),
            (i, "sign", u0, "due_soon"),
        ]
        s.clock.set(datetime(2026, 10, 9, 0, 0))
        assert sorted(summary(await w.deadlines.run_once())) == [
            ("co_opinion", "overdue"),
            ("sign", "overdue"),
        ]
    got = await kinds(co_box, 3, f"unit:{u1}")
    assert got == ["item.handed_over", "item.due_soon", "item.overdue"]


async def test_moved_deadlines_get_their_own_alerts(hub: RunningHub, world: World) -> None:
    """An approved extension is a new reply deadline, alerted again; after an unsatisfied
    evaluation the second-reply deadline is alerted as rereply."""
    s = hub.services
    w = hub.workflows
    uu0, d0, sec = world.unit_users[0], world.deputies[0], world.secretariat
    s.clock.set(datetime(2026, 3, 2, 9, 0))  # Monday
    async with Api(hub, world) as api:
        i = (await api.commit_item([d0], deadline="2026-03-03"))["id"]
        await api.post(uu0, f"/api/items/{i}/sign")
        s.clock.set(datetime(2026, 3, 4, 9, 0))
        assert summary(await w.deadlines.run_once()) == [("reply", "overdue")]
        await api.post(
            uu0, f"/api/items/{i}/request_extension", {"until": "2026-03-06", "reason": "r"}
        )
        await api.post(sec, f"/api/items/{i}/approve_extension")
        assert await w.deadlines.run_once() == []
        s.clock.set(datetime(2026, 3, 7, 0, 0))
        assert summary(await w.deadlines.run_once()) == [("reply", "overdue")]
        await api.post(uu0, f"/api/items/{i}/reply", {"grade": "D", "text": "留作参考"})
        r = await api.post(
            d0, f"/api/items/{i}/evaluate", {"rating": "unsatisfied", "reason": "no"}
        )
        assert r["state"] == "rehandling"
        assert r["reply_due"] == "2026-03-11T15:59:59.999999Z"  # Saturday + 3 working days
        s.clock.set(datetime(2026, 3, 11, 20, 0))
        assert summary(await w.deadlines.run_once()) == [("rereply", "due_soon")]
        s.clock.set(datetime(2026, 3, 12, 0, 0))
        assert summary(await w.deadlines.run_once()) == [("rereply", "overdue")]
    stored = await rows(hub, deadline_alerts, deadline_alerts.c.item_id == i)
    assert len(stored) == 4 and len({a.due for a in stored}) == 3


async def _count_alerts(hub: RunningHub) -> tuple[int, int]:
    async with hub.services.engine.connect() as conn:
        n = (
            await conn.execute(sa.select(sa.func.count()).select_from(deadline_alerts))
        ).scalar_one()
        m = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(messages.c.kind.in_(["item.due_soon", "item.overdue"]))
            )
        ).scalar_one()
    return int(n), int(m)


async def test_two_nodes_raise_each_alert_once(
    hub: RunningHub, world: World, settings: Settings
) -> None:
    """Two nodes scanning at the same moment: one holds the lease and raises the alerts;
    even scanning without the lease, the unique key keeps every alert single."""
    a = hub.services
    async with running_hub(settings) as other, Api(hub, world) as api:
        b = other.services
        for c in (a.clock, b.clock):
            c.set(datetime(2026, 3, 2, 9, 0))
        items = [(await api.commit_item([d], deadline="2026-03-03"))["id"] for d in world.deputies]
        for c in (a.clock, b.clock):
            c.set(datetime(2026, 3, 3, 21, 0))  # inside the 4 h before signing is due
        got = await asyncio.gather(
            hub.workflows.deadlines.run_once(), other.workflows.deadlines.run_once()
        )
        assert sorted(len(x) for x in got) == [0, len(items)]
        assert await _count_alerts(hub) == (len(items), 2 * len(items))  # unit + desk

        for c in (a.clock, b.clock):
            c.set(datetime(2026, 3, 4, 9, 0))
        got = await asyncio.gather(scan(a), scan(b), scan(a), scan(b))
        assert sum(len(x) for x in got) == len(items)  # overdue, once each
        assert await _count_alerts(hub) == (2 * len(items), 4 * len(items))


async def test_lease_passes_when_its_holder_stops_or_expires(
    hub: RunningHub, world: World, settings: Settings
) -> None:
    """Only one node holds the scan lease; when it stops the lease is given back at once,
    and when a node dies its lease is taken over once it expires."""
    a = hub.services
    b = Services(settings)
    c = Services(settings)
    watchers = {a: hub.workflows.deadlines, b: DeadlineWatcher(b), c: DeadlineWatcher(c)}
    try:
        for s in (a, b, c):
            s.clock.set(datetime(2026, 3, 2, 9, 0))
        assert await watchers[a].lease()
        assert not await watchers[b].lease() and not await watchers[c].lease()
        assert await watchers[a].lease()  # renewing
        await watchers[a].stop()  # gives it back
        assert await watchers[b].lease()
        assert not await watchers[c].lease()
        for s in (b, c):  # b dies without a word; its lease runs out
            s.clock.advance(timedelta(seconds=settings.deadline_lease - 1))
        assert not await watchers[c].lease()
        c.clock.advance(timedelta(seconds=2))
        assert await watchers[c].lease()
    finally:
        await b.engine.dispose()
        await c.engine.dispose()
