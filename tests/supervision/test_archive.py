"""The archive: filters, stable cursor pages, receipts per message, who may search."""

from __future__ import annotations

from datetime import datetime

import orjson

from tests.supervision.helpers import http, publish, receipt
from tests.utils.factories import World
from tests.utils.servers import RunningHub


async def _ids(hub: RunningHub, world: World, **params: object) -> list[int]:
    async with http(hub, world, world.supervisor) as c:
        r = await c.get("/api/archive/messages", params={"limit": 200, "receipts": "0", **params})
        assert r.status_code == 200, r.text
        return [m["id"] for m in r.json()["messages"]]


async def test_each_filter_narrows_the_archive(hub: RunningHub, world: World) -> None:
    """channel, kind, sender, unit, deputy, meeting and text each select exactly their messages."""
    m, d0, u1 = world.meeting, world.deputies[0], world.units[0]
    n1 = (await publish(hub, world, f"meeting:{m}", {"text": "下午全体会议改期"}))["id"]
    n2 = (await publish(hub, world, f"meeting:{m}", {"text": "分组审议地点"}, kind="agenda"))["id"]
    p1 = (await publish(hub, world, f"deputy:{d0}", {"text": "请确认住宿"}))["id"]
    x1 = (await publish(hub, world, f"unit:{u1}", {"text": "马上办交办"}, kind="item"))["id"]
    o1 = (await publish(hub, world, f"desk:{m}", {"text": "关于交通的意见"}, "opinion", d0))["id"]
    other = (await publish(hub, world, f"meeting:{world.other_meeting}", {"text": "无关"}))["id"]

    assert await _ids(hub, world, channel=f"meeting:{m}") == [n1, n2]
    assert await _ids(hub, world, kind="notice") == [n1, p1, other]
    assert await _ids(hub, world, sender=d0) == [o1]
    assert await _ids(hub, world, unit=u1) == [x1]
    assert await _ids(hub, world, deputy=d0) == [p1, o1]
    assert await _ids(hub, world, meeting=m) == [n1, n2, o1]
    assert await _ids(hub, world, q="改期") == [n1]
    assert await _ids(hub, world, q="交", kind="opinion") == [o1]
    assert await _ids(hub, world, meeting=m, kind="notice") == [n1]


async def test_delegation_filter_takes_its_channel_inboxes_and_senders(
    hub: RunningHub, world: World
) -> None:
    """`delegation` selects its channel, its deputies' inboxes and what its deputies sent,
    nothing of the other delegation; the messages export takes the same filter."""
    m, (g1, g2) = world.meeting, world.delegations
    d0, d1, d2, _ = world.deputies  # d0, d2 in the first delegation; d1 in the second
    a = (await publish(hub, world, f"delegation:{g1}", {"text": "一团分组审议"}))["id"]
    await publish(hub, world, f"delegation:{g2}", {"text": "二团分组审议"})
    b = (await publish(hub, world, f"deputy:{d2}", {"text": "请确认住宿"}))["id"]
    await publish(hub, world, f"deputy:{d1}", {"text": "请确认住宿"})
    c = (await publish(hub, world, f"desk:{m}", {"text": "关于交通的意见"}, "opinion", d0))["id"]
    await publish(hub, world, f"desk:{m}", {"text": "关于教育的意见"}, "opinion", d1)
    await publish(hub, world, f"meeting:{m}", {"text": "全体会议"})
    assert await _ids(hub, world, delegation=g1) == [a, b, c]
    assert await _ids(hub, world, delegation=g1, kind="opinion") == [c]
    async with http(hub, world, world.supervisor) as client:
        r = await client.get(
            "/api/archive/export/messages", params={"format": "jsonl", "delegation": g1}
        )
        assert r.status_code == 200, r.text
    assert [orjson.loads(x)["id"] for x in r.text.splitlines()] == [a, b, c]


