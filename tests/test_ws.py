"""End to end over /ws: real uvicorn, real WebSocket client, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import orjson
import websockets

from hub.auth import Tokens
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import SECRET, World, tokens
from tests.utils.servers import RunningHub, running_hub


async def test_notice_reaches_subscribers_in_order(hub: RunningHub, world: World) -> None:
    """A secretariat publish reaches every subscribed deputy, seq 1, 2, 3, once each."""
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    deps = [await Client.connect(hub.ws_url, world.tok(d)) for d in world.deputies]
    ch = f"meeting:{world.meeting}"
    for d in deps:
        assert (await d.subscribe(ch))["head"] == 0
    for i in range(3):
        r = await sec.publish(ch, {"text": f"通知{i}"}, key=f"n{i}")
        assert r == {"type": "published", "channel": ch, "seq": i + 1, "id": r["id"]}
    for d in deps:
        got = await d.messages(3)
        assert [m["seq"] for m in got] == [1, 2, 3]
        assert [m["body"]["text"] for m in got] == ["通知0", "通知1", "通知2"]
        assert got[0]["sender"] == {
            "id": world.secretariat,
            "name": "秘书处",
            "role": "secretariat",
        }


async def test_welcome_names_the_user(hub: RunningHub, world: World) -> None:
    """`welcome` carries the user's id, name and role and the server time."""
    c = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    assert c.welcome["user"] == {"id": world.deputies[0], "name": "代表0", "role": "deputy"}
    assert c.welcome["server_time"].endswith("Z")


async def test_auth_failures_close_with_4401(hub: RunningHub, world: World) -> None:
    """Forged, expired and missing tokens, and a non-auth first frame, close with 4401."""
    forged = Tokens("another-secret", 60).issue(world.deputies[0], 0)
    expired = Tokens(SECRET, 60).issue(world.deputies[0], 0, ttl=-1)
    for first in (
        {"type": "auth", "token": forged},
        {"type": "auth", "token": expired},
        {"type": "auth", "token": "garbage"},
        {"type": "subscribe", "channel": "meeting:1"},
    ):
        c = await Client.connect(hub.ws_url)
        await c.send(first)
        err = await c.expect("error")
        assert err["code"] == "unauthorized"
        assert await c.closed_with() == 4401
    c = await Client.connect(hub.ws_url)
    await c.send({"type": "auth", "token": expired})
    assert "expired" in (await c.expect("error"))["message"]


