"""Redis pub/sub broker: one Redis channel per hub channel, ``<prefix><channel>``.

The payload is ``<seq> <stored_at>\\n<frame>``: the receiving node learns the seq without parsing
the frame and hands the same frame text to all its local subscribers.

The listener never ends by itself. Whatever goes wrong — Redis gone, restarted, answering
errors (``LOADING``, ``max number of clients``), or silent on a connection that stays open
— it logs it, drops the pub/sub connection and connects again with back-off, resubscribes
every channel the node serves and has the node catch up from the log. Silence is noticed
by the listener's own health check: after ``health_interval`` seconds without hearing
anything it sends a PING on the pub/sub connection, and if nothing at all arrives within
``socket_timeout`` more it takes the connection for dead. The catch-up after a reconnect
runs in a task of its own and is retried with back-off until it succeeds: the database
may still be away when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from hub.broker import Broker, BrokerState, OnMessage, OnReconnect

log = logging.getLogger("hub.broker.redis")

RETRY_FIRST = 0.1  # seconds before the first reconnect (or catch-up) attempt
RETRY_CAP = 2.0  # and at most between two attempts
PING = b"hub-health"


class Silent(Exception):
    """The pub/sub connection is open but Redis did not answer the health check."""


async def catch_up_when_due(due: asyncio.Event, on_reconnect: OnReconnect) -> None:
    """Run ``on_reconnect`` each time ``due`` is set (after a reconnect), retried with
    back-off until it succeeds; a reconnect meanwhile asks for one more run after that."""
    while True:
        await due.wait()
        due.clear()
        delay = RETRY_FIRST
        while True:
            try:
                await on_reconnect()
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning(
                    "catch-up after the broker reconnected failed: %r; retrying in %.1f s",
                    e,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)


class Heard:
    """The health check of one pub/sub connection: :meth:`next` reads its next message,
    PINGs it after ``interval`` of silence, and raises :class:`Silent` when an answer due
    (the PING's, or one :meth:`expect` awaits) has not come within ``timeout``."""

    def __init__(
        self, ps: Any, who: object, interval: float, timeout: float, expecting: bool
    ) -> None:
        self.ps, self.who, self.interval, self.timeout = ps, who, interval, timeout
        self._loop = asyncio.get_running_loop()
        self._heard = self._loop.time()
        self._due: float | None = self._heard if expecting else None  # awaited since

    def expect(self) -> None:
        """An answer is due within ``timeout`` of the last message heard."""
        self._due = self._heard

    async def next(self) -> Any:
        while True:
            msg = await self.ps.get_message(timeout=min(self.interval, self.timeout))
            now = self._loop.time()
            if msg is not None:
                self._heard, self._due = now, None
                return msg
            if self._due is not None and now - self._due > self.timeout:
                raise Silent(f"no answer from {self.who} within {self.timeout} s")
            if self._due is None and now - self._heard > self.interval:
                await self.ps.ping(PING)
                self._due = now


def payload(seq: int, frame: str, stored_at: float) -> bytes:
    """A message as published: ``<seq> <stored_at>\\n<frame>``."""
    return f"{seq} {stored_at:.6f}\n{frame}".encode()


class ListeningBroker(Broker):
    """What the Redis brokers share: a listener task that connects, subscribes and reads
    until cancelled (``_listen``), ``connected`` once it first hears, a catch-up task run
    after each reconnect, the payload's decoding, ``ping`` on the command client, and the
    state /readyz reports."""

    _client: Any  # the command client: a Redis or a RedisCluster

    def __init__(
        self, url: str, prefix: str, health_interval: float, socket_timeout: float
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.health_interval = health_interval
        self.socket_timeout = socket_timeout
        self._wanted: set[str] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._catchup_task: asyncio.Task[None] | None = None
        self._catchup_due = asyncio.Event()
        self._listening = False
        self.connected = asyncio.Event()

    name = "redis broker"  # in the logs
    faults: tuple[type[Exception], ...] = (RedisError, OSError, Silent)
    """Network faults: logged as a lost connection, not as a bug."""

    async def _open(self) -> None:
        """Connect and subscribe every wanted channel; return once Redis has answered."""
        raise NotImplementedError

    async def _read_on(self) -> None:
        """Hand every message to the node until a connection fails (then raise)."""
        raise NotImplementedError

    async def _drop(self) -> None:
        """Close the pub/sub connections (the next :meth:`_open` makes new ones)."""
        raise NotImplementedError

    async def _listen(self) -> None:
        """Open, read until a fault, drop and retry with back-off, forever; after each
        reconnect the node catches up from the log."""
        delay = RETRY_FIRST
        ever_connected = False
        while True:
            try:
                await self._open()
                self._listening = True
                self.connected.set()
                if ever_connected:
                    log.warning("%s reconnected; catching up from the log", self.name)
                    self._catchup_due.set()
                ever_connected = True
                delay = RETRY_FIRST
                await self._read_on()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not isinstance(e, self.faults):
                    # Not a network fault: a bug, or something unforeseen. Say where.
                    log.exception("%s listener failed; reconnecting", self.name)
                elif self._listening:
                    log.warning("%s connection lost: %r", self.name, e)
                else:
                    log.info("%s still not connected: %r", self.name, e)
                self._listening = False
                self.connected.clear()
                await self._drop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._on_message = on_message
        name = type(self).__name__
        self._task = asyncio.create_task(self._listen(), name=f"{name} listener")
        self._catchup_task = asyncio.create_task(
            catch_up_when_due(self._catchup_due, on_reconnect), name=f"{name} catch-up"
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 3)

    def _deliver(self, channel: bytes, data: bytes) -> None:
        """Hand one message read from Redis (:func:`payload` on ``prefix + channel``) to the
        node; a malformed one is logged and dropped."""
        try:
            head, _, frame = data.partition(b"\n")
            seq, _, stored_at = head.partition(b" ")
            name, seq_, at = channel[len(self.prefix) :].decode(), int(seq), float(stored_at)
            text = frame.decode()
        except ValueError:
            log.warning("ignoring a malformed broker message on %r", channel)
        else:
            self._on_message(name, seq_, text, at)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def _stop_listening(self) -> None:
        """Cancel the listener and catch-up tasks (closing the connections is the
        subclass's part)."""
        for task in (self._task, self._catchup_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listening = False

    @property
    def state(self) -> BrokerState:
        if self._task is None or self._task.done():
            return "stopped"
        return "listening" if self._listening else "reconnecting"


class RedisBroker(ListeningBroker):
    def __init__(
        self, url: str, prefix: str, health_interval: float = 1.0, socket_timeout: float = 3.0
    ) -> None:
        super().__init__(url, prefix, health_interval, socket_timeout)
        # A pooled connection that died with a restarted Redis fails its next command;
        # retrying on a fresh connection hides that from publish and ping. A timeout is not
        # retried: Redis did not answer in time, and another try would wait as long again.
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=socket_timeout,
            socket_timeout=socket_timeout,
            health_check_interval=5,
            retry=Retry(
                ExponentialBackoff(cap=0.5, base=0.05), 3, supported_errors=(RedisConnectionError,)
            ),
        )
        # The pub/sub connection must not be retried inside redis-py: a silent reconnect
        # (it resubscribes by itself) would hide the messages lost meanwhile from us, and
        # the node would not catch up. Every failure reaches the listener instead.
        self._sub_client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=socket_timeout,
            socket_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._pubsub: Any = None

    async def _connect(self) -> None:
        # Under the lock: a subscribe() meanwhile waits for this connection, then uses it.
        async with self._lock:
            ps = self._sub_client.pubsub(ignore_subscribe_messages=True)
            self._pubsub = ps  # before the first await: a failure below still closes it
            # A private channel too, so the connection exists even when the node serves
            # no channel yet (a pubsub without subscriptions does not read).
            await ps.subscribe(self.prefix + "__node__", *(self.prefix + c for c in self._wanted))

    async def _open(self) -> None:
        await self._connect()
        # Connected means Redis answered: the first PING's reply, or a message.
        await self._read(first=True)

    async def _read_on(self) -> None:
        await self._read(first=False)

    async def _drop(self) -> None:
        await self._drop_pubsub()

    async def _read(self, first: bool) -> None:
        """Hand every message heard to the node; return after the first thing heard if
        ``first``. Raises :class:`Silent` when a health check goes unanswered."""
        ps = self._pubsub
        heard = Heard(ps, "Redis", self.health_interval, self.socket_timeout, expecting=first)
        if first:
            await ps.ping(PING)
        while True:
            msg = await heard.next()
            if msg["type"] == "message":
                self._deliver(msg["channel"], msg["data"])
            if first:
                return

    async def _drop_pubsub(self) -> None:
        ps, self._pubsub = self._pubsub, None
        if ps is not None:
            with contextlib.suppress(Exception):
                await ps.aclose()

    def _connected_pubsub(self) -> Any:
        """The pub/sub if it has a connection, else None. Never connect here (a client's
        subscribe would wait on a Redis that does not answer): the listener subscribes
        every wanted channel when it connects."""
        ps = self._pubsub
        return ps if ps is not None and ps.connection is not None else None

    async def subscribe(self, channel: str) -> None:
        async with self._lock:
            self._wanted.add(channel)
            if (ps := self._connected_pubsub()) is not None:
                with contextlib.suppress(RedisError, OSError):
                    await ps.subscribe(self.prefix + channel)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self._wanted.discard(channel)
            if (ps := self._connected_pubsub()) is not None:
                with contextlib.suppress(RedisError, OSError):
                    await ps.unsubscribe(self.prefix + channel)

    async def publish(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        await self._client.publish(self.prefix + channel, payload(seq, frame, stored_at))

    async def close(self) -> None:
        await self._stop_listening()
        await self._drop_pubsub()
        await self._client.aclose()
        await self._sub_client.aclose()
