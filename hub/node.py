"""A hub node: its local subscriptions, fed by its own publishes and by the broker.

Per channel the node keeps a :class:`Feed` with ``head``, the last seq it has fanned
out. A message with seq ``head + 1`` is fanned out at once; a duplicate is dropped; a
jump means the broker lost something, and the node fills the gap from the log before
going on. A periodic check of the channels' heads in the database catches the last
message of a burst when the broker lost it (nothing after it reveals the gap), and runs
at once after the broker reconnects.

Each :class:`Subscription` tracks the last seq its client was given. A new subscription
replays from the log first (``replaying``), and joins the live stream only when it has
caught up with the feed, with no await between the check and the switch: so the client
sees every seq exactly once, in order, with no gap at the seam. Each feed keeps its last
``RECENT`` frames (consecutive seqs, read from the log when the node starts serving the
channel), so resuming from a recent seq reads nothing from the log, even on a node that
has just started; and a channel stays served for ``LINGER`` seconds after its last
subscriber left, so a hall that reconnects at once finds it still there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth import Principal
from hub.broker import Broker
from hub.clock import Clock
from hub.connection import Outgoing
from hub.errors import Close, HubError, Unavailable
from hub.loops import run_forever
from hub.store.log import (
    Admit,
    Appended,
    Draft,
    MessageLog,
    StoredMessage,
    append,
    append_many,
    db_errors,
    lock_channels,
)

if TYPE_CHECKING:
    from hub.connection import Connection
    from hub.metrics import Metrics

log = logging.getLogger("hub.node")

REPLAY_BATCH = 500
RECENT = 256  # frames each served channel keeps in memory for resuming clients
LINGER = 30.0  # seconds a channel stays served after its last subscriber left


BATCH = 256  # the most publishes of one channel committed in one transaction
SHUTTING_DOWN = "server shutting down: send it again (to another node)"

Charge = Admit
"""Counts a new message against a limit inside its transaction (``hub.limits``)."""


@dataclass(eq=False, slots=True)
class Subscription:
    conn: Connection
    channel: str
    last_seq: int
    replaying: bool = True
    replay: asyncio.Task[None] | None = None  # cancelled when the subscription ends


@dataclass(eq=False)
class Feed:
    channel: str
    head: int | None = None  # None until the first head read from the log
    wanted: int = 0  # highest seq heard of that is not fanned out yet
    filling: bool = False
    subscribers: set[Subscription] = field(default_factory=set)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # The last frames fanned out, consecutive seqs: a client resuming from a recent seq
    # (a hall reconnecting after the Wi-Fi dropped) is served from here, not the log.
    recent: deque[tuple[int, Outgoing]] = field(default_factory=lambda: deque(maxlen=RECENT))
    linger: asyncio.TimerHandle | None = None


class Writer:
    """One database transaction that may append messages to several channels.

    Channel rows are locked in one order, sorted by name, so two transactions never wait
    for each other's channels in a cycle (on PostgreSQL that would be a deadlock). A
    workflow that appends to several channels locks them all first with :meth:`lock`,
    whatever order it names them in; an append to a channel not locked yet locks it then,
    which keeps the order only if it sorts after every channel locked so far. A lock out
    of that order is a bug, and raises before it can wait. A workflow that locks rows of
    its own (an item, a notice) does so before it locks its channels.
    """

    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        self.appended: list[StoredMessage] = []
        self.channels: set[str] = set()

    async def lock(self, *channels: str) -> None:
        """Lock the channels this transaction will append to, in sorted order. A later
        call (a step composed into a larger transaction) may add only channels that sort
        after every one locked so far."""
        new = set(channels) - self.channels
        if new and self.channels and min(new) < max(self.channels):
            raise RuntimeError(
                f"channels {sorted(new)} locked after {max(self.channels)!r}: lock every "
                "channel of a transaction in one call"
            )
        self.channels |= new
        await lock_channels(self.conn, new)

    async def append(
        self, channel: str, kind: str, sender: Principal, body: dict[str, Any] | str
    ) -> StoredMessage:
        if channel not in self.channels:
            await self.lock(channel)
        msg, _ = await append(self.conn, channel, kind, sender, body, now=self.clock.now())
        self.appended.append(msg)
        return msg


@dataclass(eq=False, slots=True)
class _Pending:
    draft: Draft
    answer: asyncio.Future[tuple[StoredMessage, bool]]


class GroupCommit:
    """Raw publishes, committed together per channel.

    The first publish on a channel starts a transaction; those arriving on the channel
    meanwhile wait and go together, in arrival order, in the next one (at most
    :data:`BATCH`): one row lock, one INSERT, one commit for all of them, their seqs
    consecutive and the hash chain continuing across them (:func:`append_many`). Each
    publisher is answered only after the transaction holding its message committed, with
    its own message. If the transaction fails, every publish in it fails with the same
    error (``unavailable`` when the database could not serve) and none is stored; the
    next batch starts afresh. Fan-out follows the commit, as for every write.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.waiting: dict[str, list[_Pending]] = {}
        # Per channel, the seq and hash of the last message this node committed: the next
        # batch continues the chain from it without reading it back (when no other node
        # appended since).
        self.tails: dict[str, tuple[int, str]] = {}

    async def publish(self, channel: str, draft: Draft) -> tuple[StoredMessage, bool]:
        p = _Pending(draft, asyncio.get_running_loop().create_future())
        queue = self.waiting.get(channel)
        if queue is None:
            queue = self.waiting[channel] = []
            self.node._spawn(self._run(channel, queue))
        queue.append(p)
        return await p.answer

    async def _run(self, channel: str, queue: list[_Pending]) -> None:
        """Commit the channel's queue batch by batch until it is empty, on one connection
        (checked out, and pinged, once per run; after a failure, a fresh one). No await
        between finding the queue empty and dropping it: a publish arriving later starts a
        new run."""
        held: AsyncConnection | None = None
        try:
            while queue:
                batch = [p for p in queue[:BATCH] if not p.answer.done()]  # done: cancelled
                del queue[:BATCH]
                if not batch:
                    continue
                try:
                    async with db_errors():
                        if held is None:
                            held = await self.node.log.engine.connect().start()
                        got = await self._commit(held, channel, batch)
                except asyncio.CancelledError:
                    _fail(batch, Unavailable(SHUTTING_DOWN))
                    raise
                except Exception as e:
                    if not isinstance(e, HubError):
                        log.exception("publishing on %s failed", channel)
                    _fail(batch, e)
                    await _release(held)
                    held = None
                    continue
                self._committed(channel, batch, got)
        finally:
            if self.waiting.get(channel) is queue:
                del self.waiting[channel]
            _fail(queue, Unavailable(SHUTTING_DOWN))
            await _release(held)

    async def _commit(
        self, conn: AsyncConnection, channel: str, batch: list[_Pending]
    ) -> list[Appended]:
        """One transaction for ``batch``: what became of each, once committed."""
        async with conn.begin():
            drafts = [p.draft for p in batch]
            return await append_many(
                conn, channel, drafts, self.node.clock.now(), self.tails.get(channel)
            )

    def _committed(self, channel: str, batch: list[_Pending], got: list[Appended]) -> None:
        """Fan out what ``batch`` stored, then answer each of its publishers."""
        new = [a[0] for a in got if not isinstance(a, HubError) and a[1]]
        if new:
            self.tails[channel] = (new[-1].seq, new[-1].hash)
        self.node.distribute(new)
        for p, a in zip(batch, got, strict=True):
            if not p.answer.done():
                _answer(p.answer, a)


