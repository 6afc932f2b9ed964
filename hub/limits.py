"""What one account may do: its frame rate, its open sockets, and its raw publishes a day.

* **Frame rate** (``HUB_FRAME_RATE``/``HUB_FRAME_BURST``): one token bucket per account,
  shared by every ``/ws`` frame of all its sockets and by every HTTP write it makes
  (taken in ``hub.api.principal``), so opening more sockets buys no more throughput.
* **Sockets** (``HUB_ACCOUNT_CONNECTIONS``): authenticated ``/ws`` connections open at
  once per account.

Both are counted per node, in memory: behind a load balancer that spreads one account
over N nodes, it gets up to N times as much.

* **Daily storage quota** (``HUB_PUBLISH_QUOTA``): bytes of raw publishes (``/ws``
  ``publish`` and ``POST /api/channels/{c}/messages``) an account may store per day in
  the congress's time zone. A publish refused for it stores nothing; workflow messages
  are not counted. Each node counts in memory (no database write on the publishing
  path) and adds what it counted to ``publish_usage`` every :data:`FLUSH` seconds and
  when it stops; the total it checks against is re-read at most :data:`FLUSH` seconds
  old. So it holds across restarts, and across nodes to within what one account can
  publish on the other nodes in about :data:`FLUSH` seconds (bounded by the frame rate
  and the body limit). A node that dies unflushed forgets at most that much.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock
from hub.errors import QuotaExceeded, TooManyConnections
from hub.loops import run_forever
from hub.protocol import iso
from hub.store.log import StoredMessage, db_errors
from hub.store.schema import publish_usage

# What a stored message costs beyond its body: its other columns (hash, names, kind,
# timestamps, key) and its index entries. Without it a flood of empty bodies would be free.
ROW_OVERHEAD = 256
# Seconds between a node's additions to ``publish_usage``, and the most a total it checks
# against may lag what the database holds.
FLUSH = 1.0
# Buckets kept before the full ones of accounts with no socket are dropped (a full bucket
# is the same as a new one, so dropping it changes nothing).
PRUNE_AT = 10_000


class TokenBucket:
    """``rate`` tokens a second, up to ``burst``; each frame or publish takes one."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def full(self) -> bool:
        return self.tokens + (time.monotonic() - self.stamp) * self.rate >= self.burst


class AccountLimits:
    """Per-account frame buckets and socket counts on this node."""

    def __init__(self, rate: float, burst: int, max_connections: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_connections = max_connections
        self.buckets: dict[int, TokenBucket] = {}
        self.sockets: dict[int, int] = {}

    def bucket(self, user_id: int) -> TokenBucket:
        """The account's bucket (a socket keeps it: no lookup per frame)."""
        b = self.buckets.get(user_id)
        if b is None:
            if len(self.buckets) >= PRUNE_AT:
                self._prune()
            b = self.buckets[user_id] = TokenBucket(self.rate, self.burst)
        return b

    def allow(self, user_id: int) -> bool:
        return self.bucket(user_id).allow()

    def open(self, user_id: int) -> None:
        """Count a socket of the account; :class:`TooManyConnections` at the cap."""
        n = self.sockets.get(user_id, 0)
        if n >= self.max_connections:
            raise TooManyConnections(
                f"this account has {n} connections open already (the limit is "
                f"{self.max_connections}): close another tab or device first"
            )
        self.sockets[user_id] = n + 1

    def release(self, user_id: int) -> None:
        n = self.sockets.pop(user_id, 0) - 1
        if n > 0:
            self.sockets[user_id] = n

    def _prune(self) -> None:
        for uid in [u for u, b in self.buckets.items() if u not in self.sockets and b.full()]:
            del self.buckets[uid]


class PublishQuota:
    """The daily storage quota of raw publishes: checked in memory, added up in the
    database every :data:`FLUSH` seconds (see the module's docstring)."""

    def __init__(self, engine: AsyncEngine, limit: int, clock: Clock) -> None:
        self.engine = engine
        self.limit = limit
        self.clock = clock
        # user -> (day, the day's total in publish_usage when read, monotonic time read)
        self._stored: dict[int, tuple[date, int, float]] = {}
        # (user, day) -> bytes allowed here and not yet added to publish_usage: queued,
        # and being added by the flush in progress.
        self._queued: Counter[tuple[int, date]] = Counter()
        self._adding: Counter[tuple[int, date]] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._read = sa.select(publish_usage.c.bytes).where(
            publish_usage.c.user_id == sa.bindparam("u"), publish_usage.c.day == sa.bindparam("d")
        )

    async def charge(self, conn: AsyncConnection, msg: StoredMessage) -> None:
        """Count ``msg`` (just appended in the transaction ``conn``) against its sender's
        quota for today; :class:`QuotaExceeded` (the caller rolls back) when that goes
        over. It reads the database only when the sender's total is older than
        :data:`FLUSH`: once a second at most for an account that keeps publishing."""
        day = self.clock.today()
        uid = msg.sender_id
        cost = len(msg.body.encode()) + ROW_OVERHEAD
        stored = self._stored.get(uid)
        now = time.monotonic()
        if stored is None or stored[0] != day or now - stored[2] > FLUSH:
            total = (await conn.execute(self._read, {"u": uid, "d": day})).scalar() or 0
            stored = self._stored[uid] = (day, total, now)
        here = self._queued[uid, day] + self._adding[uid, day]
        used = stored[1] + here + cost
        if used > self.limit:
            raise QuotaExceeded(
                f"this account's publishes today would store {used} bytes, over the daily "
                f"quota of {self.limit} bytes: nothing was stored; it resets at midnight "
                f"({self.clock.tz.key})",
                resets=iso(self.clock.start_of_day(day + timedelta(days=1))),
            )
        self._queued[uid, day] += cost

    def start(self) -> None:
        self._task = asyncio.create_task(
            run_forever("adding up publish quotas", self.flush, FLUSH), name="publish-quota"
        )

    async def stop(self) -> None:
        """Add what is counted, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> None:
        """Add the counted bytes to ``publish_usage``; each account's new total (all nodes'
        additions) becomes the one it is checked against. Totals read longer than
        :data:`FLUSH` ago are forgotten: they would be read again anyway."""
        now = time.monotonic()
        for uid in [u for u, (_, _, t) in self._stored.items() if now - t > FLUSH]:
            del self._stored[uid]
        if not self._queued:
            return
        self._adding, self._queued = self._queued, Counter()
        try:
            async with db_errors(), self.engine.begin() as conn:
                ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
                    publish_usage
                )
                totals: dict[tuple[int, date], int] = {}
                for (uid, day), n in self._adding.items():
                    totals[uid, day] = (
                        await conn.execute(
                            ins.values(user_id=uid, day=day, bytes=n)
                            .on_conflict_do_update(
                                index_elements=[publish_usage.c.user_id, publish_usage.c.day],
                                set_={"bytes": publish_usage.c.bytes + n},
                            )
                            .returning(publish_usage.c.bytes)
                        )
                    ).scalar_one()
        except BaseException:
            self._queued.update(self._adding)
            self._adding = Counter()
            raise
        self._adding = Counter()
        now = time.monotonic()
        for (uid, day), total in totals.items():
            self._stored[uid] = (day, total, now)
