"""Statistics and item timelines against the small scenario of ``scenario.py``, whose
numbers are worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.session.attendance import check_in, decide_leave, request_leave
from hub.session.meetings import create_sitting
from hub.session.members import load_member
from tests.supervision.scenario import attendance_scenario, items_scenario, notices_scenario
from tests.utils.factories import World
from tests.utils.items import Api, at
from tests.utils.servers import RunningHub


async def test_statistics_of_a_small_meeting(hub: RunningHub, world: World) -> None:
    """Every figure of the statistics endpoint equals the hand count of the scenario."""
    async with Api(hub, world) as api:
        await notices_scenario(hub, world, api)
        await attendance_scenario(hub, world)
        await items_scenario(hub, world, api)
        got = await api.get(world.supervisor, "/api/statistics", meeting=world.meeting)
    # S1, S2 and S3 were submitted; S3 still waits for its co-signer, so only two reached
    # the secretariat: the figure says so rather than leaving S3 out.
    assert got["suggestions"] == {
        "submitted": 3, "cosigning": 1, "received": 2, "accepted": 1, "not_accepted": 1,
        "assigned": 1, "signed": 1, "replied": 0, "closed": 0,
    }  # fmt: skip
    assert {k: v for k, v in got["item_states"].items() if v} == {
        "cosigning": 1, "not_accepted": 1, "in_progress": 1, "closed": 1, "rehandling": 1,
    }  # fmt: skip
    assert got["commit_items"] == {
        "assigned": 2, "signed": 2, "replied": 2, "closed": 1, "same_day": 1,
    }  # fmt: skip
    assert got["evaluations"] == {
        "total": 2, "satisfied": 1, "basically_satisfied": 0, "unsatisfied": 1,
        "satisfaction_rate": 0.5, "satisfied_rate": 0.5, "no_evaluation": 0,
    }  # fmt: skip
    assert got["overdue"] == {"now": 1, "missed": 1}
    # C1 sign+reply met; C2 sign missed, co-opinion met, reply met, re-reply overdue;
    # S1 sign met, reply pending: 5 met of 7 judged.
    assert got["deadlines"] == {
        "met": 5, "missed": 1, "overdue": 1, "pending": 1, "superseded": 0,
        "on_time_rate": 0.7143,
    }  # fmt: skip
    u1, u2 = world.units
    assert got["units"] == [
        {
            "unit": {"id": u1, "name": "交通局"},
            "assigned": 2,
            "signed": 2,
            "median_sign_s": 4500.0,  # C1 in 30 min, S1 in 2 h
            "replied": 1,
            "median_reply_s": 19800.0,  # C1: 09:30 → 15:00
            "deadlines": {"met": 4, "missed": 0, "overdue": 0, "pending": 1},
            "on_time_rate": 1.0,
        },
        {
            "unit": {"id": u2, "name": "法院"},
            "assigned": 1,
            "signed": 1,
            "median_sign_s": 172800.0,  # Monday 10:00 → Wednesday 10:00
            "replied": 1,
            "median_reply_s": 86400.0,  # Wednesday 10:00 → Thursday 10:00
            "deadlines": {"met": 1, "missed": 1, "overdue": 1, "pending": 0},
            "on_time_rate": 0.3333,
        },
    ]
    assert got["notices"] == {
        "count": 2, "addressees": 8, "delivered": 4, "read": 2, "missing": 4, "unread": 2,
        "delivery_rate": 0.5, "read_rate": 0.25, "median_time_to_read_s": 120.0,
    }  # fmt: skip
    # A and B ended; C has not begun: left out, and counted as such.
    assert got["attendance"] == {
        "sittings": 2, "ended": 2, "open": 0, "not_started": 1, "final": True,
        "expected": 6, "checked_in": 3, "on_leave": 1, "absent": 2, "not_checked_in": 0,
        "rate": 0.5,
    }  # fmt: skip
    assert got["opinions"] == {
        "total": 2, "submitted": 0, "noted": 0, "merged": 0, "committed": 2,
    }  # fmt: skip
    assert got["as_of"] == "2030-03-13T01:00:00.000000Z"  # 09:00 in Beijing


async def test_attendance_of_an_open_sitting_counts_so_far(hub: RunningHub, world: World) -> None:
    """An open sitting counts "so far": who has not checked in yet is not absent, and the
    figures say they are not final; a sitting not begun is left out and counted as such.
    Once the secretariat closes the open sitting, the figures are final."""
    clock, node, engine = hub.services.clock, hub.services.node, hub.services.engine
    sec = await load_member(engine, world.secretariat)
    d0, d1, d2, d3 = [await load_member(engine, d) for d in world.deputies]
    m = world.meeting

    def local(text: str) -> datetime:
        return at(text).replace(tzinfo=clock.tz).astimezone(UTC)  # as the API stores it

    clock.set(at("2030-03-04 08:00"))
    a = await create_sitting(node, sec, m, "plenary", "A", clock.now(), local("2030-03-04 08:30"))
    b = await create_sitting(node, sec, m, "plenary", "B", local("2030-03-04 08:45"))
    await create_sitting(node, sec, m, "plenary", "C", local("2030-03-05 09:00"))
    await check_in(node, d0, a["id"])
    await check_in(node, d1, a["id"])
    await decide_leave(node, sec, (await request_leave(node, d2, a["id"], "出差"))["id"], True)
    clock.set(at("2030-03-04 08:50"))
    await check_in(node, d0, b["id"])
    await request_leave(node, d1, b["id"], "看病")  # pending: not checked in yet
    await decide_leave(node, sec, (await request_leave(node, d2, b["id"], "出差"))["id"], True)
    clock.set(at("2030-03-04 09:00"))
    async with Api(hub, world) as api:
        so_far = await api.get(world.supervisor, "/api/statistics", meeting=m)
        await api.post(world.secretariat, f"/api/sittings/{b['id']}/close")
        final = await api.get(world.supervisor, "/api/statistics", meeting=m)
    assert so_far["attendance"] == {
        "sittings": 2, "ended": 1, "open": 1, "not_started": 1, "final": False,
        "expected": 8, "checked_in": 3, "on_leave": 2, "absent": 1, "not_checked_in": 2,
        "rate": 0.375,
    }  # fmt: skip
    assert final["attendance"] == {
        "sittings": 2, "ended": 2, "open": 0, "not_started": 1, "final": True,
        "expected": 8, "checked_in": 3, "on_leave": 2, "absent": 3, "not_checked_in": 0,
        "rate": 0.375,
    }  # fmt: skip
    del d3


async def test_statistics_of_a_period(hub: RunningHub, world: World) -> None:
    """A period counts only the items created in it: Tuesday alone has none of them."""
    async with Api(hub, world) as api:
        await items_scenario(hub, world, api)
        monday = await api.get(
            world.admin, "/api/statistics", **{"from": "2030-03-04", "to": "2030-03-04"}
        )
        tuesday = await api.get(
            world.admin, "/api/statistics", **{"from": "2030-03-05", "to": "2030-03-05"}
        )
        refused = await api.call(world.deputies[0], "GET", "/api/statistics", status=403)
    assert monday["commit_items"]["assigned"] == 2 and monday["suggestions"]["received"] == 2
    assert tuesday["commit_items"]["assigned"] == 0 and tuesday["suggestions"]["received"] == 0
    assert refused["code"] == "forbidden"


async def test_timeline_of_an_item(hub: RunningHub, world: World) -> None:
    """Each step with who and when, the stage times and each deadline's outcome."""
    async with Api(hub, world) as api:
        ids = await items_scenario(hub, world, api)
        t = await api.get(world.supervisor, f"/api/items/{ids['c2']}/timeline")
        s1 = await api.get(world.unit_users[0], f"/api/items/{ids['s1']}/timeline")
        # Who may read: the item's deputies and units; not others.
        await api.get(world.deputies[1], f"/api/items/{ids['c2']}/timeline")
        await api.get(world.unit_users[0], f"/api/items/{ids['c2']}/timeline")  # co-unit
        await api.call(world.unit_users[1], "GET", f"/api/items/{ids['c1']}/timeline", status=403)
        await api.call(world.deputies[3], "GET", f"/api/items/{ids['c1']}/timeline", status=403)
    assert [(s["action"], s["to"]) for s in t["steps"]] == [
        ("hand_over", "assigned"),
        ("co_opinion", "assigned"),
        ("sign", "in_progress"),
        ("reply", "replied"),
        ("evaluate", "rehandling"),
    ]
    assert t["steps"][2]["actor"]["unit_name"] == "法院"
    assert t["steps"][2]["actor"]["name"] == "法院承办员"
    assert t["steps"][2]["at"] == "2030-03-06T02:00:00.000000Z"  # 10:00 in Beijing
    assert t["steps"][2]["since_previous_s"] == 47 * 3600  # Monday 11:00 → Wednesday 10:00
    assert t["stages"] == {
        "review_s": None, "sign_s": 172800.0, "reply_s": 86400.0, "rereply_s": [],
        "close_s": None, "handling_s": None,
    }  # fmt: skip
    assert [(d["deadline"], d["unit"]["name"], d["status"]) for d in t["deadlines"]] == [
        ("sign", "法院", "missed"),
        ("reply", "法院", "met"),
        ("co_opinion", "交通局", "met"),
        ("rereply", "法院", "overdue"),
    ]
    # The sign deadline: one working day after Monday, i.e. the end of Tuesday in Beijing.
    assert t["deadlines"][0]["due"] == "2030-03-05T15:59:59.999999Z"
    assert s1["stages"]["review_s"] == 86400.0 and s1["stages"]["sign_s"] == 7200.0
    assert [d["status"] for d in s1["deadlines"]] == ["met", "pending"]


async def test_satisfaction_is_each_deputys_last_rating(hub: RunningHub, world: World) -> None:
    """An item rated unsatisfied, re-handled and then rated satisfied counts once, as
    satisfied: the deputy's last rating (docs/workflows.md), not every round's."""
    async with Api(hub, world) as api:
        ids = await items_scenario(hub, world, api)
        c2 = ids["c2"]
        uu2 = world.unit_users[1]
        hub.services.clock.set(at("2030-03-13 10:00"))
        await api.post(uu2, f"/api/items/{c2}/reply", {"grade": "A", "text": "已落实"})
        hub.services.clock.set(at("2030-03-13 11:00"))
        await api.post(world.deputies[1], f"/api/items/{c2}/evaluate", {"rating": "satisfied"})
        got = await api.get(world.supervisor, "/api/statistics", meeting=world.meeting)
    assert got["evaluations"] == {
        "total": 2, "satisfied": 2, "basically_satisfied": 0, "unsatisfied": 0,
        "satisfaction_rate": 1.0, "satisfied_rate": 1.0, "no_evaluation": 0,
    }  # fmt: skip