async def test_time_range_is_since_inclusive_until_exclusive(hub: RunningHub, world: World) -> None:
    """`since` includes a message stamped exactly then; `until` excludes it."""
    ch = f"meeting:{world.meeting}"
    ids = [(await publish(hub, world, ch, {"i": i}))["id"] for i in range(3)]
    async with http(hub, world, world.supervisor) as c:
        msgs = (await c.get("/api/archive/messages", params={"receipts": "0"})).json()["messages"]
    ts = {m["id"]: m["ts"] for m in msgs}
    assert await _ids(hub, world, since=ts[ids[1]]) == ids[1:]
    assert await _ids(hub, world, until=ts[ids[1]]) == ids[:1]
    assert await _ids(hub, world, since=ts[ids[1]], until=ts[ids[2]]) == [ids[1]]
    day = datetime.fromisoformat(ts[ids[0]].replace("Z", "+00:00")).date()
    assert await _ids(hub, world, until=f"{day.year - 1}-01-01") == []


async def test_cursor_pages_neither_repeat_nor_skip(hub: RunningHub, world: World) -> None:
    """Pages of 3 by id follow the cursor to the end; messages stored meanwhile come last."""
    ch = f"meeting:{world.meeting}"
    ids = [(await publish(hub, world, ch, {"i": i}))["id"] for i in range(7)]
    seen: list[int] = []
    async with http(hub, world, world.supervisor) as c:
        params: dict[str, object] = {"limit": 3, "receipts": "0", "channel": ch}
        page = (await c.get("/api/archive/messages", params=params)).json()
        seen += [m["id"] for m in page["messages"]]
        late = (await publish(hub, world, ch, {"i": "late"}))["id"]
        while page["next"]:
            page = (
                await c.get("/api/archive/messages", params={**params, "cursor": page["next"]})
            ).json()
            seen += [m["id"] for m in page["messages"]]
        assert seen == [*ids, late]
        back: list[int] = []
        params["order"] = "desc"
        page = (await c.get("/api/archive/messages", params=params)).json()
        back += [m["id"] for m in page["messages"]]
        while page["next"]:
            cursor = page["next"]
            page = (
                await c.get("/api/archive/messages", params={**params, "cursor": cursor})
            ).json()
            back += [m["id"] for m in page["messages"]]
        assert back == list(reversed(seen))
        wrong = await c.get(
            "/api/archive/messages", params={**params, "order": "asc", "cursor": cursor}
        )
        assert wrong.status_code == 400
        forged = await c.get("/api/archive/messages", params={**params, "cursor": "not-ours"})
        assert forged.status_code == 400 and "cursor" in forged.json()["message"]


async def test_receipts_count_a_later_ack_and_a_read(hub: RunningHub, world: World) -> None:
    """An ack of seq 3 delivers 1-3; a read alone delivers; reads are per message."""
    ch = f"meeting:{world.meeting}"
    d0, d1, d2, d3 = world.deputies
    for i in range(3):
        await publish(hub, world, ch, {"text": f"第{i + 1}号通知"})
    await receipt(hub, world, d0, "ack", ch, 3)
    await receipt(hub, world, d1, "ack", ch, 1)
    await receipt(hub, world, d1, "read", ch, 1)
    await receipt(hub, world, d2, "read", ch, 2)
    await receipt(hub, world, d1, "ack", ch, 3)
    async with http(hub, world, world.admin) as c:
        msgs = (await c.get("/api/archive/messages", params={"channel": ch})).json()["messages"]
    assert [m["seq"] for m in msgs] == [1, 2, 3]
    # The audience: the meeting's 4 deputies and the secretariat, less the sender.
    assert [m["recipients"] for m in msgs] == [4, 4, 4]
    got = {
        m["seq"]: {r["user"]["id"]: (r["delivered_at"] is not None, r["read_at"] is not None)
                   for r in m["receipts"]}
        for m in msgs
    }  # fmt: skip
    assert got == {
        1: {d0: (True, False), d1: (True, True)},
        2: {d0: (True, False), d1: (True, False), d2: (True, True)},
        3: {d0: (True, False), d1: (True, False)},
    }
    assert d3 not in got[1]
    by_user = {r["user"]["id"]: r for r in msgs[1]["receipts"]}
    # d1 has seq 2 from the ack of seq 3, which came after the ack of seq 1.
    seq1 = {r["user"]["id"]: r for r in msgs[0]["receipts"]}
    assert by_user[d1]["delivered_at"] > seq1[d1]["delivered_at"]
    assert by_user[d2]["delivered_at"] == by_user[d2]["read_at"]
    assert by_user[d0]["user"]["name"] == "代表0"


