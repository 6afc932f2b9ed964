"""Notices with delivery and read receipts, the live tally on the desk, and re-push."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from hub.broker.memory import MemoryBroker
from hub.config import Settings
from hub.session.notices import notice_deliveries, notices
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub, running_hub
from tests.utils.session import (
    add_deputies,
    connect_many,
    head,
    history,
    http,
    send_notice,
    wait_for,
)


async def _tally(hub: RunningHub, world: World, notice: int) -> dict[str, Any]:
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.get(f"/api/notices/{notice}/tally")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


async def _receive_and_ack(c: Client, channel: str, read: bool) -> int:
    """Wait for the notice on ``channel``, ack it (and read it); its seq."""
    m = await wait_for(c, "notice", channel)
    await c.send({"type": "ack", "channel": channel, "seq": m["seq"]})
    if read:
        await c.send({"type": "read", "channel": channel, "seq": m["seq"]})
    return int(m["seq"])


async def test_notice_to_200_deputies_live_tally_and_repush(
    hub: RunningHub, world: World, db_url: str
) -> None:
    """A notice to a meeting of 204 deputies: the desk sees the delivered/read tally grow
    live, coalesced (far fewer tally messages than receipts); the exact tally names who has
    neither; a re-push reaches exactly those on their inboxes and their receipts complete
    the same notice's tally."""
    m = world.meeting
    bulk = await add_deputies(db_url, m, world.delegations, 200)
    everyone = [*world.deputies, *bulk]
    online = list(bulk)[:150]
    readers = set(online[:100])
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    await sec.subscribe(f"desk:{m}")
    clients = await connect_many(hub.ws_url, [bulk[u] for u in online])
    await asyncio.gather(*(c.subscribe(f"meeting:{m}") for c in clients))

    sent = await send_notice(
        hub, world, title="会场变更", text="下午全体会议改在大礼堂", confirm=True
    )
    assert sent["addressees"] == 204 and sent["confirm"] is True
    assert sent["channels"] == [{"channel": f"meeting:{m}", "seq": 1}]
    nid = sent["id"]
    desk_sent = await wait_for(sec, "notice.sent", f"desk:{m}")
    assert desk_sent["body"]["notice"]["id"] == nid

    await asyncio.gather(
        *(
            _receive_and_ack(c, f"meeting:{m}", u in readers)
            for u, c in zip(online, clients, strict=True)
        )
    )
    last = await wait_for(
        sec,
        "notice.tally",
        f"desk:{m}",
        lambda f: f["body"]["delivered"] == 150 and f["body"]["read"] == 100,
    )
    assert last["sender"]["role"] == "system"
    body = last["body"]
    assert body["notice"] == nid and body["addressees"] == 204 and body["missing"] == 54
    assert len(body["missing_people"]) == 50 and body["missing_truncated"] is True

    exact = await _tally(hub, world, nid)
    missing = {p["id"] for p in exact["missing_people"]}
    assert (exact["delivered"], exact["read"], exact["missing"]) == (150, 100, 54)
    assert missing == set(everyone) - set(online)
    assert {p["id"] for p in exact["unread_people"]} == set(online) - readers
    assert all(p["name"] for p in exact["missing_people"])

    async with http(hub.url, world.tok(world.secretariat)) as c:
        r = await c.post(f"/api/notices/{nid}/repush", json={})
        assert r.status_code == 200, r.text
        pushed = r.json()["repushed"]
    assert {p["id"] for p in pushed} == missing
    assert all(p["channel"] == f"deputy:{p['id']}" for p in pushed)
    desk_repush = await wait_for(sec, "notice.repushed", f"desk:{m}")
    assert len(desk_repush["body"]["to"]) == 54

    toks = {**bulk, **{d: world.tok(d) for d in world.deputies}}
    late = await connect_many(hub.ws_url, [toks[p["id"]] for p in pushed])
    for p, c in zip(pushed, late, strict=True):
        await c.subscribe(p["channel"], since=0)
    got = await asyncio.gather(
        *(_receive_and_ack(c, p["channel"], False) for p, c in zip(pushed, late, strict=True))
    )
    assert got == [p["seq"] for p in pushed]
    await wait_for(
        sec,
        "notice.tally",
        f"desk:{m}",
        lambda f: f["body"]["delivered"] == 204 and f["body"]["missing"] == 0,
    )
    exact = await _tally(hub, world, nid)
    assert (exact["delivered"], exact["read"], exact["missing"]) == (204, 100, 0)
    # a second re-push finds nobody left without the notice
    async with http(hub.url, world.tok(world.secretariat)) as c:
        r = await c.post(f"/api/notices/{nid}/repush")
        assert r.json()["repushed"] == []
        r = await c.post(f"/api/notices/{nid}/repush", json={"who": "unread"})
        assert len(r.json()["repushed"]) == 104

    # 150 + 100 + 54 receipts, and only a handful of stored tally messages
    desk = await history(hub.url, world.tok(world.secretariat), f"desk:{m}")
    tallies = [x for x in desk if x["kind"] == "notice.tally"]
    assert 2 <= len(tallies) <= 30, len(tallies)
    counts = [(t["body"]["delivered"], t["body"]["read"]) for t in tallies]
    assert counts == sorted(counts), "tallies on the desk never go backwards"
    for c in [sec, *clients, *late]:
        await c.close()