async def _release(conn: AsyncConnection | None) -> None:
    """Give ``conn`` back to the pool (which drops it if it was lost)."""
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()


def _answer(f: asyncio.Future[tuple[StoredMessage, bool]], a: Appended) -> None:
    if isinstance(a, HubError):
        f.set_exception(a)
    else:
        f.set_result(a)


def _fail(pending: list[_Pending], e: BaseException) -> None:
    for p in pending:
        if not p.answer.done():
            p.answer.set_exception(e)


class Node:
    def __init__(
        self,
        log_: MessageLog,
        broker: Broker,
        metrics: Metrics,
        catchup: float,
        clock: Clock | None = None,
    ) -> None:
        self.log = log_
        # The hub's one notion of now (a test freezes it): stamps every message and every
        # row the workflows write.
        self.clock = clock or Clock()
        self.broker = broker
        self.metrics = metrics
        self.catchup_interval = catchup
        self.feeds: dict[str, Feed] = {}
        self.linger = LINGER
        self._tasks: set[asyncio.Task[Any]] = set()
        self._catchup_task: asyncio.Task[None] | None = None
        # Writes in flight, and whether the node is draining (refusing new ones).
        self.draining = False
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.commits = GroupCommit(self)

    async def start(self) -> None:
        await self.broker.start(self.on_broker_message, self.catch_up_all)
        self._catchup_task = asyncio.create_task(
            run_forever("head check", self.catch_up_all, self.catchup_interval), name="catch-up"
        )

    async def stop(self) -> None:
        if self._catchup_task is not None:
            self._catchup_task.cancel()
        for feed in self.feeds.values():
            if feed.linger is not None:
                feed.linger.cancel()
        for t in list(self._tasks):
            t.cancel()
        await self.broker.close()

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    # -- writes in flight and draining --------------------------------------------

    @contextlib.contextmanager
    def work(self, while_draining: bool = False) -> Iterator[None]:
        """Every write of the node (a transaction, a publish, a receipt) runs inside this:
        counted in flight so that :meth:`drain` lets it finish (the caller's reply follows
        with no await between), and refused with ``unavailable`` once the node drains,
        unless it may run ``while_draining``: the hub's own background work (presence,
        deadline alerts, tallies) and receipts, which are stored after the drain."""
        if self.draining and not while_draining:
            raise Unavailable(SHUTTING_DOWN)
        self.inflight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.inflight -= 1
            if self.inflight == 0:
                self._idle.set()

    async def drain(self, grace: float) -> None:
        """Refuse new writes; wait up to ``grace`` seconds for those in flight."""
        self.draining = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)

    # -- publishing ---------------------------------------------------------------

    @asynccontextmanager
    async def writing(self, while_draining: bool = False) -> AsyncIterator[Writer]:
        """A transaction whose appended messages are fanned out after it commits; see
        :class:`Writer` for the channels it may append to, :meth:`work` for draining."""
        with self.work(while_draining):
            async with db_errors(), self.log.engine.begin() as conn:
                w = Writer(conn, self.clock)
                yield w
        self.distribute(w.appended)

    async def publish(
        self,
        channel: str,
        kind: str,
        sender: Principal,
        body: dict[str, Any],
        key: str | None,
        charge: Charge | None = None,
    ) -> tuple[StoredMessage, bool]:
        """Store one message (or find its idempotent twin), then fan it out; answered once
        its own transaction has committed (see :class:`GroupCommit`). ``charge`` runs in
        the storing transaction for a new message; if it raises, this one is not stored."""
        draft = Draft(kind, sender, orjson.dumps(body).decode(), key, charge)
        with self.work():
            return await self.commits.publish(channel, draft)

    def distribute(self, msgs: list[StoredMessage]) -> None:
        """Committed messages: fan out here now, and tell the other nodes."""
        for m in msgs:
            frame = m.frame()
            stored_at = m.ts.timestamp()
            self.metrics.published.inc()
            self.on_broker_message(m.channel, m.seq, frame, stored_at)
            self._spawn(self._broadcast(m.channel, m.seq, frame, stored_at))

    async def _broadcast(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        try:
            await self.broker.publish(channel, seq, frame, stored_at)
        except Exception as e:  # the log has it; other nodes catch up by polling heads
            log.warning("broker publish failed for %s#%d: %r", channel, seq, e)

    # -- hearing ------------------------------------------------------------------

    def on_broker_message(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        feed = self.feeds.get(channel)
        if feed is None:
            return
        if feed.head is None or feed.filling or seq > feed.head + 1:
            if seq > feed.wanted:
                feed.wanted = seq
            if feed.head is not None and not feed.filling:
                self._spawn(self._fill(feed))
            return
        if seq == feed.head + 1:
            self._fanout(feed, seq, frame, stored_at)

    def _fanout(self, feed: Feed, seq: int, text: str, stored_at: float) -> None:
        feed.head = seq
        frame = Outgoing(text)
        feed.recent.append((seq, frame))
        self.metrics.lag.observe(max(0.0, time.time() - stored_at))
        n = 0
        for sub in feed.subscribers:
            if sub.replaying:
                continue
            if sub.last_seq == seq - 1:
                if sub.conn.push(frame):
                    n += 1
                sub.last_seq = seq
            elif sub.last_seq < seq - 1:  # fell behind (should not happen): replay
                sub.replaying = True
                self._start_replay(sub, feed)
        self.metrics.delivered.inc(n)

    async def _fill(self, feed: Feed) -> None:
        """Fan out from the log every message between ``head`` and ``wanted``."""
        if feed.filling or feed.head is None:
            return
        feed.filling = True
        try:
            while feed.head is not None and feed.wanted > feed.head:
                rows = await self.log.read(feed.channel, feed.head, REPLAY_BATCH)
                if not rows:
                    break
                self.metrics.gap_fills.inc()
                for m in rows:
                    if m.seq == feed.head + 1:
                        self._fanout(feed, m.seq, m.frame(), m.ts.timestamp())
        except HubError as e:
            log.warning("gap fill of %s failed: %s (retrying on the next check)", feed.channel, e)
        except Exception:
            log.exception("gap fill of %s failed (retrying on the next check)", feed.channel)
        finally:
            feed.filling = False

    async def catch_up_all(self) -> None:
        """Compare every served channel with its head in the log; fill what is behind."""
        names = [c for c, f in self.feeds.items() if f.head is not None]
        if not names:
            return
        heads = await self.log.heads(names)
        for name, h in heads.items():
            feed = self.feeds.get(name)
            if feed is not None and feed.head is not None and h > feed.head:
                feed.wanted = max(feed.wanted, h)
                self.metrics.catchups.inc()
                self._spawn(self._fill(feed))

    # -- subscriptions --------------------------------------------------------------

    async def subscribe(
        self, conn: Connection, channel: str, since: int | None
    ) -> tuple[Subscription, int]:
        """Register a subscription; returns it and the channel's head.

        The head is read from the log when this node starts serving the channel, and is
        the feed's head after that (the last seq this node fanned out): every message after
        it reaches the subscription either way, and a whole hall subscribing to one channel
        costs no query each. The caller sends ``subscribed`` and then calls
        :meth:`start_replay`.
        """
        feed = self.feeds.get(channel)
        if feed is None:
            feed = self.feeds[channel] = Feed(channel)
            try:
                await self.broker.subscribe(channel)
                # The head and the last frames in one read: a hall resuming on a node that
                # just started (a restart, a failover) replays from memory, not per client.
                last = await self.log.tail(channel, RECENT)
            except BaseException:
                self.feeds.pop(channel, None)
                feed.ready.set()
                raise
            head = last[-1].seq if last else 0
            feed.recent.extend((m.seq, Outgoing(m.frame())) for m in last)
            feed.head = head
            feed.ready.set()
            if feed.wanted > head:
                self._spawn(self._fill(feed))
            log_head = head
        else:
            await feed.ready.wait()
            if self.feeds.get(channel) is not feed or feed.head is None:
                return await self.subscribe(conn, channel, since)
            log_head = feed.head
            if since is not None and since > log_head:
                # The client holds more than this node has fanned out (it came from a
                # faster node): report the log's head, not a head behind the client.
                log_head = max(log_head, await self.log.head(channel))
        start = log_head if since is None else since
        sub = Subscription(conn, channel, start)
        feed.subscribers.add(sub)
        if feed.linger is not None:
            feed.linger.cancel()
            feed.linger = None
        return sub, log_head

    def start_replay(self, sub: Subscription) -> None:
        """Bring ``sub`` from its ``last_seq`` up to the live stream, in a task of its own
        that :meth:`unsubscribe` cancels: a subscription replaced (subscribing again on the
        same connection) sends nothing more, so each seq reaches the client once."""
        feed = self.feeds.get(sub.channel)
        if feed is not None:
            self._start_replay(sub, feed)

    def _start_replay(self, sub: Subscription, feed: Feed) -> None:
        if sub.replay is not None:
            sub.replay.cancel()
        sub.replay = asyncio.create_task(self._replay(sub, feed))
        self._tasks.add(sub.replay)
        sub.replay.add_done_callback(self._tasks.discard)

    async def _replay(self, sub: Subscription, feed: Feed) -> None:
        """Any failure (the log unreadable) closes the socket with 1011: the client
        resumes with ``since`` rather than waiting, subscribed, for messages that never
        come."""
        conn = sub.conn
        try:
            while not conn.closed and sub in feed.subscribers:
                head = feed.head or 0
                if sub.last_seq >= head:
                    sub.replaying = False  # no await since the check: the seam is exact
                    return
                room = await conn.wait_room()
                if sub not in feed.subscribers:
                    return  # unsubscribed or replaced meanwhile
                recent = feed.recent
                if recent and recent[0][0] <= sub.last_seq + 1:
                    # Consecutive seqs: what the client lacks starts at a known index. No
                    # await in this loop: the deque holds still.
                    start = sub.last_seq + 1 - recent[0][0]
                    for seq, frame in itertools.islice(recent, start, start + room):
                        conn.push(frame)
                        sub.last_seq = seq
                    continue
                # From the log only what memory does not hold.
                limit = min(room, REPLAY_BATCH)
                if recent:
                    limit = min(limit, recent[0][0] - 1 - sub.last_seq)
                rows = await self.log.read(sub.channel, sub.last_seq, limit)
                if sub not in feed.subscribers:
                    return
                self.metrics.replayed.inc(len(rows))
                for m in rows:
                    if m.seq == sub.last_seq + 1:
                        conn.enqueue(m.frame())
                        sub.last_seq = m.seq
                if not rows:
                    # the feed knows of a message the log did not show yet: wait a moment
                    await asyncio.sleep(0.01)
        except Exception as e:
            if not isinstance(e, HubError):
                log.exception("replay of %s failed", sub.channel)
            conn.close_soon(Close.INTERNAL, "history unavailable: reconnect with since")

    def unsubscribe(self, sub: Subscription) -> None:
        if sub.replay is not None:
            sub.replay.cancel()
        feed = self.feeds.get(sub.channel)
        if feed is None:
            return
        feed.subscribers.discard(sub)
        if not feed.subscribers and feed.ready.is_set() and feed.linger is None:
            # Keep serving the channel a while: its subscribers may be back in a moment.
            feed.linger = asyncio.get_running_loop().call_later(self.linger, self._unserve, feed)

    def _unserve(self, feed: Feed) -> None:
        feed.linger = None
        if not feed.subscribers and self.feeds.get(feed.channel) is feed:
            del self.feeds[feed.channel]
            self._spawn(self._drop_broker_sub(feed.channel))

    async def _drop_broker_sub(self, channel: str) -> None:
        if channel in self.feeds:
            return
        with contextlib.suppress(Exception):
            await self.broker.unsubscribe(channel)
        if channel in self.feeds:
            # Subscribed again while the unsubscribe was in flight: undo it, and let the
            # head check pick up whatever the broker did not carry meanwhile.
            with contextlib.suppress(Exception):
                await self.broker.subscribe(channel)
            try:
                await self.catch_up_all()
            except Exception as e:  # the periodic head check retries
                log.warning("head check after resubscribing %s failed: %r", channel, e)

    def served_channels(self) -> int:
        return len(self.feeds)
