"""The core HTTP API: login, history, publish, health, readiness and metrics."""

from __future__ import annotations

import httpx

from tests.utils.client import Client
from tests.utils.factories import PASSWORD, World, tokens
from tests.utils.servers import RunningHub


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_login_gives_a_working_token(hub: RunningHub, world: World) -> None:
    """A right password gives a token that opens /ws; a wrong one is 401 with a message."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        bad = await http.post("/api/login", json={"username": "sec", "password": "nope"})
        assert bad.status_code == 401
        assert bad.json() == {"code": "unauthorized", "message": "wrong username or password"}
        r = await http.post("/api/login", json={"username": "sec", "password": PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["user"] == {"id": world.secretariat, "name": "秘书处", "role": "secretariat"}
        me = await http.get("/api/me", headers=_auth(body["token"]))
        assert me.json()["meetings"] == [world.meeting]
    c = await Client.connect(hub.ws_url, body["token"])
    assert c.welcome["user"]["id"] == world.secretariat


async def test_login_rejects_malformed_bodies(hub: RunningHub, world: World) -> None:
    """Missing or mistyped fields and non-JSON bodies are 400 naming the problem."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.post("/api/login", content=b"{oops")
        assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
        r = await http.post("/api/login", json={"username": "sec"})
        assert r.status_code == 400 and r.json()["message"] == "missing `password`"
        r = await http.post("/api/login", json={"username": 5, "password": "x"})
        assert r.status_code == 400 and "`username` must be str" in r.json()["message"]


async def test_http_publish_and_history(hub: RunningHub, world: World) -> None:
    """POST publishes (idempotent with a key) and live subscribers get it; GET returns the
    history after `since`, with the same permissions as /ws; a body is checked as a frame
    is, its field at fault named."""
    ch = f"meeting:{world.meeting}"
    dep = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    await dep.subscribe(ch)
    sec = _auth(world.tok(world.secretariat))
    async with httpx.AsyncClient(base_url=hub.url) as http:
        url = f"/api/channels/{ch}/messages"
        r1 = await http.post(
            url, json={"kind": "bulletin", "body": {"t": "会议改在三楼"}, "key": "k1"}, headers=sec
        )
        assert r1.status_code == 201 and r1.json()["seq"] == 1 and r1.json()["created"]
        r2 = await http.post(
            url, json={"kind": "bulletin", "body": {"t": "x"}, "key": "k1"}, headers=sec
        )
        assert (
            r2.status_code == 200
            and r2.json()["id"] == r1.json()["id"]
            and not r2.json()["created"]
        )
        await http.post(url, json={"kind": "bulletin", "body": {"t": "2"}}, headers=sec)
        got = await dep.messages(2)
        assert [m["body"]["t"] for m in got] == ["会议改在三楼", "2"]
        h = await http.get(url, params={"since": 1}, headers=_auth(world.tok(world.deputies[0])))
        assert h.json()["head"] == 2 and [m["seq"] for m in h.json()["messages"]] == [2]
        r = await http.get(url, headers=_auth(world.tok(world.outsider)))
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = await http.post(
            url, json={"kind": "bulletin"}, headers=_auth(world.tok(world.deputies[0]))
        )
        assert r.status_code == 403
        r = await http.get(url)
        assert r.status_code == 401
        r = await http.get("/api/channels/meeting:abc/messages", headers=sec)
        assert r.status_code == 400 and "malformed channel" in r.json()["message"]
        r = await http.get(url, params={"limit": 0}, headers=sec)
        assert r.status_code == 400 and "`limit`" in r.json()["message"]
        # Read as a frame is: an integer past 64 bits is stored as a float, not a 500.
        big = b'{"kind": "bulletin", "body": {"n": -7948877838739785971222446080}}'
        r = await http.post(url, content=big, headers=sec)
        assert r.status_code == 201, r.text
        r = await http.post(url, json={"kind": "Bulletin", "key": "k"}, headers=sec)
        assert (r.status_code, r.json()["field"]) == (400, "kind"), r.text
        assert "lowercase name" in r.json()["message"]


async def test_revoked_token_stops_working(hub: RunningHub, world: World) -> None:
    """A token of an older token version (revoked) is refused over HTTP."""
    old = tokens.issue(world.deputies[0], -1)
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.get("/api/me", headers=_auth(old))
        assert r.status_code == 401 and "revoked" in r.json()["message"]


async def test_health_readiness_and_metrics(hub: RunningHub, world: World) -> None:
    """/healthz and /readyz answer ok; /metrics counts a publish and its delivery."""

    def value(text: str, name: str) -> float:
        line = next(x for x in text.splitlines() if x.startswith(name + " "))
        return float(line.split()[1])

    ch = f"meeting:{world.meeting}"
    dep = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    await dep.subscribe(ch)
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    async with httpx.AsyncClient(base_url=hub.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ok",
            "database": True,
            "broker": True,
            "listener": "listening",
        }
        before = (await http.get("/metrics")).text
        await sec.publish(ch, {"t": 1})
        await dep.messages(1)
        after = (await http.get("/metrics")).text
    # Exactly one frame reached a subscriber; the node may also have published presence
    # changes of its own (on desks nobody here subscribes to) meanwhile.
    for name in ("hub_messages_delivered_total", "hub_publish_delivery_lag_seconds_count"):
        assert value(after, name) - value(before, name) == 1, name
    assert (
        value(after, "hub_messages_published_total") - value(before, "hub_messages_published_total")
        >= 1
    )
    assert value(after, "hub_connections") == 2
