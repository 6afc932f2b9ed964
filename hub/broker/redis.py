"""Redis pub/sub broker: one Redis channel per hub channel, ``<prefix><channel>``.

The payload is ``<seq> <stored_at>\\n<frame>``: the receiving node learns the seq without parsing
the frame and hands the same frame text to all its local subscribers. On any connection
error the listener reconnects with backoff, resubscribes every channel the node serves
and calls ``on_reconnect`` so the node catches up from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.broker import Broker, OnMessage, OnReconnect

log = logging.getLogger("hub.broker.redis")


class RedisBroker(Broker):
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        # A pooled connection that died with a restarted Redis fails its next command;
        # retrying on a fresh connection hides that from publish and ping.
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=5,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._wanted: set[str] = set()
        self._pubsub: Any = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._task = asyncio.create_task(self._listen(), name="redis-broker")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 3)

    async def _connect(self) -> None:
        ps = self._client.pubsub(ignore_subscribe_messages=True)
        # Subscribe to a private channel first so the connection exists even when the
        # node serves no channel yet (a pubsub without subscriptions does not read).
        await ps.subscribe(self.prefix + "__node__")
        async with self._lock:
            if self._wanted:
                await ps.subscribe(*(self.prefix + c for c in self._wanted))
            self._pubsub = ps

    async def _listen(self) -> None:
        delay = 0.1
        ever_connected = False
        n = len(self.prefix)
        while True:
            try:
                await self._connect()
                self.connected.set()
                delay = 0.1
                if ever_connected:
                    log.warning("redis broker reconnected; catching up from the log")
                    await self._on_reconnect()
                ever_connected = True
                ps = self._pubsub
                while True:
                    msg = await ps.get_message(timeout=1.0)
                    if msg is None or msg["type"] != "message":
                        continue
                    head, _, frame = msg["data"].partition(b"\n")
                    seq, _, stored_at = head.partition(b" ")
                    self._on_message(
                        msg["channel"][n:].decode(), int(seq), frame.decode(), float(stored_at)
                    )
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError) as e:
                if self.connected.is_set():
                    log.warning("redis broker connection lost: %r", e)
                self.connected.clear()
                await self._drop_pubsub()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _drop_pubsub(self) -> None:
        ps, self._pubsub = self._pubsub, None
        if ps is not None:
            with contextlib.suppress(Exception):
                await ps.aclose()

    async def subscribe(self, channel: str) -> None:
        async with self._lock:
            self._wanted.add(channel)
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.subscribe(self.prefix + channel)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self._wanted.discard(channel)
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(self.prefix + channel)

    async def publish(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        payload = f"{seq} {stored_at:.6f}\n{frame}".encode()
        await self._client.publish(self.prefix + channel, payload)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop_pubsub()
        await self._client.aclose()
