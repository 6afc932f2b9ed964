"""Redis faults other than a clean stop: frozen with its sockets open, flapping, refusing at
the protocol level, and back before the database. Two hub processes on PostgreSQL talk to
Redis through the test's own proxy; the subscribers' node has its periodic head check off
(60 s), so what they get after a fault comes from the broker noticing, reconnecting and
catching up from the log. Every test ends with ``hub verify`` passing on the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.backends import REDIS_URL
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.faults import (
    REDIS_LOADING,
    REDIS_MAX_CLIENTS,
    Answer,
    FaultProxy,
    Follower,
    redis_refusal,
    until,
)
from tests.utils.servers import HubProcess

# The subscribers' node: no periodic head check; a silent Redis noticed within 1.5 s.
QUIET = {
    "HUB_CATCHUP_INTERVAL": 60,
    "HUB_REDIS_HEALTH_INTERVAL": 0.5,
    "HUB_REDIS_SOCKET_TIMEOUT": 1.0,
}
NOTICED = TIMEOUT  # seconds: far above health interval + timeout, far below "never"


@pytest.fixture
async def redis_proxy() -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of the shared Redis (the tests use private prefixes)."""
    u = urlparse(REDIS_URL)
    proxy = await FaultProxy(u.hostname or "127.0.0.1", u.port or 6379).start()
    yield proxy
    proxy.thaw()
    await proxy.close()


def via(proxy: FaultProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}/0"


class Traffic:
    """The secretariat publishing numbered notices on one node, deputies following the
    meeting on another."""

    def __init__(self, w: World, pub_node: HubProcess, sub_node: HubProcess) -> None:
        self.w = w
        self.ch = f"meeting:{w.meeting}"
        self.pub_node = pub_node
        self.followers = [Follower(w.tok(d), self.ch, [sub_node.ws_url]) for d in w.deputies]
        self.n = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.sec = await Client.connect(self.pub_node.ws_url, self.w.tok(self.w.secretariat))
        self._tasks = [asyncio.create_task(f.run(until=10**9)) for f in self.followers]
        await asyncio.wait_for(
            asyncio.gather(*(f.subscribed.wait() for f in self.followers)), TIMEOUT
        )

    async def publish(self, seconds: float = 0.0, count: int = 0) -> None:
        """Publish for ``seconds`` (at about 50 a second), or ``count`` notices."""
        end = time.monotonic() + seconds
        first = self.n
        while time.monotonic() < end or self.n - first < count:
            r = await self.sec.publish(self.ch, {"i": self.n}, key=f"n{self.n}")
            assert r["type"] == "published", r
            self.n += 1
            await asyncio.sleep(0.02)

    async def all_delivered(self, timeout: float = TIMEOUT * 2) -> None:
        await until(lambda: all(len(f.seqs) >= self.n for f in self.followers), timeout)

    def check(self, one_connection: bool = True) -> None:
        """Every follower holds every notice once, in order."""
        for t in self._tasks:
            t.cancel()
        for f in self.followers:
            assert f.seqs == list(range(1, self.n + 1))
            assert [m["i"] for m in f.bodies] == list(range(self.n))
            if one_connection:
                assert f.connects == 1 and f.closes == [], "served on one connection"


async def ready(http: httpx.AsyncClient, node: HubProcess) -> tuple[int, dict[str, object]]:
    r = await http.get(node.url + "/readyz", timeout=TIMEOUT)
    return r.status_code, r.json()


async def wait_listener(http: httpx.AsyncClient, node: HubProcess, state: str) -> float:
    """Seconds until the node's /readyz reports its broker listener in ``state``."""
    t0 = time.monotonic()
    while (await ready(http, node))[1]["listener"] != state:
        assert time.monotonic() - t0 < TIMEOUT * 3, f"listener never {state}"
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


def logged(node: HubProcess, text: str) -> int:
    assert node.log is not None
    return Path(node.log).read_text().count(text)


@pytest.mark.slow
async def test_redis_frozen_noticed_reconnects_on_thaw_nothing_lost(
    start_node: StartNode, redis_proxy: FaultProxy, pg_world: World, pg_url: str
) -> None:
    """Redis frozen (sockets open, nothing answered) for 6 s while node A publishes: node
    B's health check notices within seconds and logs it, /readyz answers 503 with the
    listener reconnecting; after the thaw B reconnects by itself, /readyz answers 200,
    and B's deputies end with every notice once, in order, on the connection they had —
    the ones published during the freeze from the log, with nothing published after."""
    a = await start_node(redis=via(redis_proxy), **QUIET)
    b = await start_node(redis=via(redis_proxy), **QUIET)
    t = Traffic(pg_world, a, b)
    await t.start()
    await t.publish(seconds=1.0)
    await t.all_delivered()

    async with httpx.AsyncClient() as http:
        assert (await ready(http, b))[0] == 200
        redis_proxy.freeze()
        noticing = asyncio.create_task(wait_listener(http, b, "reconnecting"))
        await t.publish(seconds=6.0)
        assert await noticing < NOTICED
        assert logged(b, "redis broker connection lost: Silent") >= 1
        status, body = await ready(http, b)
        assert (status, body["listener"], body["broker"]) == (503, "reconnecting", False)
        redis_proxy.thaw()
        await wait_listener(http, b, "listening")
        await t.all_delivered()
        assert logged(b, "redis broker reconnected") == 1
        assert (await ready(http, b))[0] == 200

    await t.publish(seconds=1.0)  # live again
    await t.all_delivered()
    t.check()
    await assert_chain_ok(pg_url)


