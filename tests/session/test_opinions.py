"""Deliberation opinions end to end: submitted to the desk, noted, merged, committed."""

from __future__ import annotations

from hub.session.items import item_deputies
from tests.utils.factories import World
from tests.utils.items import Api, flow, inbox, rows, snapshot
from tests.utils.servers import RunningHub


async def test_opinion_reaches_the_desk_live(hub: RunningHub, world: World) -> None:
    """A participating deputy's opinion arrives on desk:<meeting> and their own inbox at
    once, with its agenda item and attachment reference."""
    d0 = world.deputies[0]
    desk = await inbox(hub, world, world.secretariat, f"desk:{world.meeting}")
    mine = await inbox(hub, world, d0, f"deputy:{d0}")
    async with Api(hub, world) as api:
        op = await api.opinion(d0, "建议延长地铁末班车", agenda_item_id=3, attachment="doc:17")
    assert op["status"] == "submitted" and op["deputy_name"] == "代表0"
    for c, ch in ((desk, f"desk:{world.meeting}"), (mine, f"deputy:{d0}")):
        (m,) = await flow(c, 1, ch)
        assert m["kind"] == "opinion.submitted"
        assert m["sender"]["id"] == d0
        assert m["body"]["opinion"] == op
        assert op["agenda_item_id"] == 3 and op["attachment"] == "doc:17"


async def test_only_participating_deputies_submit(hub: RunningHub, world: World) -> None:
    """An outsider deputy, a unit or the secretariat may not submit (forbidden); an unknown
    meeting is not_found; a blank text is bad_request; nothing is stored."""
    async with Api(hub, world) as api:
        before = await snapshot(hub)
        body = {"meeting_id": world.meeting, "text": "x"}
        for user in (world.outsider, world.unit_users[0], world.secretariat):
            await api.refused(user, "/api/opinions", body, "forbidden")
        await api.refused(
            world.deputies[0], "/api/opinions", {"meeting_id": 9999, "text": "x"}, "not_found"
        )
        for bad in ({"meeting_id": world.meeting, "text": "  "}, {"text": "x"}):
            await api.refused(world.deputies[0], "/api/opinions", bad, "bad_request")
        assert await snapshot(hub) == before


async def test_note_merge_and_commit(hub: RunningHub, world: World) -> None:
    """The secretariat notes one opinion and merges another into a third; committing the
    third makes the deputies of both the item's deputies."""
    d0, d1, d2 = world.deputies[:3]
    sec = world.secretariat
    box = await inbox(hub, world, d1, f"deputy:{d1}")
    async with Api(hub, world) as api:
        a = await api.opinion(d0, "意见A")
        b = await api.opinion(d1, "意见B")
        c = await api.opinion(d2, "意见C")
        r = await api.post(sec, f"/api/opinions/{a['id']}/note")
        assert r["status"] == "noted"
        err = await api.refused(sec, f"/api/opinions/{a['id']}/note", {}, "conflict")
        assert err["allowed"] == ["merge", "commit"]
        r = await api.post(sec, f"/api/opinions/{b['id']}/merge", {"into": c["id"]})
        assert r["status"] == "merged" and r["merged_into"] == c["id"]
        before = await snapshot(hub)
        await api.refused(sec, f"/api/opinions/{a['id']}/merge", {"into": b["id"]}, "conflict")
        await api.refused(sec, f"/api/opinions/{a['id']}/merge", {"into": a["id"]}, "bad_request")
        await api.refused(d0, f"/api/opinions/{c['id']}/note", {}, "forbidden")
        await api.refused(sec, "/api/opinions/99999/note", {}, "not_found")
        await api.refused(
            sec,
            "/api/items",
            {"opinion_ids": [b["id"]], "title": "t", "lead_unit_id": world.units[0]},
            "conflict",
        )
        assert await snapshot(hub) == before
        item = await api.post(
            sec,
            "/api/items",
            {"opinion_ids": [c["id"]], "title": "合并办理", "lead_unit_id": world.units[0]},
            status=201,
        )
        assert sorted(d["id"] for d in item["deputies"]) == sorted([d1, d2])
        for o in (b, c):
            got = await api.get(sec, f"/api/opinions/{o['id']}")
            assert got["status"] == "committed" and got["item_id"] == item["id"]
        full = await api.get(d1, f"/api/items/{item['id']}")
        assert full["text"] == "意见C\n\n意见B"
        await api.refused(sec, f"/api/opinions/{c['id']}/note", {}, "conflict")
    assert [m["kind"] for m in await flow(box, 3, f"deputy:{d1}")] == [
        "opinion.submitted",
        "opinion.merged",
        "item.handed_over",
    ]
    links = await rows(hub, item_deputies, item_deputies.c.item_id == item["id"])
    assert {(x.deputy_id, x.role, x.status) for x in links} == {
        (d1, "opinion", "confirmed"),
        (d2, "opinion", "confirmed"),
    }