async def test_notice_to_delegations_and_listed_deputies(hub: RunningHub, world: World) -> None:
    """A delegation gets one message on its channel, a listed deputy one on their inbox; a
    deputy already covered by a delegation is not sent it twice; a read counts as
    delivered."""
    d1 = world.delegations[0]
    in_d1 = [d for i, d in enumerate(world.deputies) if i % 2 == 0]
    in_d2 = [d for i, d in enumerate(world.deputies) if i % 2 == 1]
    listed = in_d2[0]
    dep = await Client.connect(hub.ws_url, world.tok(listed))
    await dep.subscribe(f"deputy:{listed}")
    sent = await send_notice(
        hub, world, title="代表团会议", urgent=True, delegations=[d1], deputies=[listed, in_d1[0]]
    )
    assert sent["addressees"] == len(in_d1) + 1
    assert [c["channel"] for c in sent["channels"]] == [f"delegation:{d1}", f"deputy:{listed}"]
    assert sent["audience"] == {
        "meeting": False,
        "delegations": [d1],
        "deputies": [listed, in_d1[0]],
    }
    msg = await wait_for(dep, "notice", f"deputy:{listed}")
    assert msg["body"] == {
        "notice": sent["id"],
        "meeting": world.meeting,
        "title": "代表团会议",
        "text": "",
        "urgent": True,
        "confirm": False,
    }
    r = await dep.request({"type": "read", "channel": f"deputy:{listed}", "seq": msg["seq"]})
    assert r["type"] == "receipt"
    t = await _tally(hub, world, sent["id"])
    assert (t["addressees"], t["delivered"], t["read"]) == (len(in_d1) + 1, 1, 1)
    assert {p["id"] for p in t["missing_people"]} == set(in_d1)
    async with http(hub.url, world.tok(listed)) as c:
        mine = (await c.get(f"/api/meetings/{world.meeting}/notices")).json()["notices"]
        assert [n["id"] for n in mine] == [sent["id"]] and "delivered" not in mine[0]
    async with http(hub.url, world.tok(in_d2[1])) as c:
        assert (await c.get(f"/api/meetings/{world.meeting}/notices")).json()["notices"] == []
    async with http(hub.url, world.tok(world.supervisor)) as c:
        listed_all = (await c.get(f"/api/meetings/{world.meeting}/notices")).json()["notices"]
        assert listed_all[0]["addressees"] == len(in_d1) + 1


async def _mine(hub: RunningHub, world: World, deputy: int) -> dict[int, dict[str, Any]]:
    """The deputy's notice list, by notice id, as a new device would load it."""
    async with http(hub.url, world.tok(deputy)) as c:
        r = await c.get(f"/api/meetings/{world.meeting}/notices")
        assert r.status_code == 200, r.text
        return {n["id"]: n for n in r.json()["notices"]}