async def test_no_auth_in_time_closes_4401(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """A client that never sends `auth` is closed with 4401 after the auth timeout."""
    async with running_hub(settings.with_(auth_timeout=0.3)) as h:
        c = await Client.connect(h.ws_url)
        assert await c.closed_with() == 4401


async def test_deactivated_account_closes_4403(hub: RunningHub, world: World) -> None:
    """Deactivating an account closes its live connection with 4403 and refuses new ones."""
    import httpx

    dep = world.deputies[1]
    live = await Client.connect(hub.ws_url, world.tok(dep))
    adm = tokens.issue(world.admin, 0)
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.post(
            f"/api/admin/users/{dep}/deactivate", headers={"authorization": f"Bearer {adm}"}
        )
        assert r.status_code == 200
    assert await live.closed_with() == 4403
    c = await Client.connect(hub.ws_url)
    await c.send({"type": "auth", "token": world.tok(dep)})
    assert (await c.expect("error"))["code"] == "forbidden"
    assert await c.closed_with() == 4403


async def test_permissions_on_subscribe_and_publish(hub: RunningHub, world: World) -> None:
    """A unit cannot read another unit's inbox; a deputy cannot publish to a meeting nor
    to its desk; a supervisor cannot publish; an outsider cannot read the meeting."""
    unit1 = await Client.connect(hub.ws_url, world.tok(world.unit_users[0]))
    r = await unit1.request({"type": "subscribe", "channel": f"unit:{world.units[1]}", "ref": "x"})
    assert (r["type"], r["code"], r["ref"]) == ("error", "forbidden", "x")
    assert (await unit1.subscribe(f"unit:{world.units[0]}"))["type"] == "subscribed"

    dep = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    r = await dep.publish(f"meeting:{world.meeting}", {"t": 1})
    assert r["code"] == "forbidden"
    r = await dep.request({"type": "subscribe", "channel": f"deputy:{world.deputies[1]}"})
    assert r["code"] == "forbidden"
    r = await dep.request({"type": "subscribe", "channel": f"desk:{world.meeting}"})
    assert r["code"] == "forbidden"
    assert (await dep.publish(f"desk:{world.meeting}", {"t": "好"}))["code"] == "forbidden"

    sup = await Client.connect(hub.ws_url, world.tok(world.supervisor))
    assert (await sup.publish(f"meeting:{world.meeting}", {"t": 1}))["code"] == "forbidden"
    assert (await sup.subscribe(f"unit:{world.units[1]}"))["type"] == "subscribed"

    out = await Client.connect(hub.ws_url, world.tok(world.outsider))
    r = await out.request({"type": "subscribe", "channel": f"meeting:{world.meeting}"})
    assert r["code"] == "forbidden"
    assert (await out.subscribe(f"meeting:{world.other_meeting}"))["type"] == "subscribed"


async def test_bad_frames_get_errors_and_connection_survives(hub: RunningHub, world: World) -> None:
    """Malformed JSON, unknown types, wrong field types and bad channel names each get an
    `error` with a code, and the same connection keeps working."""
    c = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    cases = [
        ("{not json", "bad_request", "not valid JSON"),
        ("[1,2]", "bad_request", "JSON object"),
        ('{"type":"dance"}', "bad_request", "unknown frame type"),
        ('{"type":"subscribe","channel":"meeting:x"}', "bad_request", "malformed channel"),
        ('{"type":"subscribe","channel":"meeting:1","since":-1}', "bad_request", "since"),
        ('{"type":"subscribe","channel":"meeting:1","since":"3"}', "bad_request", "since"),
        ('{"type":"publish","channel":"meeting:1","kind":"n","body":[]}', "bad_request", "body"),
        ('{"type":"ack","channel":"meeting:1","seq":true}', "bad_request", "seq"),
        ('{"type":"ping","ref":123}', "bad_request", "ref"),
        ('{"type":"auth","token":"x"}', "unauthorized", "invalid token"),
        ('{"type":"ack","channel":"meeting:1","seq":99}', "not_found", "no message 99"),
    ]
    for raw, code, words in cases:
        await c.ws.send(raw)
        err = await c.expect("error")
        assert err["code"] == code, raw
        assert words in err["message"], (raw, err)
    await c.ws.send(b"\x00binary")
    assert (await c.expect("error"))["code"] == "bad_request"
    assert (await c.request({"type": "ping", "ref": "p1"})) == {"type": "pong", "ref": "p1"}


async def test_oversized_frame_closes_1009(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """A frame over the configured limit closes that connection with 1009; others go on."""
    async with running_hub(settings.with_(max_frame=1024)) as h:
        other = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        c = await Client.connect(h.ws_url, world.tok(world.secretariat))
        await c.send({"type": "ping", "pad": "x" * 2000})
        assert await c.closed_with() == 1009
        assert (await other.request({"type": "ping"}))["type"] == "pong"


async def test_flood_is_rate_limited_then_closed(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """Past the frame rate a client gets `rate_limited`, and is closed with 4429 if it
    keeps flooding; a neighbour is unaffected."""
    async with running_hub(settings.with_(frame_rate=5, frame_burst=10)) as h:
        other = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        c = await Client.connect(h.ws_url, world.tok(world.deputies[1]))
        for _ in range(40):
            await c.ws.send('{"type":"ping"}')
        codes = []
        try:
            while True:
                codes.append((await c.recv())["type"])
        except websockets.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 4429
        assert codes.count("pong") >= 10
        assert "error" in codes
        assert (await other.request({"type": "ping"}))["type"] == "pong"


async def test_since_replays_then_goes_live_without_gap(hub: RunningHub, world: World) -> None:
    """`since` replays stored messages, then live ones, with no gap or duplicate at the
    seam, while another client publishes concurrently."""
    ch = f"meeting:{world.meeting}"
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    for i in range(30):
        await sec.publish(ch, {"i": i})
    pub = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    # Each reader subscribes once the other publisher has reached a different point.
    marks = {35: asyncio.Event(), 50: asyncio.Event(), 65: asyncio.Event()}

    async def more() -> None:
        for i in range(30, 90):
            await pub.publish(ch, {"i": i})
            if i in marks:
                marks[i].set()

    task = asyncio.create_task(more())
    readers = []
    for since, mark in zip((0, 7, 29), marks.values(), strict=True):
        await asyncio.wait_for(mark.wait(), TIMEOUT)
        d = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
        await d.subscribe(ch, since=since)
        readers.append((since, d))
    await task
    for since, d in readers:
        got = await d.messages(90 - since)
        assert [m["seq"] for m in got] == list(range(since + 1, 91))
        assert [m["body"]["i"] for m in got] == list(range(since, 90))


async def test_subscribe_without_since_starts_at_head(hub: RunningHub, world: World) -> None:
    """Without `since` only messages after the head reported in `subscribed` arrive."""
    ch = f"meeting:{world.meeting}"
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    await sec.publish(ch, {"old": 1})
    d = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    assert (await d.subscribe(ch))["head"] == 1
    await sec.publish(ch, {"new": 1})
    assert (await d.messages(1))[0]["seq"] == 2


async def test_idempotent_publish_survives_restart(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """The same key gets the same `published` reply, also after a restart, and nothing new
    is stored."""
    ch = f"meeting:{world.meeting}"
    async with running_hub(settings) as h:
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        first = await sec.publish(ch, {"a": 1}, key="once")
        assert await sec.publish(ch, {"a": 1}, key="once") == first
        await sec.close()
    async with running_hub(settings) as h:
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        assert await sec.publish(ch, {"a": 1}, key="once") == first
        nxt = await sec.publish(ch, {"b": 2}, key="other")
        assert nxt["seq"] == first["seq"] + 1
        assert len(await h.services.log.read(ch, 0)) == 2


async def test_resume_after_restart_loses_nothing(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """A client that reconnects with `since` after a server restart gets what was published
    while it was away, once, in order."""
    ch = f"meeting:{world.meeting}"
    async with running_hub(settings) as h:
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        d = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        await d.subscribe(ch, since=0)
        for i in range(5):
            await sec.publish(ch, {"i": i})
        held = await d.messages(5)
    async with running_hub(settings) as h:
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        for i in range(5, 8):
            await sec.publish(ch, {"i": i})
        d = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        await d.subscribe(ch, since=held[-1]["seq"])
        got = await d.messages(3)
        assert [m["body"]["i"] for m in got] == [5, 6, 7]
        await sec.publish(ch, {"i": 8})
        assert (await d.messages(1))[0]["seq"] == 9


async def test_shutdown_closes_clients_with_1001(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """Stopping the server closes every client with 1001 (resume elsewhere)."""
    h = await __import__("tests.utils.servers", fromlist=["start_hub"]).start_hub(settings)
    d = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
    stop = asyncio.create_task(h.stop())
    assert await d.closed_with() == 1001
    await stop


async def test_slow_consumer_closed_4429_then_resumes(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """A client that does not read is closed with 4429 when its queue overflows; it then
    resumes with `since` and gets everything."""
    ch = f"meeting:{world.meeting}"
    async with running_hub(settings.with_(send_queue=20, max_frame=1 << 20, publish_quota=0)) as h:
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        slow = await websockets.connect(h.ws_url, max_size=None, max_queue=1)
        await slow.send(
            orjson.dumps({"type": "auth", "token": world.tok(world.deputies[0])}).decode()
        )
        await slow.send(orjson.dumps({"type": "subscribe", "channel": ch}).decode())
        for expected in ("welcome", "subscribed"):  # then it stops reading
            f = orjson.loads(await asyncio.wait_for(slow.recv(), TIMEOUT))
            assert f["type"] == expected, f
        # Large bodies fill the kernel's socket buffers, then the server's queue overflows.
        big = "长" * 100_000
        for i in range(200):
            await sec.publish(ch, {"i": i, "pad": big})
        code = None
        try:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
        assert code == 4429
        d = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        await d.subscribe(ch, since=0)
        got = await d.messages(200)
        assert [m["body"]["i"] for m in got] == list(range(200))


async def test_receipts_are_stored_and_confirmed(hub: RunningHub, world: World) -> None:
    """`ack` and `read` are stored and confirmed with `receipt`; `read` of a channel the user
    cannot see is forbidden."""
    ch = f"meeting:{world.meeting}"
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    await sec.publish(ch, {"t": 1})
    d = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    await d.subscribe(ch, since=0)
    await d.messages(1)
    r = await d.request({"type": "ack", "channel": ch, "seq": 1, "ref": "a"})
    assert r == {"type": "receipt", "of": "ack", "channel": ch, "seq": 1, "ref": "a"}
    r = await d.request({"type": "read", "channel": ch, "seq": 1})
    assert r["type"] == "receipt" and r["of"] == "read"
    r = await d.request({"type": "read", "channel": f"deputy:{world.deputies[1]}", "seq": 1})
    assert r["code"] == "forbidden"
    import sqlalchemy as sa

    from hub.store.schema import receipts

    async with hub.services.engine.connect() as conn:
        rows = (await conn.execute(sa.select(receipts.c.kind, receipts.c.user_id))).all()
    assert sorted(rows) == [("ack", world.deputies[0]), ("read", world.deputies[0])]


async def test_deactivation_closes_sockets_on_other_nodes(settings, world: World) -> None:  # type: ignore[no-untyped-def]
    """An account deactivated through one node loses its socket on another node (4403),
    and a revoked token version closes with 4401."""
    import httpx

    from hub.broker.memory import MemoryBroker
    from hub.identity import revoke_tokens

    bus = MemoryBroker()
    fast = settings.with_(account_check=0.1)
    async with running_hub(fast, bus) as a, running_hub(fast, bus.attach()) as b:
        dep, other = world.deputies[0], world.deputies[1]
        on_b = await Client.connect(b.ws_url, world.tok(dep))
        other_b = await Client.connect(b.ws_url, world.tok(other))
        adm = tokens.issue(world.admin, 0)
        async with httpx.AsyncClient(base_url=a.url) as http:
            r = await http.post(
                f"/api/admin/users/{dep}/deactivate", headers={"authorization": f"Bearer {adm}"}
            )
            assert r.status_code == 200
        assert await on_b.closed_with() == 4403
        await revoke_tokens(a.services.engine, other)
        assert await other_b.closed_with() == 4401
