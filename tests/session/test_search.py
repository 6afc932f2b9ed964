"""Data query: a deputy finds their own notices, documents, opinions, suggestions and
items by words and by state, newest first in bounded pages; a unit its unit's items; never
another's (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.session.documents import documents
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub
from tests.utils.session import send_notice


async def test_a_deputy_searches_their_own_by_words_and_state(
    hub: RunningHub, world: World
) -> None:
    d0, d1 = world.deputies[:2]
    await send_notice(hub, world, title="海岛交通座谈会通知", text="请准时参加")
    async with hub.services.engine.begin() as conn:
        await conn.execute(
            documents.insert().values(
                meeting_id=world.meeting,
                title="海岛交通专题报告",
                filename="report.pdf",
                content_type="application/pdf",
                size=1,
                sha256="0" * 64,
                uploaded_by=world.secretariat,
                created_at=datetime.now(UTC),
            )
        )
    async with Api(hub, world) as api:
        await api.opinion(d0, "建议改善海岛交通条件")
        await api.opinion(d1, "海岛交通也是我的意见")  # another deputy's
        item = await api.commit_item([d0], lead=world.units[0])
        await api.post(
            d0,
            "/api/suggestions",
            {"meeting_id": world.meeting, "title": "关于海岛交通的建议", "text": "增开航班"},
            201,
        )

        async def found(user: int, **params: object) -> list[tuple[str, str | None]]:
            r = await api.get(user, "/api/search", **params)
            assert r["total"] == sum(r["by_type"].values())
            return [(x["type"], x["state"]) for x in r["results"]]

        # every kind of theirs, newest first; the other deputy's opinion is not among them
        got = await found(d0, q="海岛 交通")
        assert got == [
            ("suggestion", "submitted"),
            ("opinion", "submitted"),
            ("document", None),
            ("notice", "unread"),
        ]
        assert [x[0] for x in await found(d0, q="公交线路")] == ["item"]  # the item's title
        assert item["id"] in [
            x["id"] for x in (await api.get(d0, "/api/search", q="公交"))["results"]
        ]
        # by state: an opinion's status and a suggestion's state are both "submitted"
        assert await found(d0, q="海岛", state="submitted") == [
            ("suggestion", "submitted"),
            ("opinion", "submitted"),
        ]
        assert await found(d0, state="unread", q="座谈") == [("notice", "unread")]
        assert await found(d0, state="read") == []
        assert await found(d0, q="海岛", type="opinion") == [("opinion", "submitted")]
        # bounded pages: one at a time, the same order
        pages = [
            (await api.get(d0, "/api/search", q="海岛", limit=1, offset=i))["results"]
            for i in range(4)
        ]
        assert [p[0]["type"] for p in pages] == ["suggestion", "opinion", "document", "notice"]
        # a word with LIKE's wildcards is taken as written
        assert await found(d0, q="%") == [] and await found(d0, q="_") == []
        # another deputy finds only theirs
        assert await found(d1, q="海岛", type="opinion") == [("opinion", "submitted")]
        assert await found(d1, q="公交线路") == []
        # a unit finds its unit's items; the other unit none
        assert await found(world.unit_users[0], q="公交线路") == [("item", "assigned")]
        assert await found(world.unit_users[1], q="公交线路") == []
        # the staff search with the lists' filters; a state that is none is refused
        err = await api.call(world.secretariat, "GET", "/api/search", status=403)
        assert err["code"] == "forbidden"
        err = await api.call(d0, "GET", "/api/search", params={"state": "lost"}, status=400)
        assert err["field"] == "state"
        err = await api.call(d0, "GET", "/api/search", params={"limit": 101}, status=400)
        assert err["code"] == "bad_request"
