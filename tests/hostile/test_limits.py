"""Limits at the surface, against a real hub over real sockets: the publish body bound, the
per-account frame rate and socket cap, the daily quota of raw publishes, sockets that end
with their token, and clients that never finish their headers."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from hub.auth import Tokens
from hub.config import Settings
from hub.limits import FLUSH, PublishQuota
from hub.store.schema import publish_usage
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import SECRET, World
from tests.utils.servers import RunningHub, running_hub


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _publish(kind: str, pad: int) -> dict[str, object]:
    return {"kind": kind, "body": {"pad": "x" * pad}}


async def _head(h: RunningHub, channel: str) -> int:
    return await h.services.log.head(channel)


async def test_publish_body_limit_is_the_frame_limit_on_http_and_ws(
    settings: Settings, world: World
) -> None:
    """A raw publish over HUB_MAX_FRAME is refused on both paths — HTTP with 413
    `too_large` (declared or chunked), /ws with close 1009 — and nothing is stored; one
    just under it is stored over either path."""
    ch = f"meeting:{world.meeting}"
    sec = world.tok(world.secretariat)
    async with running_hub(settings) as h, httpx.AsyncClient(base_url=h.url) as http:
        url = f"/api/channels/{ch}/messages"
        limit = settings.max_frame
        r = await http.post(url, json=_publish("bulletin", limit), headers=_auth(sec))
        assert (r.status_code, r.json()["code"]) == (413, "too_large")
        assert str(limit) in r.json()["message"]

        async def chunked() -> object:
            for _ in range(limit // 1000 + 2):
                yield b" " * 1000

        r = await http.post(url, content=chunked(), headers=_auth(sec))  # type: ignore[arg-type]
        assert (r.status_code, r.json()["code"]) == (413, "too_large")

        ws = await Client.connect(h.ws_url, sec)
        await ws.send({"type": "publish", "channel": ch, **_publish("bulletin", limit)})
        assert await ws.closed_with() == 1009
        assert await _head(h, ch) == 0

        fits = limit - 200
        r = await http.post(url, json=_publish("bulletin", fits), headers=_auth(sec))
        assert r.status_code == 201
        ws = await Client.connect(h.ws_url, sec)
        assert (await ws.publish(ch, {"pad": "x" * fits}))["type"] == "published"
        assert await _head(h, ch) == 2


async def test_frame_rate_is_per_account_across_sockets_and_http(
    settings: Settings, world: World
) -> None:
    """One account's sockets and HTTP writes draw on one bucket: a second socket buys no
    more frames, and once they are spent an HTTP publish and a workflow write get 429
    `rate_limited` (reads still answer); another account is not affected."""
    burst = 10
    async with running_hub(settings.with_(frame_rate=0.2, frame_burst=burst)) as h:
        sec = world.tok(world.secretariat)
        a = await Client.connect(h.ws_url, sec)
        b = await Client.connect(h.ws_url, sec)
        replies = []
        for c in (a, b):
            for _ in range(burst * 3 // 4):
                replies.append(await c.request({"type": "ping"}))
        pongs = [f for f in replies if f["type"] == "pong"]
        refused = [f for f in replies if f["type"] == "error"]
        assert len(pongs) <= burst + 1, "two sockets got more than one account's burst"
        assert refused and {f["code"] for f in refused} == {"rate_limited"}
        async with httpx.AsyncClient(base_url=h.url) as http:
            r = await http.post(
                f"/api/channels/meeting:{world.meeting}/messages",
                json={"kind": "bulletin", "body": {}},
                headers=_auth(sec),
            )
            assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
            # Every write draws on it, not only raw publishes: a workflow write too.
            notice = await http.post(
                f"/api/meetings/{world.meeting}/notices", json={"title": "x"}, headers=_auth(sec)
            )
            assert (notice.status_code, notice.json()["code"]) == (429, "rate_limited")
            assert (await http.get("/api/me", headers=_auth(sec))).status_code == 200
        other = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        assert (await other.request({"type": "ping"}))["type"] == "pong"


async def test_sockets_per_account_are_capped(settings: Settings, world: World) -> None:
    """Past HUB_ACCOUNT_CONNECTIONS open sockets, one more of that account gets
    `too_many_connections` and close 4409; another account still connects, and closing
    one socket makes room again."""
    async with running_hub(settings.with_(account_connections=3)) as h:
        tok = world.tok(world.deputies[0])
        held = [await Client.connect(h.ws_url, tok) for _ in range(3)]
        extra = await Client.connect(h.ws_url)
        await extra.send({"type": "auth", "token": tok})
        err = await extra.expect("error")
        assert err["code"] == "too_many_connections" and "3" in err["message"]
        assert await extra.closed_with() == 4409
        assert (await Client.connect(h.ws_url, world.tok(world.deputies[1]))).welcome
        await held.pop().close()
        for _ in range(int(TIMEOUT / 0.05)):  # the server counts the close a moment later
            again = await Client.connect(h.ws_url)
            await again.send({"type": "auth", "token": tok})
            if (await again.recv())["type"] == "welcome":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("a closed socket's place was not freed")


async def test_daily_quota_of_raw_publishes(settings: Settings, world: World) -> None:
    """Past HUB_PUBLISH_QUOTA bytes a day, an account's raw publishes get `quota_exceeded`
    on /ws and 429 on HTTP and store nothing, also after a restart; a repeat of a stored
    key is still answered, workflow messages and other accounts are not counted, and the
    next day it may publish again."""
    ch = f"meeting:{world.meeting}"
    sec = world.tok(world.secretariat)
    quota = settings.with_(publish_quota=5200)
    async with running_hub(quota) as h:
        c = await Client.connect(h.ws_url, sec)
        for i in range(4):  # 1,266 bytes each with the row overhead
            assert (await c.publish(ch, {"pad": "x" * 1000}, key=f"k{i}"))["type"] == "published"
        r = await c.publish(ch, {"pad": "x" * 1000}, key="k4")
        assert (r["type"], r["code"]) == ("error", "quota_exceeded")
        assert "5200" in r["message"] and r["resets"].endswith("Z")
        assert await _head(h, ch) == 4
        assert (await c.publish(ch, {"pad": "x" * 1000}, key="k0"))["seq"] == 1
    async with running_hub(quota) as h, httpx.AsyncClient(base_url=h.url) as http:
        url = f"/api/channels/{ch}/messages"
        refused = await http.post(url, json=_publish("bulletin", 10), headers=_auth(sec))
        assert (refused.status_code, refused.json()["code"]) == (429, "quota_exceeded")
        assert await _head(h, ch) == 4
        notice = await http.post(
            f"/api/meetings/{world.meeting}/notices",
            json={"title": "下午三点开会", "text": "x" * 3000},
            headers=_auth(sec),
        )
        assert notice.status_code == 201, notice.text
        opinion = await http.post(
            "/api/opinions",
            json={"meeting_id": world.meeting, "text": "x" * 1000},
            headers=_auth(world.tok(world.deputies[0])),
        )
        assert opinion.status_code == 201, opinion.text
        h.services.clock.set(h.services.clock.now())
        h.services.clock.advance(timedelta(days=1))
        next_day = await http.post(url, json=_publish("bulletin", 10), headers=_auth(sec))
        assert next_day.status_code == 201


async def _stored_usage(h: RunningHub, user_id: int) -> int:
    async with h.services.engine.connect() as conn:
        used = (
            await conn.execute(
                sa.select(sa.func.sum(publish_usage.c.bytes)).where(
                    publish_usage.c.user_id == user_id
                )
            )
        ).scalar()
    return int(used or 0)


async def _usage_reaches(h: RunningHub, user_id: int, n: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while await _stored_usage(h, user_id) < n:
        assert time.monotonic() < deadline, f"the stored usage never reached {n}"
        await asyncio.sleep(0.05)


async def test_daily_quota_holds_across_two_nodes(settings: Settings, world: World) -> None:
    """Two nodes on one database: each adds what it counted to the database within about
    a second, and checks against the total of both (re-read when older than FLUSH), so an
    account cannot get the quota once per node."""
    ch = f"meeting:{world.meeting}"
    sec = world.tok(world.secretariat)
    quota = settings.with_(publish_quota=5200)
    async with running_hub(quota) as a, running_hub(quota) as b:
        ca, cb = await Client.connect(a.ws_url, sec), await Client.connect(b.ws_url, sec)
        assert (await cb.publish(ch, {"pad": "x" * 1000}, key="b0"))["type"] == "published"
        await _usage_reaches(b, world.secretariat, 1266)  # node b knows the total: 1,266
        for i in range(3):  # 3 x 1,266 bytes on node a
            assert (await ca.publish(ch, {"pad": "x" * 1000}, key=f"a{i}"))["type"] == "published"
        await _usage_reaches(a, world.secretariat, 4 * 1266)
        await asyncio.sleep(FLUSH)  # what node b knows is now too old to be trusted
        r = await cb.publish(ch, {"pad": "x" * 1000}, key="b1")
        assert (r["type"], r["code"]) == ("error", "quota_exceeded")
        assert "6330" in r["message"]


_REFUSE = {
    "sqlite": [
        f"CREATE TRIGGER refuse_{op} BEFORE {op} ON publish_usage "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        for op in ("INSERT", "UPDATE")
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON publish_usage "
        "FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}
_ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_INSERT", "DROP TRIGGER refuse_UPDATE"],
    "postgresql": ["DROP TRIGGER refuse ON publish_usage", "DROP FUNCTION refuse()"],
}


async def test_quota_count_kept_while_the_database_refuses(
    settings: Settings, world: World
) -> None:
    """A count the node could not add to the database (a trigger refuses every write to
    ``publish_usage`` for a while) is kept, still checked against, and added once the
    database takes it."""
    ch = f"meeting:{world.meeting}"
    sec = world.tok(world.secretariat)
    async with running_hub(settings.with_(publish_quota=5200)) as h:
        (quota,) = [p for p in h.services.parts if isinstance(p, PublishQuota)]
        engine = h.services.engine

        async def run(statements: dict[str, list[str]]) -> None:
            async with engine.begin() as conn:
                for sql in statements[engine.dialect.name]:
                    await conn.exec_driver_sql(sql)

        c = await Client.connect(h.ws_url, sec)
        await run(_REFUSE)
        try:
            for i in range(4):
                assert (await c.publish(ch, {"pad": "x" * 1000}, key=f"k{i}"))["seq"] == i + 1
            with pytest.raises(sa.exc.DBAPIError, match="refused"):
                await quota.flush()
            r = await c.publish(ch, {"pad": "x" * 1000}, key="k4")
            assert (r["type"], r["code"]) == ("error", "quota_exceeded")
            assert await _stored_usage(h, world.secretariat) == 0
        finally:
            await run(_ALLOW)
        await quota.flush()
        assert await _stored_usage(h, world.secretariat) == 4 * 1266


async def test_socket_closed_4401_when_its_token_expires(settings: Settings, world: World) -> None:
    """A socket is closed with 4401 when its token expires, not only checked at `auth`;
    `welcome` says when."""
    async with running_hub(settings) as h:
        short = Tokens(SECRET, 60).issue(world.deputies[0], 0, ttl=2)
        c = await Client.connect(h.ws_url, short)
        assert c.welcome["expires"].endswith("Z")
        await c.subscribe(f"meeting:{world.meeting}")
        started = time.monotonic()
        assert await c.closed_with() == 4401
        assert time.monotonic() - started < 3.5


async def test_reauth_on_the_open_socket_keeps_subscriptions(
    settings: Settings, world: World
) -> None:
    """A second `auth` with a fresher token of the same user moves the socket's expiry and
    keeps its subscriptions; another user's or a bad token is refused and changes nothing."""
    ch = f"meeting:{world.meeting}"
    dep = world.deputies[0]
    async with running_hub(settings) as h:
        c = await Client.connect(h.ws_url, Tokens(SECRET, 60).issue(dep, 0, ttl=2))
        await c.subscribe(ch)
        r = await c.request({"type": "auth", "token": world.tok(world.deputies[1]), "ref": "o"})
        assert (r["type"], r["code"], r["ref"]) == ("error", "forbidden", "o")
        r = await c.request({"type": "auth", "token": "garbage"})
        assert (r["type"], r["code"]) == ("error", "unauthorized")
        r = await c.request({"type": "auth", "token": world.tok(dep), "ref": "a"})
        assert (r["type"], r["ref"]) == ("reauthed", "a")
        assert r["expires"] > c.welcome["expires"]
        await asyncio.sleep(3)
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        await sec.publish(ch, {"t": "after the first token expired"})
        (m,) = await c.messages(1)
        assert m["body"] == {"t": "after the first token expired"}


