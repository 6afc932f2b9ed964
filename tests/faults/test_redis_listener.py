"""The Redis broker's listener in this process, against real Redis: it survives what it
did not foresee, and /readyz tells when it does not listen."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from hub.broker.redis import RedisBroker
from tests.utils import TIMEOUT
from tests.utils.backends import REDIS_URL, need, redis_prefix
from tests.utils.chain import assert_chain_ok
from tests.utils.faults import FaultProxy, until
from tests.utils.servers import running_hub, settings_for


async def test_listener_survives_any_exception_logs_it_and_catches_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception nobody foresaw in the listener (here: the node's handler raising)
    does not end it: it is logged with its traceback, the listener reconnects, has the
    node catch up (and retries the catch-up while that fails too), and hears the next
    message."""
    need(REDIS_URL, "Redis")
    prefix = redis_prefix()
    heard: list[int] = []
    catchups: list[str] = []

    def on_message(channel: str, seq: int, frame: str, stored_at: float) -> None:
        if seq == 1:
            raise RuntimeError("a bug in the node")
        heard.append(seq)

    async def on_reconnect() -> None:
        catchups.append("tried")
        if len(catchups) < 3:
            raise OSError("the database is away")

    b = RedisBroker(REDIS_URL, prefix, health_interval=0.2, socket_timeout=1.0)
    pub = RedisBroker(REDIS_URL, prefix)
    await b.start(on_message, on_reconnect)
    await b.subscribe("c")
    try:
        with caplog.at_level(logging.INFO, "hub.broker.redis"):
            await pub.publish("c", 1, "{}", 0.0)
            await until(lambda: len(catchups) == 3, TIMEOUT)
            await until(lambda: b.state == "listening", TIMEOUT)
            await pub.publish("c", 2, "{}", 0.0)
            await until(lambda: heard == [2], TIMEOUT)
        failed = [r for r in caplog.records if "listener failed" in r.getMessage()]
        assert len(failed) == 1 and failed[0].exc_info is not None
        retried = [r for r in caplog.records if "catch-up after" in r.getMessage()]
        assert len(retried) == 2
    finally:
        await b.close()
        await pub.close()
    assert b.state == "stopped"


async def test_readyz_503_when_the_broker_listener_stopped(pg_url: str, tmp_path: Path) -> None:
    """/readyz answers 200 while the broker listener listens, and 503 with
    ``"listener": "stopped"`` once it has ended, though Redis still answers pings."""
    need(REDIS_URL, "Redis")
    broker = RedisBroker(REDIS_URL, redis_prefix())
    async with (
        running_hub(settings_for(pg_url, tmp_path), broker) as hub,
        httpx.AsyncClient() as http,
    ):
        r = await http.get(hub.url + "/readyz")
        assert (r.status_code, r.json()["listener"]) == (200, "listening")
        task = broker._task
        assert task is not None
        task.cancel()  # the listener ends, as it would by a BaseException
        await asyncio.wait([task], timeout=TIMEOUT)
        assert await broker.ping()
        r = await http.get(hub.url + "/readyz")
        assert r.status_code == 503
        assert r.json() | {"status": "?"} == {
            "status": "?",
            "database": True,
            "broker": False,
            "listener": "stopped",
        }
    await assert_chain_ok(pg_url, messages=0)  # nothing was published


async def test_channel_subscribed_while_redis_frozen_is_heard_after_the_thaw() -> None:
    """A channel the node starts serving while Redis is frozen: the subscribe returns
    without Redis, and once Redis answers again the listener subscribes it with the
    others, so its messages are heard."""
    need(REDIS_URL, "Redis")
    u = urlparse(REDIS_URL)
    proxy = await FaultProxy(u.hostname or "127.0.0.1", u.port or 6379).start()
    prefix = redis_prefix()
    heard: list[tuple[str, int]] = []

    async def on_reconnect() -> None:
        pass

    b = RedisBroker(f"redis://127.0.0.1:{proxy.port}/0", prefix, 0.2, 0.5)
    pub = RedisBroker(REDIS_URL, prefix)
    await b.start(lambda c, s, f, t: heard.append((c, s)), on_reconnect)
    try:
        await b.subscribe("early")
        proxy.freeze()
        await until(lambda: b.state == "reconnecting", TIMEOUT)
        await asyncio.wait_for(b.subscribe("late"), TIMEOUT)
        proxy.thaw()
        await until(lambda: b.state == "listening", TIMEOUT)
        await pub.publish("late", 1, "{}", 0.0)
        await pub.publish("early", 1, "{}", 0.0)
        await until(lambda: len(heard) == 2, TIMEOUT)
        assert heard == [("late", 1), ("early", 1)]
    finally:
        proxy.thaw()
        await b.close()
        await pub.close()
        await proxy.close()
