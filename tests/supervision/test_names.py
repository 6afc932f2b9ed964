"""The archive and the item timelines name what they show: each message's channel by name
(resolved for the whole page at once, not per row), each item step's actor by name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from tests.supervision.helpers import http, publish
from tests.supervision.scenario import items_scenario
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub


async def _page(hub: RunningHub, world: World, **params: object) -> list[dict[str, Any]]:
    async with http(hub, world, world.supervisor) as c:
        r = await c.get("/api/archive/messages", params={"limit": 200, "receipts": "0", **params})
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()["messages"]
        return out


async def test_each_channel_is_named(hub: RunningHub, world: World) -> None:
    """meeting and desk by the meeting's title, a delegation, a deputy's inbox and a unit
    by their names; the sender by name and role."""
    m, (g1, _), (u1, _), d0 = world.meeting, world.delegations, world.units, world.deputies[0]
    for ch in (f"meeting:{m}", f"desk:{m}", f"delegation:{g1}", f"deputy:{d0}", f"unit:{u1}"):
        await publish(hub, world, ch, {"title": "请查收"})
    got = {x["channel"]: (x["place"], x["sender"]) for x in await _page(hub, world)}
    assert got == {
        f"meeting:{m}": ({"kind": "meeting", "id": m, "name": "第五次会议"}, sec := {
            "id": world.secretariat, "name": "秘书处", "role": "secretariat"}),
        f"desk:{m}": ({"kind": "desk", "id": m, "name": "第五次会议"}, sec),
        f"delegation:{g1}": ({"kind": "delegation", "id": g1, "name": "一团"}, sec),
        f"deputy:{d0}": ({"kind": "deputy", "id": d0, "name": "代表0"}, sec),
        f"unit:{u1}": ({"kind": "unit", "id": u1, "name": "交通局"}, sec),
    }  # fmt: skip


@contextmanager
def statements(hub: RunningHub) -> Iterator[list[str]]:
    """The SQL statements the hub's engine runs meanwhile."""
    seen: list[str] = []
    engine = hub.services.engine.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


async def test_names_take_one_query_per_table_whatever_the_page(
    hub: RunningHub, world: World
) -> None:
    """A page of two channels and a page of every deputy's inbox, every delegation, unit
    and meeting run as many statements: the names are not looked up row by row."""
    w = world
    await publish(hub, w, f"meeting:{w.meeting}", {"text": "a"})
    await publish(hub, w, f"deputy:{w.deputies[0]}", {"text": "b"})
    with statements(hub) as few:
        assert len(await _page(hub, w)) == 2
    for d in [*w.deputies, w.outsider]:
        await publish(hub, w, f"deputy:{d}", {"text": "c"})
    for ch in [*(f"delegation:{g}" for g in w.delegations), *(f"unit:{u}" for u in w.units)]:
        await publish(hub, w, ch, {"text": "d"})
    await publish(hub, w, f"desk:{w.other_meeting}", {"text": "e"})
    with statements(hub) as many:
        page = await _page(hub, w)
    assert len(page) == 2 + 5 + 4 + 1
    assert all(x["place"]["name"] for x in page), page
    # meetings and users for the small page; delegations and units besides for the large
    assert len(many) == len(few) + 2, (few, many)


async def test_item_steps_name_who_acted(hub: RunningHub, world: World) -> None:
    """Every step of an item's events names its actor (the deputy, the secretariat's clerk,
    the unit's clerk), not only the role; the system's own steps have no name."""
    async with Api(hub, world) as api:
        ids = await items_scenario(hub, world, api)
        events = (await api.get(world.supervisor, f"/api/items/{ids['c1']}/events"))["events"]
    names = {"secretariat": "秘书处", "unit": "交通局承办员", "deputy": "代表0"}
    assert {e["actor"]["role"] for e in events} >= {"secretariat", "unit"}, events
    for e in events:
        a = e["actor"]
        if a["role"] == "system":
            assert "name" not in a
        elif a["role"] == "unit":
            assert a["name"].endswith("承办员"), a
        else:
            assert a["name"] == names[a["role"]], a


async def test_people_to_pick_a_sender_from(hub: RunningHub, world: World) -> None:
    """Every account by name, role and unit or delegation — nothing else (no phone) — for
    supervisors and admins; a deputy or a unit is `forbidden`."""
    async with http(hub, world, world.supervisor) as c:
        r = await c.get("/api/archive/people")
    assert r.status_code == 200, r.text
    got = {p["id"]: p for p in r.json()["people"]}
    assert got[world.unit_users[0]] == {
        "id": world.unit_users[0], "name": "交通局承办员", "role": "unit", "unit": "交通局",
        "delegation": None,
    }  # fmt: skip
    assert got[world.deputies[1]] == {
        "id": world.deputies[1], "name": "代表1", "role": "deputy", "unit": None,
        "delegation": "二团",
    }  # fmt: skip
    assert got[world.secretariat]["name"] == "秘书处" and len(got) == 4 + 1 + 3 + 2
    async with http(hub, world, world.admin) as c:
        assert (await c.get("/api/archive/people")).status_code == 200
    for who in (world.deputies[0], world.unit_users[0]):
        async with http(hub, world, who) as c:
            r = await c.get("/api/archive/people")
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
