"""A unit's inbox: its items by the nearest deadline (overdue on top), and what each of its
people has seen, recorded on the server; both databases, a real hub over HTTP."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.config import Settings
from hub.session.items import item_seen
from hub.session.members import create_user
from hub.store.schema import messages
from tests.utils.factories import World, tokens
from tests.utils.items import Api, rows
from tests.utils.servers import RunningHub, settings_for


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """No deadline scans: no alert message comes between what a test compares."""
    return settings_for(db_url, tmp_path, deadline_interval=0)


def ids(r: dict[str, Any]) -> list[int]:
    return [x["id"] for x in r["items"]]


async def test_unit_items_ordered_by_the_nearest_deadline(hub: RunningHub, world: World) -> None:
    """`order=deadline`: the overdue first (most overdue first), then the nearest `due`,
    then the items waiting on no deadline (replied, returned), newest first where the
    deadline is equal or absent; pages of it follow one another; other units' items are
    not listed."""
    s = hub.services
    u0, u1 = world.units
    uu0 = world.unit_users[0]
    d0 = world.deputies[0]
    s.clock.set(datetime(2026, 3, 2, 9, 0))  # Monday
    async with Api(hub, world) as api:

        async def item(lead: int, co: list[int] | None = None, **extra: Any) -> int:
            return int((await api.commit_item([d0], lead=lead, co=co, **extra))["id"])

        a = await item(u0)  # assigned: sign by the end of Tuesday 3 March
        b = await item(u0, deadline="2026-03-20")
        await api.post(uu0, f"/api/items/{b}/sign")  # in progress, reply by 20 March
        c = await item(u0)
        await api.post(uu0, f"/api/items/{c}/sign")
        await api.post(uu0, f"/api/items/{c}/reply", {"grade": "A", "text": "已解决"})
        d = await item(u0)
        await api.post(uu0, f"/api/items/{d}/return", {"reason": "不属于本单位"})
        e = await item(u1, co=[u0])  # u0 a co-unit; signing by the end of 3 March too
        f = await item(u1)  # not u0's
        g = await item(u0, deadline="2026-03-05")
        await api.post(uu0, f"/api/items/{g}/sign")  # reply by the end of 5 March
        h = await item(u0)
        await api.post(uu0, f"/api/items/{h}/sign")
        await api.post(uu0, f"/api/items/{h}/reply", {"grade": "B", "text": "正在解决"})
        await api.post(d0, f"/api/items/{h}/evaluate", {"rating": "unsatisfied", "reason": "慢"})
        # rehandling: the second reply by the end of 5 March (3 working days)

        s.clock.set(datetime(2026, 3, 4, 12, 0))  # a and e are overdue now
        r = await api.get(uu0, "/api/items", order="deadline")
        assert ids(r) == [e, a, h, g, b, d, c], r
        assert r["total"] == 7
        assert [x["overdue"] for x in r["items"]] == [True, True] + [False] * 5
        assert [x["state"] for x in r["items"]] == [
            "assigned",
            "assigned",
            "rehandling",
            "in_progress",
            "in_progress",
            "returned",
            "replied",
        ]
        dues = [x["due"] for x in r["items"]]
        assert dues[5:] == [None, None] and dues[:5] == sorted(dues[:5])
        paged: list[int] = []
        for offset in (0, 3, 6):
            p = await api.get(uu0, "/api/items", order="deadline", limit=3, offset=offset)
            assert p["total"] == 7
            paged += ids(p)
        assert paged == ids(r)
        # The default order is unchanged; the secretariat sees every unit's items.
        assert ids(await api.get(uu0, "/api/items")) == sorted(ids(r))
        everything = ids(await api.get(world.secretariat, "/api/items", order="deadline"))
        assert everything == [f, e, a, h, g, b, d, c]
        err = await api.call(uu0, "GET", "/api/items", params={"order": "soon"}, status=400)
        assert err["code"] == "bad_request" and err["field"] == "order"


async def _second_unit_person(hub: RunningHub, world: World) -> int:
    """Another account of the first unit (a second clerk)."""
    async with hub.services.engine.begin() as conn:
        uid = await create_user(conn, "unit1b", "交通局承办员二", "unit", unit_id=world.units[0])
    world.token[uid] = tokens.issue(uid, 0)
    return uid


async def test_seen_is_recorded_per_person_on_the_server(hub: RunningHub, world: World) -> None:
    """A unit's clerk marks items seen: their lists and the item say so from then on (any
    device, any login), the unit's other clerk still has them unseen; it is a row of
    `item_seen`, not a message; acting on an item is seeing it; a new hand-over of the item
    is unseen again."""
    u0, u1 = world.units
    uu0 = world.unit_users[0]
    other = await _second_unit_person(hub, world)
    async with Api(hub, world) as api:
        a = (await api.commit_item(lead=u0))["id"]
        e = (await api.commit_item(lead=u1, co=[u0]))["id"]

        def seen(r: dict[str, Any]) -> dict[int, bool]:
            return {x["id"]: x["seen"] for x in r["items"]}

        assert seen(await api.get(uu0, "/api/items", order="deadline")) == {a: False, e: False}
        assert (await api.get(uu0, f"/api/items/{a}"))["seen"] is False
        log_before = await rows(hub, messages)
        r = await api.post(uu0, "/api/items/seen", {"item_ids": [a, e]})
        assert r["item_ids"] == [a, e]
        assert seen(await api.get(uu0, "/api/items")) == {a: True, e: True}
        assert (await api.get(uu0, f"/api/items/{a}"))["seen"] is True
        assert seen(await api.get(other, "/api/items")) == {a: False, e: False}
        stored = await rows(hub, item_seen)
        assert sorted((x.user_id, x.item_id) for x in stored) == [(uu0, a), (uu0, e)]
        assert await rows(hub, messages) == log_before  # not in the log
        # Marking again is harmless.
        await api.post(uu0, "/api/items/seen", {"item_ids": [a]})
        assert len(await rows(hub, item_seen)) == 2
        # Only units' accounts have `seen`.
        for user in (world.secretariat, world.deputies[0]):
            listed = (await api.get(user, "/api/items"))["items"]
            assert listed and all("seen" not in x for x in listed)

        # The other clerk signs e's co-unit opinion: acting is seeing.
        r = await api.post(other, f"/api/items/{e}/co_opinion", {"text": "同意"})
        assert r["seen"] is True
        assert seen(await api.get(other, "/api/items")) == {a: False, e: True}

        # Returned and handed over again: news to the unit again.
        await api.post(uu0, f"/api/items/{a}/return", {"reason": "请重新研究"})
        assert seen(await api.get(uu0, "/api/items"))[a] is True
        await api.post(world.secretariat, f"/api/items/{a}/reassign", {"lead_unit_id": u0})
        assert seen(await api.get(uu0, "/api/items")) == {a: False, e: True}


async def test_seen_only_for_items_of_ones_own_unit(hub: RunningHub, world: World) -> None:
    """Another unit's real item is `forbidden` (as reading it is), an unknown item
    `not_found`, a deputy or the secretariat `forbidden`, a malformed body `bad_request`;
    a refused request records nothing, even for the ids of the caller's own unit in it."""
    u0, u1 = world.units
    uu0, uu1 = world.unit_users
    async with Api(hub, world) as api:
        mine = (await api.commit_item(lead=u0))["id"]
        theirs = (await api.commit_item(lead=u1))["id"]
        await api.call(uu0, "GET", f"/api/items/{theirs}", status=403)  # as reading it
        await api.refused(uu0, "/api/items/seen", {"item_ids": [theirs]}, "forbidden")
        await api.refused(uu1, "/api/items/seen", {"item_ids": [mine]}, "forbidden")
        await api.refused(uu0, "/api/items/seen", {"item_ids": [mine, theirs]}, "forbidden")
        await api.refused(uu0, "/api/items/seen", {"item_ids": [mine, 424242]}, "not_found")
        # The item's own deputy and the secretariat read it, but have no unit.
        await api.refused(world.deputies[0], "/api/items/seen", {"item_ids": [mine]}, "forbidden")
        await api.refused(world.secretariat, "/api/items/seen", {"item_ids": [mine]}, "forbidden")
        for bad in ({}, {"item_ids": []}, {"item_ids": [mine, mine]}, {"item_ids": ["1"]}):
            await api.refused(uu0, "/api/items/seen", bad, "bad_request")
        await api.refused(uu0, "/api/items/seen", {"item_ids": list(range(1, 502))}, "bad_request")
        assert await rows(hub, item_seen) == []
        assert (await api.get(uu0, f"/api/items/{mine}"))["seen"] is False
        await api.post(uu0, "/api/items/seen", {"item_ids": [mine]})
        assert [(x.user_id, x.item_id) for x in await rows(hub, item_seen)] == [(uu0, mine)]
