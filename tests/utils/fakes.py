"""In-memory stand-ins for the I/O of :class:`hub.node.Node` and
:class:`hub.connection.Connection`: a message log, a broker and a socket, each recording
what it was asked and able to hold or fail on demand. With them the node's and the
connection's state machines run without a socket, a database or a server."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import cast

import orjson

from hub.broker import Broker, BrokerState, OnMessage, OnReconnect
from hub.connection import Connection, Outgoing
from hub.metrics import Metrics
from hub.node import Node
from hub.store.log import MessageLog, StoredMessage
from tests.utils import TIMEOUT

CHANNEL = "meeting:1"
NOW = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def message(channel: str, seq: int) -> StoredMessage:
    """A stored message whose body names its seq."""
    body = orjson.dumps({"n": seq}).decode()
    return StoredMessage(seq, channel, seq, "notice", 1, "Sec", "secretariat", body, NOW, "")


class FakeLog:
    """The reads :class:`Node` makes of the log (``read``, ``tail``, ``head``, ``heads``)
    over a list of messages per channel.

    ``hold()`` makes every ``read`` wait (after it is recorded in ``reads``) until
    ``release()``; ``fail`` makes the next reads raise it.
    """

    def __init__(self) -> None:
        self.channels: defaultdict[str, list[StoredMessage]] = defaultdict(list)
        self.reads: list[tuple[str, int, int]] = []
        self.tails = 0
        self.fail: BaseException | None = None
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = asyncio.Event()  # set when a held read is waiting

    def add(self, channel: str = CHANNEL, n: int = 1) -> list[StoredMessage]:
        """Store ``n`` more messages on ``channel``; returns them."""
        msgs = self.channels[channel]
        new = [message(channel, len(msgs) + i + 1) for i in range(n)]
        msgs.extend(new)
        return new

    def hold(self) -> None:
        self._open.clear()
        self.waiting.clear()

    def release(self) -> None:
        self._open.set()

    async def read(self, channel: str, after: int, limit: int = 500) -> list[StoredMessage]:
        self.reads.append((channel, after, limit))
        if not self._open.is_set():
            self.waiting.set()
            await self._open.wait()
        if self.fail is not None:
            raise self.fail
        return [m for m in self.channels[channel] if m.seq > after][:limit]

    async def tail(self, channel: str, limit: int) -> list[StoredMessage]:
        self.tails += 1
        if self.fail is not None:
            raise self.fail
        return self.channels[channel][-limit:]

    async def head(self, channel: str) -> int:
        return len(self.channels[channel])

    async def heads(self, names: Sequence[str]) -> dict[str, int]:
        if self.fail is not None:
            raise self.fail
        return {n: len(self.channels[n]) for n in names if self.channels[n]}


class FakeBroker(Broker):
    """A broker that delivers nothing by itself: the test calls :meth:`deliver`. It
    records its subscriptions; ``hold_unsubscribe`` keeps an unsubscribe in flight."""

    def __init__(self) -> None:
        self.subscribed: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.published: list[tuple[str, int]] = []
        self.unsubscribe_open = asyncio.Event()
        self.unsubscribe_open.set()
        self.unsubscribing = asyncio.Event()

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self.on_message = on_message
        self.on_reconnect = on_reconnect

    async def subscribe(self, channel: str) -> None:
        self.calls.append(("subscribe", channel))
        self.subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.calls.append(("unsubscribe", channel))
        self.unsubscribing.set()
        await self.unsubscribe_open.wait()
        self.subscribed.discard(channel)

    async def publish(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        self.published.append((channel, seq))

    async def ping(self) -> bool:
        return True

    @property
    def state(self) -> BrokerState:
        return "listening"

    async def close(self) -> None:
        self.subscribed.clear()


def deliver(node: Node, m: StoredMessage) -> None:
    """The broker hands ``node`` a message another node stored."""
    node.on_broker_message(m.channel, m.seq, m.frame(), m.ts.timestamp())


def make_node(log: FakeLog, broker: Broker | None = None, catchup: float = 3600.0) -> Node:
    """A node over the fake log (not started: tests call its entry points themselves)."""
    return Node(cast(MessageLog, log), broker or FakeBroker(), Metrics(), catchup)


class FakeSocket:
    """The two callables a :class:`Connection` writes through, recording every frame sent
    and the close, in order, in ``events``.

    ``hold()`` makes each send wait until ``allow(n)`` lets ``n`` more through (or
    ``release()`` all); ``hold_close()`` does the same for the close. ``writable`` says
    whether the direct (synchronous) writer takes a frame.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self._budget: int | None = None  # None: sends go through at once
        self._moved = asyncio.Event()
        self.close_open = asyncio.Event()
        self.close_open.set()
        self.writable = True
        self.fail_send: Exception | None = None

    async def send(self, text: str) -> None:
        while self._budget is not None and self._budget <= 0:
            self._moved.clear()
            await self._moved.wait()
        if self.fail_send is not None:
            raise self.fail_send
        if self._budget is not None:
            self._budget -= 1
        self.events.append(("send", text))

    async def close(self, code: int, reason: str) -> None:
        await self.close_open.wait()
        self.events.append(("close", code))

    def direct(self, frame: Outgoing) -> bool:
        if not self.writable:
            return False
        self.events.append(("direct", frame.text))
        return True

    def hold(self) -> None:
        self._budget = 0

    def allow(self, n: int) -> None:
        self._budget = (self._budget or 0) + n
        self._moved.set()

    def release(self) -> None:
        self._budget = None
        self._moved.set()

    def texts(self) -> list[str]:
        return [str(t) for kind, t in self.events if kind in ("send", "direct")]

    def seqs(self) -> list[int]:
        """The seqs of the message frames written, in order."""
        return [orjson.loads(t)["seq"] for t in self.texts()]

    def closes(self) -> list[object]:
        return [code for kind, code in self.events if kind == "close"]


def connection(
    sock: FakeSocket | None = None, max_queue: int = 64, direct: bool = True
) -> tuple[Connection, FakeSocket]:
    """A connection writing to a fake socket (through its direct writer unless ``direct``
    is False: then every frame goes through the queue and the writer task)."""
    sock = sock or FakeSocket()
    conn = Connection(sock.send, sock.close, max_queue, sock.direct if direct else None)
    return conn, sock


async def until(cond: Callable[[], bool], what: str = "the condition") -> None:
    """Let the event loop run until ``cond()`` holds (fails after TIMEOUT)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + TIMEOUT
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def settle(rounds: int = 50) -> None:
    """Let every task that can run do so (no timers fire meanwhile)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
