"""The deputies' evaluation deadline (rule ``<kind>.evaluation``, set by each reply): a
"due soon" reminder and an "overdue" alert to each deputy still to evaluate and to the
desk, once each; after it the secretariat may close the item without the missing
evaluations — closed with reason ``no_evaluation``, which statistics count as no rating
(neither satisfied nor unsatisfied); an unsatisfied rating given meanwhile still sends
the item to re-handling."""

from __future__ import annotations

import json
from datetime import datetime

from hub.session.deadlines import deadline_alerts
from hub.session.items import item_evaluations, item_events
from tests.utils.factories import World
from tests.utils.items import Api, flow, inbox, rows
from tests.utils.servers import RunningHub


def levels(alerts: list[object]) -> list[tuple[str, str]]:
    return [(a.deadline, a.level) for a in alerts]  # type: ignore[attr-defined]


async def _replied(api: Api, world: World) -> int:
    """A commit-to-do item of the first two deputies, signed and replied by the lead."""
    i = int((await api.commit_item(world.deputies[:2]))["id"])
    lead = world.unit_users[0]
    await api.post(lead, f"/api/items/{i}/sign")
    await api.post(lead, f"/api/items/{i}/reply", {"grade": "A", "text": "已增开线路"})
    return i


async def test_reminder_then_closing_without_evaluation_counts_no_rating(
    hub: RunningHub, world: World
) -> None:
    """Replied on Monday 2 March: the deputies have 3 working days, to the end of Thursday
    5 March. The one who has not evaluated (not the one who has, not the unit) gets "due
    soon" at 20:00 that day and "overdue" at midnight, once each; until then closing is
    refused with the deadline, after it the secretariat closes the item: closed,
    `no_evaluation`, the missing deputy named, no evaluation row added, and statistics
    count the one rating given and nothing for the missing one."""
    s, w = hub.services, hub.workflows
    d0, d1 = world.deputies[:2]
    sec, lead = world.secretariat, world.unit_users[0]
    s.clock.set(datetime(2026, 3, 2, 9, 0))
    async with Api(hub, world) as api:
        i = await _replied(api, world)
        item = await api.get(d1, f"/api/items/{i}")
        assert item["state"] == "replied"
        assert item["evaluation_due"] == "2026-03-05T15:59:59.999999Z"
        await api.post(d0, f"/api/items/{i}/evaluate", {"rating": "satisfied"})
        box0 = await inbox(hub, world, d0, f"deputy:{d0}")
        box1 = await inbox(hub, world, d1, f"deputy:{d1}")
        unit_box = await inbox(hub, world, lead, f"unit:{world.units[0]}")

        mine = {a["name"]: a for a in (await api.get(sec, f"/api/items/{i}"))["actions"]}
        assert mine["close_unevaluated"] == {
            "name": "close_unevaluated",
            "allowed": False,
            "reason": {"code": "evaluation_not_due", "params": {"due": item["evaluation_due"]}},
            "path": f"/api/items/{i}/close_unevaluated",
        }
        await api.refused(sec, f"/api/items/{i}/close_unevaluated", {}, "conflict")

        s.clock.set(datetime(2026, 3, 5, 19, 59))
        assert await w.deadlines.run_once() == []
        s.clock.set(datetime(2026, 3, 5, 20, 0))  # 4 hours (commit.due_soon) before
        assert levels(await w.deadlines.run_once()) == [("evaluation", "due_soon")]
        assert await w.deadlines.run_once() == []
        s.clock.set(datetime(2026, 3, 6, 0, 0))
        assert levels(await w.deadlines.run_once()) == [("evaluation", "overdue")]
        assert await w.deadlines.run_once() == []

        # opinion submitted, handed over, signed, replied, evaluated (by d0), then the alerts
        got = await flow(box1, 7, f"deputy:{d1}")
        assert [m["kind"] for m in got[-2:]] == ["item.due_soon", "item.overdue"]
        assert [m["sender"]["role"] for m in got[-2:]] == ["system", "system"]
        assert got[-2]["body"]["event"]["payload"] == {
            "deadline": "evaluation",
            "deputy_ids": [d1],
            "due": "2026-03-05T15:59:59.999999Z",
        }
        alerts = await rows(hub, deadline_alerts, deadline_alerts.c.item_id == i)
        assert sorted((a.deadline, a.level) for a in alerts) == [
            ("evaluation", "due_soon"),
            ("evaluation", "overdue"),
        ]

        r = await api.post(sec, f"/api/items/{i}/close_unevaluated", {"note": "代表逾期未测评"})
        assert (r["state"], r["closed_reason"]) == ("closed", "no_evaluation")
        assert r["closed_at"] is not None and r["actions"] == []
        await api.refused(d1, f"/api/items/{i}/evaluate", {"rating": "satisfied"}, "conflict")
        events = await rows(hub, item_events, item_events.c.item_id == i)
        last = max(events, key=lambda e: e.id)
        assert (last.action, last.actor_id, last.from_state, last.to_state) == (
            "close_unevaluated",
            sec,
            "replied",
            "closed",
        )
        assert json.loads(last.payload) == {
            "note": "代表逾期未测评",
            "missing": [d1],
        }
        assert len(await rows(hub, item_evaluations, item_evaluations.c.item_id == i)) == 1

        # A second item nobody evaluated, closed the same way: no rating at all.
        j = await _replied(api, world)
        s.clock.set(datetime(2026, 3, 20, 0, 0))
        await api.post(sec, f"/api/items/{j}/close_unevaluated")
        stats = await api.get(sec, "/api/statistics", meeting=world.meeting)
        assert stats["evaluations"] == {
            "total": 1,
            "satisfied": 1,
            "basically_satisfied": 0,
            "unsatisfied": 0,
            "satisfaction_rate": 1.0,
            "satisfied_rate": 1.0,
            "no_evaluation": 2,
        }
        assert stats["commit_items"]["closed"] == 2
        timeline = await api.get(world.supervisor, f"/api/items/{j}/timeline")
        assert timeline["item"]["state"] == "closed" and timeline["item"]["closed_at"]

    # the deputy who evaluated and the unit hear the closing, not the reminders
    for c, ch, n in ((box0, f"deputy:{d0}", 6), (unit_box, f"unit:{world.units[0]}", 5)):
        got = [m["kind"] for m in await flow(c, n, ch)]
        assert got[-1] == "item.closed_unevaluated" and "item.due_soon" not in got, got
    for c in (box0, box1, unit_box):
        await c.close()