async def test_only_supervisors_and_admins_search(hub: RunningHub, world: World) -> None:
    """Deputies, the secretariat and units are refused with 403; no token is 401."""
    for user in (world.deputies[0], world.secretariat, world.unit_users[0]):
        async with http(hub, world, user) as c:
            assert (await c.get("/api/archive/messages")).status_code == 403
    for user in (world.supervisor, world.admin):
        async with http(hub, world, user) as c:
            assert (await c.get("/api/archive/messages")).status_code == 200
    async with http(hub, world, world.admin) as c:
        assert (
            await c.get("/api/archive/messages", headers={"authorization": ""})
        ).status_code == 401


async def test_bad_filters_say_what_is_expected(hub: RunningHub, world: World) -> None:
    """A malformed channel, id, time or limit is a 400 naming the parameter."""
    async with http(hub, world, world.supervisor) as c:
        for params, word in (
            ({"channel": "room:1"}, "channel"),
            ({"deputy": "x"}, "deputy"),
            ({"delegation": "0"}, "delegation"),
            ({"since": "yesterday"}, "since"),
            ({"until": "2026-03-01T09:00:00"}, "zone"),
            ({"limit": "5000"}, "limit"),
            ({"order": "random"}, "order"),
        ):
            r = await c.get("/api/archive/messages", params=params)
            assert r.status_code == 400 and word in r.json()["message"], (params, r.text)


async def test_receipts_of_a_sparse_page_match_the_channel_page(
    hub: RunningHub, world: World
) -> None:
    """Notices at seqs 1, 8 and 16 of a busy channel: each has it from the first ack at
    or after its seq, whether the page is the channel's run or only the notices."""
    ch = f"meeting:{world.meeting}"
    d0, d1, d2, _d3 = world.deputies
    for i in range(1, 17):
        await publish(hub, world, ch, {"i": i}, kind="notice" if i in (1, 8, 16) else "agenda")
    await receipt(hub, world, d1, "ack", ch, 3)
    await receipt(hub, world, d0, "ack", ch, 10)
    await receipt(hub, world, d1, "ack", ch, 16)
    await receipt(hub, world, d2, "ack", ch, 16)
    await receipt(hub, world, d2, "read", ch, 8)
    async with http(hub, world, world.supervisor) as c:
        sparse = (await c.get("/api/archive/messages", params={"kind": "notice"})).json()
        run = (await c.get("/api/archive/messages", params={"channel": ch})).json()

    def who(page: dict[str, object], seq: int) -> dict[int, tuple[str, str | None]]:
        [m] = [m for m in page["messages"] if m["seq"] == seq]  # type: ignore[attr-defined]
        return {r["user"]["id"]: (r["delivered_at"], r["read_at"]) for r in m["receipts"]}

    got = {s: who(sparse, s) for s in (1, 8, 16)}
    assert {s: sorted(v) for s, v in got.items()} == {
        1: [d0, d1, d2],
        8: [d0, d1, d2],
        16: [d1, d2],
    }
    assert got[1][d1][0] < got[1][d0][0] < got[1][d2][0]  # ack 3, ack 10, ack 16
    assert got[8][d1][0] == got[16][d1][0]  # both from the ack of 16
    assert got[8][d0][0] == got[1][d0][0]  # both from the ack of 10
    assert got[8][d2][1] is not None and got[8][d2][0] < got[8][d2][1]  # acked, then read
    assert all(r is None for s in (1, 16) for _, r in got[s].values())
    assert {s: who(run, s) for s in (1, 8, 16)} == got
