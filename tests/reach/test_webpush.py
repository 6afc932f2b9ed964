"""Web Push end to end: the hub's real requests to a push service on this machine that
checks VAPID, decrypts the payload and answers 201, 404, 410 and 429 (docs/reach.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from hub.config import Settings
from hub.reach import dispatch
from hub.reach.dispatch import reach_jobs
from hub.store.engine import make_engine
from tests.reach.pushservice import PushService, b64url
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import World, make_world
from tests.utils.servers import RunningHub, running_hub, settings_for
from tests.utils.session import history, http


@pytest.fixture
async def world(db_url: str) -> World:
    return await make_world(db_url, deputies=6)


@pytest.fixture
def vapid() -> Vapid:
    v = Vapid()
    v.generate_keys()
    return v


def vapid_public(v: Vapid) -> str:
    return b64url(
        v.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


@pytest.fixture
async def push() -> AsyncIterator[PushService]:
    p = await PushService().start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
def push_settings(db_url: str, tmp_path: Path, vapid: Vapid, push: PushService) -> Settings:
    push.public_key = vapid_public(vapid)
    return settings_for(
        db_url,
        tmp_path,
        vapid_private_key=vapid.private_pem().decode(),
        vapid_subject="mailto:ops@example.cn",
        push_retry=0.2,
        push_timeout=5.0,
        push_insecure_origins=(push.origin,),
    )


@pytest.fixture(autouse=True)
def quick_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "POLL", 0.1)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def register(hub: RunningHub, token: str, push: PushService, name: str) -> dict[str, Any]:
    b = push.browsers[name]
    async with http(hub.url, token) as c:
        r = await c.post(
            "/api/push/subscriptions",
            json={
                "endpoint": push.endpoint(name),
                "keys": {"p256dh": b.p256dh, "auth": b64url(b.auth)},
                "label": f"phone {name}",
            },
        )
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out


async def job_states(db_url: str) -> list[tuple[int, str, int, int]]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    reach_jobs.c.user_id,
                    reach_jobs.c.state,
                    reach_jobs.c.attempts,
                    reach_jobs.c.round,
                ).order_by(reach_jobs.c.id)
            )
            return [(int(r[0]), r[1], int(r[2]), int(r[3])) for r in rows]
    finally:
        await engine.dispose()


async def test_web_push_to_those_with_no_page_open(
    push_settings: Settings, world: World, push: PushService, db_url: str, vapid: Vapid
) -> None:
    a, b, c, d, live, bare = world.deputies
    m = world.meeting
    push.browser("a", 201, 201)
    push.browser("b", 404)
    push.browser("c", 410)
    push.browser("d", 429, 201)
    push.browser("live", 201)
    sec = world.tok(world.secretariat)
    async with running_hub(push_settings) as hub:
        async with http(hub.url, world.tok(a)) as cl:
            r = await cl.get("/api/push/key")
            assert r.json() == {"channel": "webpush", "key": push.public_key}
        subs = {}
        for who, name in ((a, "a"), (b, "b"), (c, "c"), (d, "d"), (live, "live")):
            subs[name] = await register(hub, world.tok(who), push, name)
        # One deputy has a page open: the WebSocket reaches them, no push.
        page = await Client.connect(hub.ws_url, world.tok(live))
        await until(lambda: _online(hub, live), "the open page's presence lease to be stored")

        async with http(hub.url, sec) as s:
            r = await s.post(
                f"/api/meetings/{m}/notices", json={"title": "大会改在下午三时", "urgent": True}
            )
            assert r.status_code == 201, r.text
            sent = r.json()
        nid = sent["id"]
        assert sent["reach"] == {"live": 1, "webpush": {"queued": 4}, "unreached": 1}

        async def settled() -> bool:
            return all(st != "pending" for _, st, _, _ in await job_states(db_url))

        await until(settled, "every reach job to settle")
        states = {u: (st, n) for u, st, n, _ in await job_states(db_url)}
        assert states == {a: ("accepted", 1), b: ("gone", 1), c: ("gone", 1), d: ("accepted", 2)}

        # What the push service received: the hub's real requests, decrypted.
        assert [r.status for r in push.got("a")] == [201]
        assert [r.status for r in push.got("b")] == [404]
        assert [r.status for r in push.got("c")] == [410]
        assert [r.status for r in push.got("d")] == [429, 201]
        assert push.got("live") == []
        for r in push.received:
            assert r.payload["title"] == "大会改在下午三时"
            assert r.payload["notice"] == nid and r.payload["urgent"] is True
            assert r.claims["sub"] == "mailto:ops@example.cn"
            assert r.headers["urgency"] == "high"
        # The retry carries the same topic: a push service replaces, never doubles.
        assert push.got("d")[0].headers["topic"] == push.got("d")[1].headers["topic"]

        # 404 and 410 removed those subscriptions; the others are still there.
        for who in (b, c):
            async with http(hub.url, world.tok(who)) as cl:
                assert (await cl.get("/api/push/subscriptions")).json() == {"subscriptions": []}
        async with http(hub.url, world.tok(a)) as cl:
            mine = (await cl.get("/api/push/subscriptions")).json()["subscriptions"]
            assert [x["id"] for x in mine] == [subs["a"]["id"]]

        # One reach.attempted per attempt, on the desk.
        desk = await history(hub.url, sec, f"desk:{m}")
        tried = [x["body"] for x in desk if x["kind"] == "reach.attempted"]
        seen = sorted((t["person"]["id"], t["attempt"], t["outcome"], t["status"]) for t in tried)
        assert seen == sorted(
            [
                (a, 1, "accepted", 201),
                (b, 1, "gone", 404),
                (c, 1, "gone", 410),
                (d, 1, "retried", 429),
                (d, 2, "accepted", 201),
            ]
        )
        assert all(t["channel"] == "webpush" and t["key"].startswith(f"{nid}:") for t in tried)
        assert all(x["sender"]["role"] == "system" for x in desk if x["kind"] == "reach.attempted")

        # The notice's per-person detail and the counts per channel.
        async with http(hub.url, sec) as s:
            t = (await s.get(f"/api/notices/{nid}/tally")).json()
        assert t["reach"] == {"webpush": {"accepted": 2, "gone": 2, "failed": 0, "pending": 0}}
        per = {p["id"]: p["reach"] for p in t["people"]}
        assert per[a] == {"channel": "webpush", "state": "accepted", "attempts": 1}
        assert per[live] is None and per[bare] is None

        # Re-push to those with neither receipt: the open page gets it live, a's and d's
        # phones get a second round, nobody else can be reached; the answer says so.
        async with http(hub.url, sec) as s:
            r = await s.post(f"/api/notices/{nid}/repush", json={"who": "missing"})
            assert r.status_code == 200, r.text
            rep = r.json()["reach"]
        assert rep == {
            "live": 1,
            "webpush": {"accepted": 2, "gone": 0, "failed": 0, "pending": 0},
            "unreached": 3,
        }
        assert [r.status for r in push.got("a")] == [201, 201]
        assert push.got("a")[0].headers["topic"] != push.got("a")[1].headers["topic"]

        # Secrets appear in no response and nowhere in the log.
        texts = [orjson.dumps(desk).decode(), orjson.dumps(t).decode(), orjson.dumps(mine).decode()]
        texts.append(orjson.dumps(await history(hub.url, sec, f"desk:{m}")).decode())
        secret_key = b64url(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))
        for text in texts:
            assert secret_key not in text and "PRIVATE KEY" not in text
            for br in push.browsers.values():
                assert b64url(br.auth) not in text and br.p256dh not in text
        await page.close()
        before = len(push.received)
        accepted = [i for i, st, _, _ in await _job_ids(db_url) if st == "accepted"]

    # Restarted: nothing accepted is sent again, by the loop or by asking for it.
    async with running_hub(push_settings) as hub:
        await asyncio.sleep(0.5)  # several rounds of the dispatcher
        for i in accepted:
            assert await hub.workflows.reach.run_job(i) is False
        assert len(push.received) == before
        desk = await history(hub.url, sec, f"desk:{m}")
        assert len([x for x in desk if x["kind"] == "reach.attempted"]) == 7


async def _online(hub: RunningHub, user_id: int) -> bool:
    from hub.session.presence import online_users

    async with hub.services.node.log.reading() as conn:
        return user_id in await online_users(conn, hub.services.clock.now(), {user_id})


async def _job_ids(db_url: str) -> list[tuple[int, str, int, int]]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    reach_jobs.c.id, reach_jobs.c.state, reach_jobs.c.attempts, reach_jobs.c.round
                )
            )
            return [(int(r[0]), r[1], int(r[2]), int(r[3])) for r in rows]
    finally:
        await engine.dispose()