async def test_an_unsatisfied_rating_still_rehandles_and_the_rule_is_configurable(
    hub: RunningHub, world: World
) -> None:
    """The admin sets commit.evaluation to 1 working day: a reply on Friday 6 March gives
    the deputies until the end of Monday 9 March. One rates it unsatisfied, the other
    never answers: closing after the deadline sends the item to re-handling (round 2,
    with the second-reply deadline), not to closed."""
    s = hub.services
    d0 = world.deputies[0]
    sec = world.secretariat
    s.clock.set(datetime(2026, 3, 6, 10, 0))
    async with Api(hub, world) as api:
        rule = {"amount": 1, "unit": "working_days"}
        await api.call(world.admin, "PUT", "/api/admin/deadline-rules/commit.evaluation", rule)
        listed = await api.get(sec, "/api/deadline-rules")
        assert {"name": "commit.evaluation", "amount": 1, "unit": "working_days"}.items() <= next(
            r for r in listed["rules"] if r["name"] == "commit.evaluation"
        ).items()
        i = await _replied(api, world)
        assert (await api.get(sec, f"/api/items/{i}"))["evaluation_due"] == (
            "2026-03-09T15:59:59.999999Z"
        )
        await api.post(
            d0, f"/api/items/{i}/evaluate", {"rating": "unsatisfied", "reason": "没解决"}
        )
        s.clock.set(datetime(2026, 3, 10, 0, 0))
        r = await api.post(sec, f"/api/items/{i}/close_unevaluated")
        assert (r["state"], r["round"], r["closed_reason"]) == ("rehandling", 2, None)
        assert r["reply_due"] is not None and r["due"] == r["reply_due"]
        stats = await api.get(sec, "/api/statistics", meeting=world.meeting)
        assert stats["evaluations"]["unsatisfied"] == 1
        assert stats["evaluations"]["no_evaluation"] == 0
        timeline = await api.get(world.supervisor, f"/api/items/{i}/timeline")
        assert [d["deadline"] for d in timeline["deadlines"]][-1] == "rereply"
