"""Closing a sitting (结束会议): the secretariat of its meeting ends it, in one transaction
with its `sitting.closed` message; from then on check-in and leave are refused with a
reason, its attendance is final (absent, not "not yet"), and statistics, the deputy's
file and duty points count it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hub.session.attendance import checkins, leave_requests
from hub.session.meetings import sittings
from hub.session.members import add_participants, create_user
from tests.utils.client import Client
from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub
from tests.utils.session import head, history, http, soon, wait_for


async def _sitting(hub: RunningHub, token: str, meeting: int, **times: str) -> dict[str, Any]:
    body = {"kind": "plenary", "title": "全体会议", "starts_at": soon(-1), **times}
    async with http(hub.url, token) as c:
        r = await c.post(f"/api/meetings/{meeting}/sittings", json=body)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out


async def _post(hub: RunningHub, token: str, path: str, body: Any = None) -> Any:
    async with http(hub.url, token) as c:
        return await c.post(path, json=body)


async def _get(hub: RunningHub, token: str, path: str) -> Any:
    async with http(hub.url, token) as c:
        r = await c.get(path)
        assert r.status_code == 200, r.text
        return r.json()


async def _count(hub: RunningHub, table: sa.Table) -> int:
    async with hub.services.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


def _refused(r: Any, status: int, code: str, reason: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    if reason is not None:
        assert body["reason"] == reason and body["allowed"] == [], body
    return body


async def test_closing_makes_attendance_final_and_counted(hub: RunningHub, world: World) -> None:
    """An open-ended sitting: one deputy checked in, one on approved leave, one with leave
    pending, one nothing. Closing it stores closed_at and who, tells the meeting live, and
    makes the board final (open false, the one without check-in absent); statistics, the
    deputy's file and duty points count it; check-in, leave and a second close are then
    refused with their reason and store nothing."""
    m = world.meeting
    a, b, c, d = world.deputies
    sec = world.tok(world.secretariat)
    s = await _sitting(hub, sec, m)
    sid = s["id"]
    assert s["closed_at"] is None and s["ends_at"] is None
    assert (await _post(hub, world.tok(a), f"/api/sittings/{sid}/checkin")).status_code == 201
    leave_b = (
        await _post(hub, world.tok(b), f"/api/sittings/{sid}/leave", {"reason": "出差"})
    ).json()
    assert (await _post(hub, sec, f"/api/leave/{leave_b['id']}/approve", {})).status_code == 200
    r = await _post(hub, world.tok(c), f"/api/sittings/{sid}/leave", {"reason": "看病"})
    assert r.status_code == 201, r.text

    before = await _get(hub, sec, f"/api/statistics?meeting={m}")
    # open: counted "so far", not final; who has not checked in is not absent yet
    assert before["attendance"] == {
        "sittings": 1,
        "ended": 0,
        "open": 1,
        "not_started": 0,
        "final": False,
        "expected": 4,
        "checked_in": 1,
        "on_leave": 1,
        "absent": 0,
        "not_checked_in": 2,
        "rate": 0.25,
    }
    board = await _get(hub, sec, f"/api/sittings/{sid}/attendance")
    assert board["open"] is True
    file_d = await _get(hub, world.tok(world.supervisor), f"/api/deputies/{d}/file")
    # begun and open: not checked in yet (未签到), neither absent nor upcoming
    assert [x["status"] for x in file_d["attendance"]["sittings"]] == ["not_checked_in"]

    dev = await Client.connect(hub.ws_url, world.tok(d))
    await dev.subscribe(f"meeting:{m}")
    r = await _post(hub, sec, f"/api/sittings/{sid}/close")
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["id"] == sid and closed["closed_by"] == world.secretariat
    assert closed["closed_at"] is not None and closed["ends_at"] is None  # the schedule stays
    live = await wait_for(dev, "sitting.closed", f"meeting:{m}")
    assert live["body"] == {"sitting": closed}
    assert live["sender"] == {"id": world.secretariat, "name": "秘书处", "role": "secretariat"}
    await dev.close()
    # the archive: who closed it, on the meeting's channel
    stored = [
        x for x in await history(hub.url, sec, f"meeting:{m}") if x["kind"] == "sitting.closed"
    ]
    assert [(x["sender"]["id"], x["body"]["sitting"]["id"]) for x in stored] == [
        (world.secretariat, sid)
    ]

    board = await _get(hub, sec, f"/api/sittings/{sid}/attendance")
    assert board["open"] is False and board["sitting"]["closed_at"] == closed["closed_at"]
    assert {x["id"]: x["status"] for x in board["deputies"]} == {
        a: "checked_in",
        b: "on_leave",
        c: "leave_pending",
        d: "absent",
    }
    after = await _get(hub, sec, f"/api/statistics?meeting={m}")
    assert after["attendance"] == {
        "sittings": 1,
        "ended": 1,
        "open": 0,
        "not_started": 0,
        "final": True,
        "expected": 4,
        "checked_in": 1,
        "on_leave": 1,
        "absent": 2,  # the leave still pending when it closed is an absence
        "not_checked_in": 0,
        "rate": 0.25,
    }
    file_d = await _get(hub, world.tok(world.supervisor), f"/api/deputies/{d}/file")
    assert [x["status"] for x in file_d["attendance"]["sittings"]] == ["absent"]
    rules = {
        "valid_from": "2020-01-01",
        "note": "缺席扣分",
        "rules": [{"event": "absence", "points": -1}],
    }
    assert (await _post(hub, world.tok(world.admin), "/api/points/rules", rules)).status_code == 201
    points = await _get(hub, world.tok(world.supervisor), f"/api/deputies/{d}/points")
    assert [e["key"] for e in points["entries"]] == [f"absence:{sid}"], points
    overview = await _get(hub, world.tok(d), f"/api/meetings/{m}")
    mine = next(x for x in overview["sittings"] if x["id"] == sid)
    assert mine["closed_at"] == closed["closed_at"] and mine["my_status"] == "absent"

    n_in, n_leave = await _count(hub, checkins), await _count(hub, leave_requests)
    desk = await head(hub.url, sec, f"desk:{m}")
    meeting_head = await head(hub.url, sec, f"meeting:{m}")
    _refused(
        await _post(hub, world.tok(d), f"/api/sittings/{sid}/checkin"),
        409,
        "conflict",
        "sitting_closed",
    )
    _refused(
        await _post(hub, world.tok(d), f"/api/sittings/{sid}/leave", {"reason": "补请假"}),
        409,
        "conflict",
        "sitting_closed",
    )
    _refused(await _post(hub, sec, f"/api/sittings/{sid}/close"), 409, "conflict", "sitting_closed")
    assert (await _count(hub, checkins), await _count(hub, leave_requests)) == (n_in, n_leave)
    assert await head(hub.url, sec, f"desk:{m}") == desk
    assert await head(hub.url, sec, f"meeting:{m}") == meeting_head


async def test_only_the_secretariat_of_the_sittings_meeting_closes_it(
    hub: RunningHub, world: World
) -> None:
    """A real sitting of the other meeting, made by that meeting's own secretariat: this
    meeting's secretariat, a deputy, a deputy of that meeting, the supervisor and the
    admin are refused with `forbidden` — the code the other sitting endpoints give — and
    nothing changes; its own secretariat closes it. An unknown sitting is not found."""
    other = world.other_meeting
    async with hub.services.engine.begin() as conn:
        sec2 = await create_user(conn, "sec2", "另一会议秘书处", "secretariat")
        await add_participants(conn, other, [sec2])
    tok2 = tokens.issue(sec2, 0)
    theirs = await _sitting(hub, tok2, other)
    sid = theirs["id"]
    h = await head(hub.url, tok2, f"meeting:{other}")
    for who in (
        world.secretariat,
        world.deputies[0],
        world.outsider,
        world.supervisor,
        world.admin,
    ):
        r = await _post(hub, world.tok(who), f"/api/sittings/{sid}/close")
        _refused(r, 403, "forbidden")
    # the code the sitting endpoints give a deputy not expected there
    _refused(
        await _post(hub, world.tok(world.deputies[0]), f"/api/sittings/{sid}/checkin"),
        403,
        "forbidden",
    )
    async with hub.services.engine.connect() as conn:
        row = (await conn.execute(sa.select(sittings).where(sittings.c.id == sid))).one()
    assert row.closed_at is None and row.closed_by is None
    assert await head(hub.url, tok2, f"meeting:{other}") == h

    r = await _post(hub, tok2, f"/api/sittings/{sid}/close")
    assert r.status_code == 200 and r.json()["closed_by"] == sec2, r.text
    _refused(await _post(hub, tok2, "/api/sittings/999999/close"), 404, "not_found")


async def test_a_sitting_is_closed_only_while_open(hub: RunningHub, world: World) -> None:
    """Not started yet: `sitting_not_started`. Past its scheduled end (it has ended by
    itself): `sitting_ended`, also for a check-in there. Neither is changed."""
    m = world.meeting
    sec = world.tok(world.secretariat)
    later = await _sitting(hub, sec, m, starts_at=soon(2), ends_at=soon(4))
    _refused(
        await _post(hub, sec, f"/api/sittings/{later['id']}/close"),
        409,
        "conflict",
        "sitting_not_started",
    )
    past = await _sitting(hub, sec, m, starts_at=soon(-3), ends_at=soon(-1))
    _refused(
        await _post(hub, sec, f"/api/sittings/{past['id']}/close"), 409, "conflict", "sitting_ended"
    )
    _refused(
        await _post(hub, world.tok(world.deputies[0]), f"/api/sittings/{past['id']}/checkin"),
        409,
        "conflict",
        "sitting_ended",
    )
    overview = await _get(hub, sec, f"/api/meetings/{m}")
    assert all(x["closed_at"] is None for x in overview["sittings"])