async def test_opinion_lists(hub: RunningHub, world: World) -> None:
    """A deputy lists only their opinions; the desk filters by status, agenda item and
    deputy; units see none."""
    d0, d1 = world.deputies[:2]
    sec = world.secretariat
    async with Api(hub, world) as api:
        a = await api.opinion(d0, "一", agenda_item_id=1)
        b = await api.opinion(d1, "二", agenda_item_id=2)
        await api.post(sec, f"/api/opinions/{b['id']}/note")

        def ids(r: dict[str, list[dict[str, int]]]) -> list[int]:
            return [o["id"] for o in r["opinions"]]

        assert ids(await api.get(d0, "/api/opinions")) == [a["id"]]
        assert ids(await api.get(d0, "/api/opinions", deputy_id=d1)) == []
        assert ids(await api.get(sec, "/api/opinions", meeting_id=world.meeting)) == [
            a["id"],
            b["id"],
        ]
        assert ids(await api.get(sec, "/api/opinions", status="noted")) == [b["id"]]
        assert ids(await api.get(world.supervisor, "/api/opinions", agenda_item_id=1)) == [a["id"]]
        assert (await api.get(sec, "/api/opinions", limit=1))["total"] == 2
        await api.call(world.unit_users[0], "GET", "/api/opinions", status=403)
        await api.call(d1, "GET", f"/api/opinions/{a['id']}", status=403)
        await api.call(sec, "GET", "/api/opinions", params={"status": "lost"}, status=400)


async def test_opinion_search_pages_newest_first(hub: RunningHub, world: World) -> None:
    """The desk pages newest first with the total the filters match, and finds opinions by
    words in the text or the deputy's name, by delegation and by several statuses."""
    d0, d1, d2 = world.deputies[:3]
    sec = world.secretariat
    async with Api(hub, world) as api:
        a = await api.opinion(d0, "建议增开夜间公交 100%_班次", agenda_item_id=1)
        b = await api.opinion(d1, "建议扩建渔港避风锚地", agenda_item_id=2)
        c = await api.opinion(d2, "建议增开海岛客运航班")
        await api.post(sec, f"/api/opinions/{b['id']}/note")

        async def ids(**params: object) -> tuple[list[int], int]:
            r = await api.get(sec, "/api/opinions", meeting_id=world.meeting, **params)
            return [o["id"] for o in r["opinions"]], r["total"]

        assert await ids(order="newest", limit=2) == ([c["id"], b["id"]], 3)
        assert await ids(order="newest", limit=2, offset=2) == ([a["id"]], 3)
        assert await ids(order="newest", limit=2, before_id=b["id"]) == ([a["id"]], 3)
        assert await ids(q="增开", order="newest") == ([c["id"], a["id"]], 2)
        assert await ids(q="增开 公交") == ([a["id"]], 1)
        assert await ids(q="100%_") == ([a["id"]], 1)  # LIKE wildcards are plain text
        assert await ids(q="%") == ([a["id"]], 1)
        assert await ids(q=a["deputy_name"]) == ([a["id"]], 1)
        assert await ids(status="submitted,noted", limit=1) == ([a["id"]], 3)
        assert await ids(status="noted") == ([b["id"]], 1)
        # make_world puts deputies 0 and 2 in the first delegation, deputy 1 in the second.
        assert await ids(delegation_id=world.delegations[0]) == ([a["id"], c["id"]], 2)
        assert await ids(delegation_id=world.delegations[1], q="增开") == ([], 0)
        await api.call(sec, "GET", "/api/opinions", params={"order": "up"}, status=400)
        await api.call(sec, "GET", "/api/opinions", params={"status": "noted,lost"}, status=400)
        await api.call(sec, "GET", "/api/opinions", params={"q": "字" * 101}, status=400)
        await api.call(sec, "GET", "/api/opinions", params={"q": "a\x00"}, status=400)