async def _closed_within(port: int, sent: list[bytes], bound: float) -> bytes:
    """Open a raw TCP connection, trickle ``sent`` (one piece every 0.1 s, then nothing)
    and return what the server wrote before closing; fail if it is still open after
    ``bound`` seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    got = b""

    async def trickle() -> None:
        for piece in sent:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.1)

    feeding = asyncio.create_task(trickle())
    try:
        async with asyncio.timeout(bound):
            while chunk := await reader.read(4096):
                got += chunk
    except TimeoutError:
        raise AssertionError(
            f"still open after {time.monotonic() - started:.1f} s, having sent {sent!r}"
        ) from None
    finally:
        feeding.cancel()
        writer.close()
    return got


async def test_headers_not_finished_in_time_are_closed(settings: Settings, world: World) -> None:
    """A connection that sends nothing, a partial request line, or headers trickled one at
    a time (HTTP, a second request on a kept-alive connection, a /ws upgrade) is answered
    408 and closed after HUB_HEADER_TIMEOUT; ordinary requests and sockets are served."""
    async with running_hub(settings.with_(header_timeout=0.5)) as h:
        port = int(h.url.rsplit(":", 1)[1])
        bound = 0.5 + 2.0
        assert (await _closed_within(port, [], bound)).startswith(b"HTTP/1.1 408")
        assert (await _closed_within(port, [b"GET /heal"], bound)).startswith(b"HTTP/1.1 408")
        slow_http = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n"] + [b"X-A: b\r\n"] * 30
        assert (await _closed_within(port, slow_http, bound)).startswith(b"HTTP/1.1 408")
        second = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /healthz HTTP/1.1\r\n"]
        got = await _closed_within(port, second + [b"X-A: b\r\n"] * 30, bound)
        assert got.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in got
        slow_ws = [
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
            *[b"X-A: b\r\n"] * 30,
        ]
        assert (await _closed_within(port, slow_ws, bound)).startswith(b"HTTP/1.1 408")
        async with httpx.AsyncClient(base_url=h.url) as http:
            assert (await http.get("/healthz")).status_code == 200
            await asyncio.sleep(0.8)  # longer than the header bound, between requests
            assert (await http.get("/healthz")).status_code == 200
        c = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        await asyncio.sleep(0.8)
        assert (await c.request({"type": "ping"}))["type"] == "pong"