async def test_a_deputys_notice_list_carries_their_own_receipts(
    hub: RunningHub, world: World
) -> None:
    """Each notice a deputy lists carries when it reached them (an ack at or past it, on
    any delivery, or a read) and when they read it, null when not yet, the same as the
    tally says for them; staff lists carry counts instead."""
    m = world.meeting
    a, b, c_ = world.deputies[:3]
    dev_a = await Client.connect(hub.ws_url, world.tok(a))
    dev_c = await Client.connect(hub.ws_url, world.tok(c_))
    await dev_a.subscribe(f"meeting:{m}")
    await dev_a.subscribe(f"deputy:{a}")
    await dev_c.subscribe(f"meeting:{m}")

    n1 = await send_notice(hub, world, title="全体通知")
    seq1 = (await wait_for(dev_a, "notice", f"meeting:{m}"))["seq"]
    r = await dev_a.request({"type": "ack", "channel": f"meeting:{m}", "seq": seq1})
    assert r["type"] == "receipt"
    r = await dev_a.request({"type": "read", "channel": f"meeting:{m}", "seq": seq1})
    assert r["type"] == "receipt"
    got = await wait_for(dev_c, "notice", f"meeting:{m}")
    r = await dev_c.request({"type": "read", "channel": f"meeting:{m}", "seq": got["seq"]})
    assert r["type"] == "receipt"
    n2 = await send_notice(hub, world, title="个人通知", deputies=[a])
    inbox1 = await wait_for(dev_a, "notice", f"deputy:{a}")

    mine = await _mine(hub, world, a)
    assert list(mine) == [n1["id"], n2["id"]]
    assert mine[n1["id"]]["delivered_at"] <= mine[n1["id"]]["read_at"]
    assert (mine[n2["id"]]["delivered_at"], mine[n2["id"]]["read_at"]) == (None, None)
    assert "delivered" not in mine[n1["id"]]
    of_c = (await _mine(hub, world, c_))[n1["id"]]
    assert of_c["read_at"] is not None and of_c["delivered_at"] == of_c["read_at"]
    assert (await _mine(hub, world, b))[n1["id"]]["read_at"] is None
    assert (await _mine(hub, world, b))[n1["id"]]["delivered_at"] is None

    # a notice a's device missed on the meeting channel reaches them re-pushed on the inbox:
    # the ack there covers the re-push and the earlier inbox notice, and reads neither
    n3 = await send_notice(hub, world, title="再次通知")
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(f"/api/notices/{n3['id']}/repush", json={"who": "missing"})
        assert a in {p["id"] for p in r.json()["repushed"]}
    again = await wait_for(
        dev_a, "notice", f"deputy:{a}", lambda f: f["body"]["notice"] == n3["id"]
    )
    assert again["seq"] > inbox1["seq"]
    r = await dev_a.request({"type": "ack", "channel": f"deputy:{a}", "seq": again["seq"]})
    assert r["type"] == "receipt"
    mine = await _mine(hub, world, a)
    for n in (n2, n3):
        assert mine[n["id"]]["delivered_at"] is not None and mine[n["id"]]["read_at"] is None
    for n in (n1, n2, n3):
        people = {p["id"]: p for p in (await _tally(hub, world, n["id"]))["people"]}
        for who, listed in ((a, mine), (c_, await _mine(hub, world, c_))):
            if who in people:
                assert listed[n["id"]]["delivered_at"] == people[who]["delivered_at"]
                assert listed[n["id"]]["read_at"] == people[who]["read_at"]
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        staff = (await sec.get(f"/api/meetings/{m}/notices")).json()["notices"]
        assert all("read_at" not in n and "read" in n for n in staff)
    for dev in (dev_a, dev_c):
        await dev.close()


