"""The broker contract, once for the in-process broker and once for real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hub.broker import Broker
from hub.broker.redis import RedisBroker
from tests.utils import TIMEOUT
from tests.utils.backends import redis_prefix
from tests.utils.redis_server import RedisServer

Heard = list[tuple[str, int, str]]


async def _node(make: Callable[[], Broker]) -> tuple[Broker, Heard, asyncio.Event]:
    heard: Heard = []
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    b = make()
    await b.start(lambda c, s, f, _t: heard.append((c, s, f)), on_reconnect)
    return b, heard, reconnected


async def _until(cond: Callable[[], bool]) -> None:
    for _ in range(int(TIMEOUT / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def test_publish_reaches_subscribed_nodes_only(broker_factory: Callable[[], Broker]) -> None:
    """A publish reaches every node subscribed to the channel, with seq and frame intact."""
    a, heard_a, _ = await _node(broker_factory)
    b, heard_b, _ = await _node(broker_factory)
    await a.subscribe("meeting:1")
    await b.subscribe("meeting:2")
    await b.publish("meeting:1", 7, '{"type":"message","t":"通知"}', 0.0)
    await b.publish("meeting:2", 1, "{}", 0.0)
    await _until(lambda: len(heard_a) == 1 and len(heard_b) == 1)
    assert heard_a == [("meeting:1", 7, '{"type":"message","t":"通知"}')]
    assert heard_b == [("meeting:2", 1, "{}")]
    await a.unsubscribe("meeting:1")
    await b.publish("meeting:1", 8, "{}", 0.0)
    await b.publish("meeting:2", 2, "{}", 0.0)
    await _until(lambda: len(heard_b) == 2)
    assert len(heard_a) == 1
    assert await a.ping() and await b.ping()
    await a.close()
    await b.close()


async def test_redis_broker_resubscribes_after_restart() -> None:
    """After its Redis restarts, the broker reconnects by itself, resubscribes every
    channel and reports the reconnect (so the node catches up from the log)."""
    server = await RedisServer().start()
    prefix = redis_prefix()
    try:
        a, heard, reconnected = await _node(lambda: RedisBroker(server.url, prefix))
        b, _, _ = await _node(lambda: RedisBroker(server.url, prefix))
        await a.subscribe("unit:1")
        await b.publish("unit:1", 1, "{}", 0.0)
        await _until(lambda: len(heard) == 1)
        port = server.port
        server.stop()
        assert not await b.ping()
        server = await RedisServer(port).start()
        await asyncio.wait_for(reconnected.wait(), TIMEOUT)
        for _ in range(int(TIMEOUT / 0.05)):
            try:
                await b.publish("unit:1", 2, "{}", 0.0)
            except Exception:
                await asyncio.sleep(0.05)
                continue
            break
        await _until(lambda: len(heard) == 2)
        assert [s for _, s, _ in heard] == [1, 2]
        await a.close()
        await b.close()
    finally:
        server.stop()


async def test_state_listening_once_started_stopped_once_closed(
    broker_factory: Callable[[], Broker],
) -> None:
    """A started broker reports ``listening`` (what /readyz reads), a closed one
    ``stopped``."""
    b = broker_factory()
    assert b.state == "stopped"
    b, _, _ = await _node(lambda: b)
    await _until(lambda: b.state == "listening")
    await b.close()
    assert b.state == "stopped"
