"""Registering browsers for Web Push: validation, each person's own devices only, and the
embedded channel that logs instead of sending (nothing configured)."""

from __future__ import annotations

import asyncio

from hub.config import Settings
from tests.reach.pushservice import Browser, b64url
from tests.utils import TIMEOUT
from tests.utils.factories import World
from tests.utils.servers import RunningHub
from tests.utils.session import history, http


def body(endpoint: str, b: Browser | None = None) -> dict[str, object]:
    b = b or Browser("x")
    return {"endpoint": endpoint, "keys": {"p256dh": b.p256dh, "auth": b64url(b.auth)}}


async def test_devices_are_checked_and_each_person_sees_only_their_own(
    hub: RunningHub, world: World, settings: Settings
) -> None:
    a, b = world.deputies[:2]
    good = "https://push.example.cn/send/abc"
    async with http(hub.url, world.tok(a)) as ca, http(hub.url, world.tok(b)) as cb:
        assert (await ca.get("/api/push/key")).json() == {"channel": "log", "key": None}
        bad = [
            ({**body("http://push.example.cn/x")}, "endpoint"),
            ({**body("https://10.0.0.7/x")}, "endpoint"),
            ({**body("https://user:pw@push.example.cn/x")}, "endpoint"),
            ({**body("https://push.example.cn/" + "x" * 800)}, "endpoint"),
            (
                {"endpoint": good, "keys": {"p256dh": "AAAA", "auth": b64url(b"0" * 16)}},
                "keys.p256dh",
            ),
            (
                {
                    "endpoint": good,
                    "keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"0" * 16)},
                },
                "keys.p256dh",
            ),
            (
                {"endpoint": good, "keys": {"p256dh": Browser("y").p256dh, "auth": "AAAA"}},
                "keys.auth",
            ),
            ({"endpoint": good, "keys": "x"}, "keys"),
        ]
        for payload, name in bad:
            r = await ca.post("/api/push/subscriptions", json=payload)
            assert r.status_code == 400, (payload, r.text)
            assert r.json()["code"] == "bad_request" and r.json()["field"] == name
        r = await ca.post("/api/push/subscriptions", json=body(good))
        assert r.status_code == 201, r.text
        mine = r.json()
        assert mine["service"] == "push.example.cn" and "keys" not in mine
        # Another person may neither see nor remove it.
        assert (await cb.get("/api/push/subscriptions")).json() == {"subscriptions": []}
        r = await cb.delete(f"/api/push/subscriptions/{mine['id']}")
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = await cb.delete(f"/api/push/subscriptions/{mine['id'] + 1000}")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        listed = (await ca.get("/api/push/subscriptions")).json()["subscriptions"]
        assert [x["id"] for x in listed] == [mine["id"]]
        assert (await ca.delete(f"/api/push/subscriptions/{mine['id']}")).status_code == 204
        assert (await ca.get("/api/push/subscriptions")).json() == {"subscriptions": []}


async def test_nothing_configured_the_channel_logs_and_the_log_says_so(
    hub: RunningHub, world: World
) -> None:
    a = world.deputies[0]
    async with http(hub.url, world.tok(a)) as ca:
        r = await ca.post("/api/push/subscriptions", json=body("https://push.example.cn/s/1"))
        assert r.status_code == 201, r.text
    sec = world.tok(world.secretariat)
    async with http(hub.url, sec) as s:
        r = await s.post(f"/api/meetings/{world.meeting}/notices", json={"title": "通知"})
        assert r.status_code == 201, r.text
    assert r.json()["reach"] == {
        "live": 0,
        "log": {"queued": 1},
        "unreached": len(world.deputies) - 1,
    }
    tried: list[dict[str, object]] = []
    for _ in range(int(TIMEOUT / 0.1)):
        desk = await history(hub.url, sec, f"desk:{world.meeting}")
        tried = [x["body"] for x in desk if x["kind"] == "reach.attempted"]
        if tried:
            break
        await asyncio.sleep(0.1)
    assert len(tried) == 1
    assert tried[0]["channel"] == "log" and tried[0]["outcome"] == "accepted"
    assert tried[0]["reason"] == "logged"
