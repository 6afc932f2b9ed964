"""The fault proxy's Redis modes, seen by a real Redis client through it: what the fault
tests and bench/chaos.py call frozen, reset and refused is what a client would meet."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlparse

import pytest
import redis.asyncio as aioredis
from redis.exceptions import BusyLoadingError, MaxClientsReachedError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.utils.backends import REDIS_URL, need
from tests.utils.faults import (
    REDIS_LOADING,
    REDIS_MAX_CLIENTS,
    FaultProxy,
    redis_refusal,
    resp_commands,
)


def test_resp_commands_counts_complete_commands() -> None:
    """Complete RESP arrays and inline commands are counted; a partial one is kept."""
    ping = b"*1\r\n$4\r\nPING\r\n"
    sub = b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n"
    assert resp_commands(ping + sub + b"PING\r\n") == (3, b"")
    assert resp_commands(ping + sub[:9]) == (1, sub[:9])
    assert resp_commands(ping + sub[:-1]) == (1, sub[:-1])
    assert resp_commands(b"") == (0, b"")


async def test_proxy_freezes_resets_and_refuses_like_redis() -> None:
    """Through the proxy: forwarded, a PING answers; frozen, it times out on an open
    socket; refused, the open connection is dropped and new ones get the errors Redis's
    own LOADING and max-clients replies raise in redis-py; reset, an open connection
    ends and a new one works."""
    need(REDIS_URL, "Redis")
    u = urlparse(REDIS_URL)
    proxy = await FaultProxy(u.hostname or "127.0.0.1", u.port or 6379).start()
    client = aioredis.Redis(port=proxy.port, socket_timeout=0.5, retry=None)
    try:
        assert await client.ping()
        proxy.freeze()
        with pytest.raises(RedisTimeoutError):
            await client.ping()
        proxy.thaw()
        await client.aclose()
        client = aioredis.Redis(port=proxy.port, socket_timeout=0.5, retry=None)
        assert await client.ping()

        proxy.refuse_with(redis_refusal(REDIS_LOADING))  # as after a restart
        with pytest.raises(RedisConnectionError, match="closed by server"):
            await client.ping()
        with pytest.raises(BusyLoadingError, match="loading the dataset"):
            await client.ping()
        proxy.refuse_with(redis_refusal(REDIS_MAX_CLIENTS, at_once=True))
        with pytest.raises(MaxClientsReachedError):
            await client.ping()
        proxy.forward()
        assert await client.ping()

        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        w.write(b"PING\r\n")
        assert await r.readline() == b"+PONG\r\n"
        proxy.reset()
        with contextlib.suppress(ConnectionResetError):
            assert await r.read() == b""
        w.close()
        assert await client.ping()
    finally:
        proxy.thaw()
        await client.aclose()
        await proxy.close()
