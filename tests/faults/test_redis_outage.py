"""Redis going away for a while costs no subscriber a message: the log is the record."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.faults import Follower, until
from tests.utils.redis_server import RedisServer

OUTAGE = 10.0


@pytest.mark.slow
async def test_redis_stopped_10s_then_restarted_subscribers_miss_nothing(
    start_node: StartNode, own_redis: RedisServer, pg_world: World, pg_url: str
) -> None:
    """Redis stopped for 10 s while node A publishes and node B's deputies listen, then
    restarted on the same port: every deputy on B ends with every message, in order,
    once, on the connection it had all along. B's periodic head check is off (60 s), so
    this proves the broker's reconnect, resubscribe and catch-up from the log. The log's
    hash chain holds."""
    w = pg_world
    env = {"HUB_CATCHUP_INTERVAL": 60}
    a, b = await asyncio.gather(
        start_node(redis=own_redis.url, **env), start_node(redis=own_redis.url, **env)
    )
    ch = f"meeting:{w.meeting}"
    followers = [Follower(w.tok(d), ch, [b.ws_url]) for d in w.deputies]
    sec = await Client.connect(a.ws_url, w.tok(w.secretariat))
    n = 0

    async def publish_for(seconds: float) -> None:
        nonlocal n
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r = await sec.publish(ch, {"i": n}, key=f"n{n}")
            assert r["type"] == "published", r
            n += 1
            await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(f.run(until=10**9)) for f in followers]
    await asyncio.wait_for(asyncio.gather(*(f.subscribed.wait() for f in followers)), TIMEOUT)
    await publish_for(1.0)
    before = n
    await until(lambda: all(len(f.seqs) == before for f in followers))

    own_redis.stop()
    async with httpx.AsyncClient() as http:
        await publish_for(OUTAGE)
        during = n - before
        r = await http.get(b.url + "/readyz")
        assert (r.status_code, r.json()["broker"]) == (503, False)
        await own_redis.start()
        assert own_redis.proc is not None and own_redis.proc.poll() is None, "restarted"
        await publish_for(2.0)
        await until(lambda: all(len(f.seqs) == n for f in followers))
        r = await http.get(b.url + "/readyz")
        assert r.status_code == 200, r.text

    # After the restart messages flow live again, not only through the catch-up: the
    # next periodic head check is a minute away, and this waits for less than that.
    await publish_for(0.01)
    await until(lambda: all(len(f.seqs) == n for f in followers), timeout=TIMEOUT)

    for t in tasks:
        t.cancel()
    assert during > 100
    for f in followers:
        assert f.seqs == list(range(1, n + 1))
        assert [m["i"] for m in f.bodies] == list(range(n))
        assert f.connects == 1 and f.closes == []
    await assert_chain_ok(pg_url, messages=n)
