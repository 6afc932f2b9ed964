"""Performance files: one view of a deputy's record, every read by others recorded and
counted (the deputy's own not), own file only, exported as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.session.attendance import check_in, decide_leave, request_leave
from hub.session.meetings import create_sitting
from hub.session.members import load_member
from hub.supervision.registrations import performance_views
from tests.supervision.helpers import http
from tests.supervision.scenario import items_scenario
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub


async def test_file_gathers_the_record_and_counts_views(hub: RunningHub, world: World) -> None:
    """Registrations, points, attendance and views of one deputy, in one answer."""
    d0 = world.deputies[0]
    node, engine = hub.services.node, hub.services.engine
    sec = await load_member(engine, world.secretariat)
    dep = await load_member(engine, d0)
    now = datetime.now(UTC)
    year = now.astimezone().year
    past = await create_sitting(
        node,
        sec,
        world.meeting,
        "plenary",
        "开幕大会",
        now - timedelta(hours=3),
        now - timedelta(hours=1),
    )
    missed = await create_sitting(
        node,
        sec,
        world.meeting,
        "plenary",
        "第二次全体会议",
        now - timedelta(hours=1),
        now - timedelta(minutes=1),
    )
    future = await create_sitting(
        node, sec, world.meeting, "plenary", "闭幕大会", now + timedelta(hours=1)
    )
    upcoming_leave = await create_sitting(
        node, sec, world.meeting, "plenary", "第三次全体会议", now + timedelta(hours=2)
    )
    await check_in(node, dep, future["id"])
    leave = await request_leave(node, dep, upcoming_leave["id"], "出差")
    await decide_leave(node, sec, leave["id"], True)
    async with http(hub, world, world.admin) as c:
        rules = {
            "valid_from": f"{year}-01-01",
            "rules": [
                {"event": "attendance", "points": 1},
                {"event": "absence", "points": -2},
                {"event": "registration", "points": 3},
            ],
        }
        assert (await c.post("/api/points/rules", json=rules)).status_code == 201
    async with http(hub, world, d0) as c:
        body = {
            "kind": "research",
            "activity_date": now.date().isoformat(),
            "title": "调研",
            "text": "做了",
        }
        reg = (await c.post("/api/registrations", json=body)).json()
    async with http(hub, world, world.supervisor) as c:
        await c.post(f"/api/registrations/{reg['id']}/confirm")
        first = (await c.get(f"/api/deputies/{d0}/file")).json()
        second = (await c.get(f"/api/deputies/{d0}/file")).json()
    assert first["deputy"]["name"] == "代表0" and first["deputy"]["delegation"]["name"] == "一团"
    assert [r["id"] for r in first["registrations"]] == [reg["id"]]
    assert first["registrations"][0]["state"] == "confirmed"
    assert first["attendance"]["counts"] == {
        "checked_in": 1, "on_leave": 1, "leave_pending": 0, "absent": 2, "not_checked_in": 0,
        "upcoming": 0,
    }  # fmt: skip
    by_sitting = {a["sitting"]["id"]: a["status"] for a in first["attendance"]["sittings"]}
    assert by_sitting[past["id"]] == "absent" and by_sitting[missed["id"]] == "absent"
    # 1 check-in + 3 for the registration - 2 for each of the two missed sittings.
    assert first["points"]["total"] == 1 + 3 - 2 - 2
    assert first["views"]["file"] == 1 and second["views"]["file"] == 2
    assert second["views"]["file_viewers"] == 1
    assert second["views"]["recent"][0]["viewer"] == {
        "id": world.supervisor, "name": "工委", "role": "supervisor",
    }  # fmt: skip
    async with http(hub, world, d0) as c:
        own = (await c.get(f"/api/deputies/{d0}/file")).json()
    assert own["views"]["file"] == 2 and own["views"]["file_viewers"] == 1  # own: not counted


async def test_file_access(hub: RunningHub, world: World) -> None:
    """A deputy reads only their own file; a unit none; a refused read is not counted."""
    d0, d1 = world.deputies[:2]
    async with http(hub, world, d1) as c:
        assert (await c.get(f"/api/deputies/{d0}/file")).status_code == 403
    async with http(hub, world, world.unit_users[0]) as c:
        assert (await c.get(f"/api/deputies/{d0}/file")).status_code == 403
    async with http(hub, world, world.secretariat) as c:
        assert (await c.get(f"/api/deputies/{world.secretariat}/file")).status_code == 404
        huge = "9" * 25  # no row can have it: not found, not a database error
        for path in (f"/api/deputies/{huge}/file", f"/api/items/{huge}/timeline"):
            assert (await c.get(path)).status_code == 404, path
        got = (await c.get(f"/api/deputies/{d0}/file")).json()
    assert got["views"]["file"] == 1


async def test_file_lists_the_deputys_items_and_opinions(hub: RunningHub, world: World) -> None:
    """d0's suggestion (author), the one co-signed and the commit-to-do item of d0's opinion."""
    async with Api(hub, world) as api:
        ids = await items_scenario(hub, world, api)
        got = await api.get(world.supervisor, f"/api/deputies/{world.deputies[0]}/file")
    roles = [(i["kind"], i["role"], i["state"]) for i in got["items"]]
    assert roles == [
        ("commit", "opinion", "closed"),
        ("suggestion", "author", "cosigning"),
        ("suggestion", "cosigner", "not_accepted"),
    ]
    assert got["items"][0]["id"] == ids["c1"]
    assert [(o["status"], o["item_id"]) for o in got["opinions"]] == [("committed", ids["c1"])]


async def _register(hub: RunningHub, world: World, deputy: int, title: str) -> dict[str, Any]:
    async with http(hub, world, deputy) as c:
        body = {"kind": "research", "activity_date": "2026-01-05", "title": title, "text": "做了"}
        r = await c.post("/api/registrations", json=body)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out


async def test_own_views_are_neither_recorded_nor_counted(hub: RunningHub, world: World) -> None:
    """The deputy opening their own file and registration stores no view; a view stored
    before this rule (the deputy's own) is not counted; others' views are, each shown with
    who and when (and which registration)."""
    d0 = world.deputies[0]
    reg = await _register(hub, world, d0, "走访选民")
    async with http(hub, world, d0) as c:
        for _ in range(2):
            assert (await c.get(f"/api/deputies/{d0}/file")).status_code == 200
            assert (await c.get(f"/api/registrations/{reg['id']}")).json()["views"] == 0
    async with hub.services.engine.begin() as conn:
        v = performance_views.c
        stored = (await conn.execute(sa.select(sa.func.count()).where(v.viewer_id == d0))).scalar()
        assert stored == 0
        # an own view stored before the rule: kept (nothing is deleted), not counted
        await conn.execute(
            performance_views.insert().values(deputy_id=d0, viewer_id=d0, ts=datetime.now(UTC))
        )
    async with http(hub, world, world.secretariat) as c:
        assert (await c.get(f"/api/registrations/{reg['id']}")).json()["views"] == 1
    async with http(hub, world, world.supervisor) as c:
        got = (await c.get(f"/api/deputies/{d0}/file")).json()["views"]
    assert (got["file"], got["file_viewers"], got["registrations"]) == (1, 1, 1)
    assert [
        (x["viewer"]["name"], x["viewer"]["role"], x["registration_title"]) for x in got["recent"]
    ] == [("工委", "supervisor", None), ("秘书处", "secretariat", "走访选民")]
    assert all(x["ts"].endswith("Z") for x in got["recent"])
    async with http(hub, world, d0) as c:
        own = (await c.get(f"/api/deputies/{d0}/file")).json()["views"]
    assert (own["file"], own["registrations"]) == (1, 1)


async def test_file_exports_as_csv(hub: RunningHub, world: World) -> None:
    """The file as CSV with a BOM: its registrations, opinions and items and the views by
    others, each a row; the export is a view; another deputy's export is `forbidden`."""
    d0, d1 = world.deputies[:2]
    async with Api(hub, world) as api:
        await items_scenario(hub, world, api)
    await _register(hub, world, d0, "=HYPERLINK(1)")
    async with http(hub, world, world.supervisor) as c:
        await c.get(f"/api/deputies/{d0}/file")
        r = await c.get(f"/api/deputies/{d0}/file.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "date", "title", "text", "state", "detail"]
    sections = [x[0] for x in rows[1:]]
    assert {"registration", "opinion", "item", "view"} <= set(sections), sections
    reg = next(x for x in rows if x[0] == "registration")
    assert reg[2] == "'=HYPERLINK(1)" and reg[4] == "submitted"  # a formula is text
    assert [x[2] for x in rows if x[0] == "view"] == ["工委", "工委"]  # this export, the read
    async with http(hub, world, world.supervisor) as c:
        views = (await c.get(f"/api/deputies/{d0}/file")).json()["views"]
    assert views["file"] == 3  # the read, the export, this read
    async with http(hub, world, d1) as c:
        r = await c.get(f"/api/deputies/{d0}/file.csv")
    assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
