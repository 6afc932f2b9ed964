"""Commit-to-do items end to end: real hub, HTTP actions, every inbox over /ws, both
databases; refused actions change nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime

from hub.session.items import item_events
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.items import Api, flow, inbox, kinds, rows, snapshot
from tests.utils.servers import RunningHub

ITEM_STEPS = [
    ("item.handed_over", "assigned"),
    ("item.signed", "in_progress"),
    ("item.contacted", "in_progress"),
    ("item.replied", "replied"),
    ("item.evaluated", "replied"),
    ("item.evaluated", "rehandling"),
    ("item.replied", "replied"),
    ("item.evaluated", "replied"),
    ("item.evaluated", "closed"),
]


async def _steps(c: Client, channel: str, n: int) -> list[tuple[str, str]]:
    got = await flow(c, n, channel)
    return [(m["kind"], m["body"]["item"]["state"] if "item" in m["body"] else "") for m in got]


async def test_opinion_to_closed_item_with_rehandling_seen_in_every_inbox(
    hub: RunningHub, world: World
) -> None:
    """opinion → item → sign → reply → one deputy unsatisfied → re-handling → second reply
    → satisfied → closed: each step reaches both deputies, the unit and the desk, in order."""
    d0, d1 = world.deputies[:2]
    unit, unit_user = world.units[0], world.unit_users[0]
    desk = f"desk:{world.meeting}"
    boxes = {
        "d0": (await inbox(hub, world, d0, f"deputy:{d0}"), f"deputy:{d0}"),
        "d1": (await inbox(hub, world, d1, f"deputy:{d1}"), f"deputy:{d1}"),
        "unit": (await inbox(hub, world, unit_user, f"unit:{unit}"), f"unit:{unit}"),
        "desk": (await inbox(hub, world, world.secretariat, desk), desk),
    }
    async with Api(hub, world) as api:
        item = await api.commit_item([d0, d1])
        i = item["id"]
        assert item["state"] == "assigned" and item["lead_unit"]["id"] == unit
        assert {d["id"] for d in item["deputies"]} == {d0, d1}
        await api.post(unit_user, f"/api/items/{i}/sign")
        await api.post(
            unit_user,
            f"/api/items/{i}/contact",
            {"deputy_id": d0, "method": "phone", "note": "电话沟通了线路方案"},
        )
        r = await api.post(unit_user, f"/api/items/{i}/reply", {"grade": "B", "text": "正在调整"})
        assert r["state"] == "replied" and r["grade"] == "B"
        await api.post(d0, f"/api/items/{i}/evaluate", {"rating": "satisfied"})
        r = await api.post(
            d1, f"/api/items/{i}/evaluate", {"rating": "unsatisfied", "reason": "班次仍然不够"}
        )
        assert r["state"] == "rehandling" and r["round"] == 2 and r["reply_due"]
        await api.post(unit_user, f"/api/items/{i}/reply", {"grade": "A", "text": "已增开两班"})
        await api.post(d1, f"/api/items/{i}/evaluate", {"rating": "basically_satisfied"})
        r = await api.post(d0, f"/api/items/{i}/evaluate", {"rating": "satisfied"})
        assert r["state"] == "closed" and r["closed_at"]

        full = await api.get(world.supervisor, f"/api/items/{i}")
        assert [(e["round"], e["rating"]) for e in full["evaluations"]] == [
            (1, "satisfied"),
            (1, "unsatisfied"),
            (2, "basically_satisfied"),
            (2, "satisfied"),
        ]
        timeline = (await api.get(world.supervisor, f"/api/items/{i}/events"))["events"]
    assert [(e["action"], e["from"], e["to"], e["round"]) for e in timeline] == [
        ("hand_over", None, "assigned", 1),
        ("sign", "assigned", "in_progress", 1),
        ("contact", "in_progress", "in_progress", 1),
        ("reply", "in_progress", "replied", 1),
        ("evaluate", "replied", "replied", 1),
        ("evaluate", "replied", "rehandling", 2),
        ("reply", "rehandling", "replied", 2),
        ("evaluate", "replied", "replied", 2),
        ("evaluate", "replied", "closed", 2),
    ]
    assert timeline[5]["payload"] == {
        "rating": "unsatisfied",
        "reason": "班次仍然不够",
        "rereply_due": timeline[5]["payload"]["rereply_due"],
    }
    assert timeline[1]["actor"] == {
        "id": unit_user,
        "role": "unit",
        "unit_id": unit,
        "name": "交通局承办员",  # each step names its person
    }

    for name, (c, ch) in boxes.items():
        before = {"d0": 1, "d1": 1, "unit": 0, "desk": 2}[name]  # their opinions
        got = await _steps(c, ch, before + len(ITEM_STEPS))
        assert got[:before] == [("opinion.submitted", "")] * before, name
        assert got[before:] == ITEM_STEPS, name
        await c.close()


async def test_returned_item_is_reassigned_to_another_unit(hub: RunningHub, world: World) -> None:
    """A unit returns an item with a reason; the secretariat reassigns it; the first unit
    hears it go and can no longer act, the second signs it."""
    u0, u1 = world.units
    uu0, uu1 = world.unit_users
    box0 = await inbox(hub, world, uu0, f"unit:{u0}")
    box1 = await inbox(hub, world, uu1, f"unit:{u1}")
    async with Api(hub, world) as api:
        i = (await api.commit_item(lead=u0))["id"]
        await api.refused(uu0, f"/api/items/{i}/return", {}, "bad_request")
        r = await api.post(uu0, f"/api/items/{i}/return", {"reason": "不属于本单位职责"})
        assert r["state"] == "returned"
        r = await api.post(world.secretariat, f"/api/items/{i}/reassign", {"lead_unit_id": u1})
        assert r["state"] == "assigned" and r["lead_unit"]["id"] == u1
        await api.refused(uu0, f"/api/items/{i}/sign", {}, "forbidden")
        await api.post(uu1, f"/api/items/{i}/sign")
        assert (await api.get(uu0, "/api/items"))["items"] == []
        assert [x["id"] for x in (await api.get(uu1, "/api/items"))["items"]] == [i]
        full = await api.get(world.secretariat, f"/api/items/{i}")
        assert full["return_reason"] == "不属于本单位职责"
    assert await kinds(box0, 3, f"unit:{u0}") == [
        "item.handed_over",
        "item.returned",
        "item.reassigned",
    ]
    assert await kinds(box1, 2, f"unit:{u1}") == [
        "item.reassigned",
        "item.signed",
    ]
    events = await rows(hub, item_events, item_events.c.item_id == i)
    assert [(e.action, e.actor_unit_id) for e in events][1:3] == [
        ("return", u0),
        ("reassign", None),
    ]


async def test_lead_waits_for_the_co_unit_opinion_before_replying(
    hub: RunningHub, world: World
) -> None:
    """With a co-unit, the lead's reply is refused (conflict) until the co-unit has sent its
    opinion; the co-unit hears every step and cannot reply itself."""
    u0, u1 = world.units
    uu0, uu1 = world.unit_users
    co_box = await inbox(hub, world, uu1, f"unit:{u1}")
    async with Api(hub, world) as api:
        item = await api.commit_item(lead=u0, co=[u1])
        i = item["id"]
        assert [u["id"] for u in item["co_units"]] == [u1]
        await api.post(uu0, f"/api/items/{i}/sign")
        before = await snapshot(hub)
        err = await api.refused(
            uu0, f"/api/items/{i}/reply", {"grade": "A", "text": "已办"}, "conflict"
        )
        assert f"co-unit(s) {u1}" in err["message"]
        assert "reply" not in err["allowed"] and "co_opinion" in err["allowed"]
        await api.refused(uu1, f"/api/items/{i}/reply", {"grade": "A", "text": "x"}, "forbidden")
        assert await snapshot(hub) == before
        await api.post(uu1, f"/api/items/{i}/co_opinion", {"text": "同意主办意见"})
        await api.refused(uu1, f"/api/items/{i}/co_opinion", {"text": "again"}, "conflict")
        await api.post(uu0, f"/api/items/{i}/reply", {"grade": "A", "text": "已办"})
        full = await api.get(uu1, f"/api/items/{i}")
        assert full["unit_opinions"][0]["text"] == "同意主办意见"
    assert await kinds(co_box, 4, f"unit:{u1}") == [
        "item.handed_over",
        "item.signed",
        "item.co_opinion",
        "item.replied",
    ]


async def test_extension_requested_approved_and_refused(hub: RunningHub, world: World) -> None:
    """The lead unit asks for a later deadline; the secretariat approves one (the reply
    deadline moves) and refuses another (it stays); one request at a time."""
    uu0 = world.unit_users[0]
    sec = world.secretariat
    hub.services.clock.set(datetime(2026, 3, 2, 9, 0))
    async with Api(hub, world) as api:
        item = await api.commit_item(deadline="2026-03-05")
        i = item["id"]
        assert item["reply_due"] == "2026-03-05T15:59:59.999999Z"
        await api.post(uu0, f"/api/items/{i}/sign")
        await api.refused(sec, f"/api/items/{i}/approve_extension", {}, "conflict")
        await api.refused(
            uu0,
            f"/api/items/{i}/request_extension",
            {"until": "2026-03-04", "reason": "x"},
            "bad_request",
        )
        r = await api.post(
            uu0, f"/api/items/{i}/request_extension", {"until": "2026-03-10", "reason": "需协调"}
        )
        assert r["extension_until"] == "2026-03-10T15:59:59.999999Z"
        await api.refused(
            uu0,
            f"/api/items/{i}/request_extension",
            {"until": "2026-03-11", "reason": "y"},
            "conflict",
        )
        await api.refused(uu0, f"/api/items/{i}/approve_extension", {}, "forbidden")
        r = await api.post(sec, f"/api/items/{i}/approve_extension")
        assert r["reply_due"] == "2026-03-10T15:59:59.999999Z" and r["extension_until"] is None
        await api.post(
            uu0, f"/api/items/{i}/request_extension", {"until": "2026-03-20", "reason": "再延"}
        )
        r = await api.post(sec, f"/api/items/{i}/refuse_extension", {"reason": "不予延期"})
        assert r["reply_due"] == "2026-03-10T15:59:59.999999Z" and r["extension_until"] is None


async def test_refused_actions_answer_the_right_code_and_write_nothing(
    hub: RunningHub, world: World
) -> None:
    """Wrong role, someone else's item, wrong state, bad fields, unknown ids: forbidden,
    conflict (naming the allowed actions), bad_request, not_found — and every table,
    the log included, is exactly as before."""
    d0, d1, d2 = world.deputies[:3]
    uu0, uu1 = world.unit_users
    sec, sup, outsider = world.secretariat, world.supervisor, world.outsider
    async with Api(hub, world) as api:
        i = (await api.commit_item([d0, d1]))["id"]
        before = await snapshot(hub)
        p = f"/api/items/{i}"
        for user, action, body in [
            (d0, "sign", {}),  # a deputy signing
            (uu1, "sign", {}),  # another unit's item
            (sec, "sign", {}),  # the secretariat signing
            (sup, "reassign", {"lead_unit_id": world.units[1]}),  # supervisors change nothing
            (uu0, "evaluate", {"rating": "satisfied"}),  # a unit evaluating
            (d2, "evaluate", {"rating": "satisfied"}),  # a deputy not of this item
            (outsider, "evaluate", {"rating": "satisfied"}),
            (uu0, "approve_extension", {}),
            (uu0, "reassign", {"lead_unit_id": world.units[1]}),
            (uu1, "co_opinion", {"text": "x"}),  # not a co-unit here
        ]:
            await api.refused(user, f"{p}/{action}", body, "forbidden")
        for user, action, body in [
            (d0, "evaluate", {"rating": "satisfied"}),  # nothing to evaluate yet
            (uu0, "reply", {"grade": "A", "text": "x"}),  # not signed yet
            (uu0, "contact", {"method": "phone", "note": "x"}),
            (sec, "reassign", {"lead_unit_id": world.units[1]}),  # not returned
        ]:
            err = await api.refused(user, f"{p}/{action}", body, "conflict")
            assert err["allowed"] == ["sign", "return", "message"] and err["state"] == "assigned"
        await api.refused(sec, "/api/items/999999/reassign", {"lead_unit_id": 1}, "not_found")
        await api.refused(
            sec,
            "/api/items",
            {"opinion_ids": [999999], "title": "x", "lead_unit_id": world.units[0]},
            "not_found",
        )
        await api.refused(
            d0, "/api/items", {"opinion_ids": [1], "title": "x", "lead_unit_id": 1}, "forbidden"
        )
        assert await snapshot(hub) == before

        await api.post(uu0, f"{p}/sign")
        before = await snapshot(hub)
        err = await api.refused(uu0, f"{p}/sign", {}, "conflict")
        assert err["allowed"] == ["contact", "request_extension", "reply", "ask", "message"]
        await api.refused(uu0, f"{p}/reply", {"grade": "E", "text": "x"}, "bad_request")
        await api.refused(uu0, f"{p}/reply", {"grade": "A"}, "bad_request")
        await api.refused(uu0, f"{p}/contact", {"method": "pigeon", "note": "x"}, "bad_request")
        await api.refused(
            uu0, f"{p}/contact", {"method": "phone", "note": "x", "deputy_id": d2}, "bad_request"
        )
        assert await snapshot(hub) == before

        await api.post(uu0, f"{p}/reply", {"grade": "C", "text": "列入明年计划"})
        await api.post(d0, f"{p}/evaluate", {"rating": "satisfied"})
        before = await snapshot(hub)
        await api.refused(d0, f"{p}/evaluate", {"rating": "unsatisfied", "reason": "x"}, "conflict")
        await api.refused(d1, f"{p}/evaluate", {"rating": "unsatisfied"}, "bad_request")
        await api.refused(d1, f"{p}/evaluate", {"rating": "great"}, "bad_request")
        assert await snapshot(hub) == before


async def test_lists_are_scoped_by_role_and_filtered(hub: RunningHub, world: World) -> None:
    """A deputy lists their items, a unit its unit's, staff all with filters; another
    unit or deputy cannot read an item that is not theirs."""
    d0, d1, d2 = world.deputies[:3]
    u0, u1 = world.units
    uu0, uu1 = world.unit_users
    async with Api(hub, world) as api:
        a = (await api.commit_item([d0], lead=u0))["id"]
        b = (await api.commit_item([d1], lead=u1))["id"]
        await api.post(uu1, f"/api/items/{b}/sign")

        def ids(r: dict[str, object]) -> list[int]:
            return [x["id"] for x in r["items"]]  # type: ignore[attr-defined]

        assert ids(await api.get(d0, "/api/items")) == [a]
        assert ids(await api.get(d2, "/api/items")) == []
        assert ids(await api.get(uu0, "/api/items")) == [a]
        assert ids(await api.get(world.secretariat, "/api/items")) == [a, b]
        assert ids(await api.get(world.supervisor, "/api/items", state="in_progress")) == [b]
        assert ids(await api.get(world.secretariat, "/api/items", unit_id=u0)) == [a]
        assert ids(await api.get(world.secretariat, "/api/items", deputy_id=d1, kind="commit")) == [
            b
        ]
        r = await api.get(world.secretariat, "/api/items", state="assigned,in_progress", limit=1)
        assert r["total"] == 2 and len(r["items"]) == 1
        await api.call(uu1, "GET", f"/api/items/{a}", status=403)
        await api.call(d1, "GET", f"/api/items/{a}", status=403)
        await api.call(d1, "GET", "/api/items", params={"state": "nope"}, status=400)
        await api.call(d0, "GET", "/api/items/424242", status=404)


async def test_desk_pages_items_newest_or_nearest_deadline_first(
    hub: RunningHub, world: World
) -> None:
    """The desk pages items newest first (``before_id`` for the next page) or nearest
    deadline first, with the total the filters match and the count per state; finds them
    by words in the title or text and by unit."""
    d0, d1 = world.deputies[:2]
    u0, u1 = world.units
    uu0, uu1 = world.unit_users
    sec = world.secretariat
    hub.services.clock.set(datetime(2026, 3, 2, 9, 0))
    async with Api(hub, world) as api:
        late = await api.commit_item(
            [d0], lead=u0, title="城东夜市 100%_摊位", deadline="2026-03-20"
        )
        soon = await api.commit_item([d1], lead=u1, title="渔港锚地", deadline="2026-03-10")
        waiting = await api.commit_item([d0], lead=u1, title="海岛客运", text="城东夜市周边交通")
        sug = await api.suggestion(d1)
        await api.post(uu0, f"/api/items/{late['id']}/sign")
        await api.post(uu1, f"/api/items/{soon['id']}/sign")
        a, b, c, s = late["id"], soon["id"], waiting["id"], sug["id"]

        async def page(**params: object) -> tuple[list[int], int]:
            r = await api.get(sec, "/api/items", meeting_id=world.meeting, **params)
            return [x["id"] for x in r["items"]], r["total"]

        assert await page(order="newest", limit=2) == ([s, c], 4)
        assert await page(order="newest", limit=2, before_id=c) == ([b, a], 4)
        assert await page(order="newest", before_id=a) == ([], 4)
        # waiting to be signed (due in days), then the reply deadlines, then the rest
        assert await page(order="deadline") == ([c, b, a, s], 4)
        assert await page(order="deadline", limit=2, offset=2) == ([a, s], 4)
        assert await page(q="城东夜市") == ([a, c], 2)  # the title of one, the text of the other
        assert await page(q="夜市 交通") == ([c], 1)
        assert await page(q="100%_") == ([a], 1)  # no wildcards
        assert await page(q="0_%") == ([], 0)  # "0%_" is no match
        assert await page(unit_id=u1, order="newest") == ([c, b], 2)
        r = await api.get(sec, "/api/items", meeting_id=world.meeting, state="in_progress", limit=1)
        assert r["total"] == 2 and len(r["items"]) == 1
        assert r["by_state"] == {"in_progress": 2, "assigned": 1, "submitted": 1}
        r = await api.get(sec, "/api/items", unit_id=u1)
        assert r["by_state"] == {"in_progress": 1, "assigned": 1}
        for bad in ({"order": "oldest_first"}, {"q": "字" * 101}, {"before_id": "0"}):
            err = await api.call(sec, "GET", "/api/items", params=bad, status=400)
            assert err["code"] == "bad_request" and err["field"] == next(iter(bad)), err


async def test_concurrent_evaluations_close_the_item_once(hub: RunningHub, world: World) -> None:
    """Two deputies evaluating at the same moment: both stored, the item closed exactly once."""
    d0, d1 = world.deputies[:2]
    uu0 = world.unit_users[0]
    async with Api(hub, world) as api:
        i = (await api.commit_item([d0, d1]))["id"]
        await api.post(uu0, f"/api/items/{i}/sign")
        await api.post(uu0, f"/api/items/{i}/reply", {"grade": "A", "text": "已解决"})
        results = await asyncio.gather(
            api.post(d0, f"/api/items/{i}/evaluate", {"rating": "satisfied"}),
            api.post(d1, f"/api/items/{i}/evaluate", {"rating": "satisfied"}),
        )
    assert sorted(r["state"] for r in results) == ["closed", "replied"]
    events = await rows(hub, item_events, item_events.c.item_id == i)
    assert [e.to_state for e in events].count("closed") == 1