@pytest.mark.slow
async def test_redis_flapping_nothing_lost(
    start_node: StartNode, redis_proxy: FaultProxy, pg_world: World, pg_url: str
) -> None:
    """Redis connections reset and refused again and again (twelve flaps in about 6 s)
    while node A publishes, the last notices during the last outage: B's deputies end
    with every notice once, in order, on their first connection, and /readyz is 200."""
    a = await start_node(redis=via(redis_proxy), **QUIET)
    b = await start_node(redis=via(redis_proxy), **QUIET)
    t = Traffic(pg_world, a, b)
    await t.start()
    await t.publish(seconds=0.5)
    publishing = asyncio.create_task(t.publish(seconds=6.0))
    flaps = 0
    while not publishing.done():
        flaps += 1
        if flaps % 2:
            redis_proxy.reset()  # connections reset, new ones accepted
            await asyncio.sleep(0.3)
        else:
            await redis_proxy.cut()  # connections reset, new ones refused
            await asyncio.sleep(0.3)
            await redis_proxy.restore()
        await asyncio.sleep(0.2)
    await publishing
    await redis_proxy.cut()
    await t.publish(count=10)  # heard by no other node: only the catch-up brings them
    await asyncio.sleep(1.5)  # longer than a publish retries
    await redis_proxy.restore()
    await t.all_delivered()
    async with httpx.AsyncClient() as http:
        await wait_listener(http, b, "listening")
        assert (await ready(http, b))[0] == 200
    assert flaps >= 10 and logged(b, "redis broker reconnected") >= 3
    await t.publish(seconds=0.5)
    await t.all_delivered()
    t.check()
    await assert_chain_ok(pg_url)


@pytest.mark.slow
@pytest.mark.parametrize(
    "answer",
    [redis_refusal(REDIS_LOADING), redis_refusal(REDIS_MAX_CLIENTS, at_once=True)],
    ids=["loading", "max-clients"],
)
async def test_redis_refusing_at_protocol_level_nothing_lost(
    start_node: StartNode, redis_proxy: FaultProxy, pg_world: World, pg_url: str, answer: Answer
) -> None:
    """Redis's connections dropped and every new one answered with a RESP error for 4 s
    (``-LOADING …`` to every command, or ``-ERR max number of clients reached`` and
    closed): /readyz answers 503 with the listener reconnecting; when Redis serves again
    the deputies on B end with every notice once, in order, and /readyz is 200."""
    a = await start_node(redis=via(redis_proxy), **QUIET)
    b = await start_node(redis=via(redis_proxy), **QUIET)
    t = Traffic(pg_world, a, b)
    await t.start()
    await t.publish(seconds=0.5)
    async with httpx.AsyncClient() as http:
        redis_proxy.refuse_with(answer)
        noticing = asyncio.create_task(wait_listener(http, b, "reconnecting"))
        await t.publish(seconds=4.0)
        assert await noticing < NOTICED
        status, body = await ready(http, b)
        assert (status, body["listener"]) == (503, "reconnecting")
        redis_proxy.forward()
        await wait_listener(http, b, "listening")
        await t.all_delivered()
        assert (await ready(http, b))[0] == 200
    assert logged(b, "redis broker reconnected") >= 1
    await t.publish(seconds=0.5)
    await t.all_delivered()
    t.check()
    await assert_chain_ok(pg_url)


@pytest.mark.slow
async def test_redis_back_before_the_database_listener_survives(
    start_node: StartNode, redis_proxy: FaultProxy, pg_world: World, pg_url: str
) -> None:
    """Node A loses Redis and PostgreSQL; Redis comes back first, so the catch-up after
    the reconnect fails: A's listener survives, logs it and retries the catch-up until the
    database is back. A's deputies then hold every notice node B published meanwhile, once
    and in order, and notices published on B afterwards reach them live."""
    u = urlparse(pg_url.replace("+asyncpg", ""))
    pg = await FaultProxy(u.hostname or "127.0.0.1", u.port or 5432).start()
    a_db = pg_url.replace(f"{u.hostname}:{u.port}", f"127.0.0.1:{pg.port}")
    a = await start_node(redis=via(redis_proxy), db=a_db, **QUIET)
    b = await start_node(HUB_CATCHUP_INTERVAL=60)  # straight to Redis and PostgreSQL
    t = Traffic(pg_world, b, a)
    await t.start()
    await t.publish(seconds=0.5)
    await t.all_delivered()

    async with httpx.AsyncClient() as http:
        await redis_proxy.cut()
        await pg.cut()
        await t.publish(count=25)  # lost to A's broker
        await redis_proxy.restore()  # Redis back, the database not
        await until(lambda: logged(a, "redis broker reconnected") == 1, TIMEOUT * 2)
        await asyncio.sleep(1.0)  # A's catch-up fails, and is tried again
        await t.publish(count=25)  # heard live by A, but the gap cannot be read yet
        status, body = await ready(http, a)
        await pg.restore()
        await t.all_delivered()
        assert (await ready(http, a))[0] == 200
    assert (status, body["database"], body["listener"]) == (503, False, "listening")

    await t.publish(count=25)  # afterwards: live from B to A's deputies
    await t.all_delivered()
    t.check(one_connection=False)  # A may close sockets while its database is away
    assert logged(a, "catch-up after the broker reconnected failed") >= 1
    await pg.close()
    await assert_chain_ok(pg_url)