async def test_refused_notice_actions_write_nothing(hub: RunningHub, world: World) -> None:
    """Wrong role, unknown delegation or deputy, a deputy outside the meeting, an empty
    hand-picked audience, a bad `who`: each refused with its code, with no notice row, delivery or message stored."""
    m = world.meeting
    sec_tok = world.tok(world.secretariat)
    heads = {
        ch: await head(hub.url, sec_tok, ch)
        for ch in (f"meeting:{m}", f"desk:{m}", f"delegation:{world.delegations[0]}")
    }
    cases = [
        (world.deputies[0], {"title": "x"}, 403),
        (world.supervisor, {"title": "x"}, 403),
        (world.secretariat, {"title": ""}, 400),
        (world.secretariat, {"title": "x", "delegations": [999999]}, 404),
        (world.secretariat, {"title": "x", "deputies": [999999]}, 404),
        (world.secretariat, {"title": "x", "deputies": [world.outsider]}, 400),
        (world.secretariat, {"title": "x", "deputies": [world.secretariat]}, 400),
        (world.secretariat, {"title": "x", "delegations": [world.delegations[0], "a"]}, 400),
        (world.secretariat, {"title": "x", "urgent": "yes"}, 400),
        # An audience chosen by hand with nobody ticked is refused, never "everyone".
        (world.secretariat, {"title": "x", "delegations": []}, 400),
        (world.secretariat, {"title": "x", "deputies": []}, 400),
        (world.secretariat, {"title": "x", "delegations": [], "deputies": []}, 400),
    ]
    for who, payload, status in cases:
        async with http(hub.url, world.tok(who)) as c:
            r = await c.post(f"/api/meetings/{m}/notices", json=payload)
            assert r.status_code == status, (payload, r.text)
    async with http(hub.url, sec_tok) as c:
        assert (
            await c.post("/api/meetings/999999/notices", json={"title": "x"})
        ).status_code == 404
        assert (await c.get("/api/notices/999999/tally")).status_code == 404
        assert (await c.post("/api/notices/999999/repush")).status_code == 404
    async with hub.services.engine.connect() as conn:
        for t in (notices, notice_deliveries):
            assert (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() == 0
    for ch, h in heads.items():
        assert await head(hub.url, sec_tok, ch) == h

    sent = await send_notice(hub, world, title="通知")
    for who, status in ((world.deputies[0], 403), (world.admin, 403)):
        async with http(hub.url, world.tok(who)) as c:
            assert (await c.post(f"/api/notices/{sent['id']}/repush")).status_code == status
    async with http(hub.url, world.tok(world.deputies[0])) as c:
        assert (await c.get(f"/api/notices/{sent['id']}/tally")).status_code == 403
        assert (await c.get(f"/api/meetings/{world.other_meeting}/notices")).status_code == 403
    async with http(hub.url, sec_tok) as c:
        r = await c.post(f"/api/notices/{sent['id']}/repush", json={"who": "everyone"})
        assert r.status_code == 400
    async with hub.services.engine.connect() as conn:
        n = (await conn.execute(sa.select(sa.func.count()).select_from(notice_deliveries))).scalar()
    assert n == len(world.deputies)


async def test_tally_with_receipts_on_two_nodes(
    settings: Settings, world: World, db_url: str
) -> None:
    """Receipts stored by two nodes each trigger that node's tally; the tallies on the desk
    never go backwards and the last one is the exact state."""
    m = world.meeting
    bulk = await add_deputies(db_url, m, world.delegations, 40)
    bus = MemoryBroker()
    async with (
        running_hub(settings.with_(node_id="node-a"), bus) as na,
        running_hub(settings.with_(node_id="node-b"), bus.attach()) as nb,
    ):
        ids = list(bulk)
        sec = await Client.connect(nb.ws_url, world.tok(world.secretariat))
        await sec.subscribe(f"desk:{m}")
        clients = [
            *await connect_many(na.ws_url, [bulk[u] for u in ids[:20]]),
            *await connect_many(nb.ws_url, [bulk[u] for u in ids[20:]]),
        ]
        await asyncio.gather(*(c.subscribe(f"meeting:{m}") for c in clients))
        sent = await send_notice(na, world, title="两个节点")
        await asyncio.gather(
            *(_receive_and_ack(c, f"meeting:{m}", i % 2 == 0) for i, c in enumerate(clients))
        )
        await wait_for(
            sec,
            "notice.tally",
            f"desk:{m}",
            lambda f: f["body"]["delivered"] == 40 and f["body"]["read"] == 20,
        )
        exact = await _tally(nb, world, sent["id"])
        assert (exact["delivered"], exact["read"], exact["missing"]) == (40, 20, 4)
        desk = await history(na.url, world.tok(world.secretariat), f"desk:{m}")
        counts = [
            (t["body"]["delivered"], t["body"]["read"]) for t in desk if t["kind"] == "notice.tally"
        ]
        assert counts == sorted(counts) and len(set(counts)) == len(counts)
        assert counts[-1] == (40, 20)
        for c in [sec, *clients]:
            await c.close()


async def test_tally_finds_exactly_the_notices_a_receipt_newly_covers(
    hub: RunningHub, world: World
) -> None:
    """Which notices a batch of receipts can change: an ack covers the user's deliveries up
    to its seq, a read only that seq; receipts for other users, later seqs or other
    channels change nothing."""
    m = world.meeting
    first = (await send_notice(hub, world, title="一", body="第一"))["id"]
    second = (await send_notice(hub, world, title="二", body="第二"))["id"]
    tally = hub.workflows.notice_tally
    ch = f"meeting:{m}"
    d0, d1 = world.deputies[0], world.deputies[1]
    assert await tally._affected({(ch, d0): 1}, set()) == [first]
    assert await tally._affected({(ch, d0): 2}, set()) == [first, second]
    assert await tally._affected({(ch, d0): 2, (ch, d1): 1}, set()) == [first, second]
    assert await tally._affected({}, {(ch, d1, 2)}) == [second]
    assert await tally._affected({}, {(ch, d0, 1), (ch, d1, 2)}) == [first, second]
    assert await tally._affected({}, {(ch, d0, 3)}) == []
    assert await tally._affected({(f"meeting:{m + 1000}", d0): 2}, set()) == []
    assert await tally._affected({(ch, world.secretariat): 2}, set()) == []
    # Once d0's ack is stored and tallied, d0's deliveries are covered: a batch in which
    # d0 acks 2 and d1 acks 1 changes only the first notice (d1's bound is d1's own).
    dep = await Client.connect(hub.ws_url, world.tok(d0))
    assert (await dep.request({"type": "ack", "channel": ch, "seq": 2}))["type"] == "receipt"
    for _ in range(100):
        if await tally._affected({(ch, d0): 2}, set()) == []:
            break
        await asyncio.sleep(0.05)
    assert await tally._affected({(ch, d0): 2, (ch, d1): 1}, set()) == [first]
