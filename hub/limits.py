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
  the congress's time zone. It is counted in the database (``publish_usage``), in the
  transaction that stores the message, so it holds across nodes and restarts, and a
  publish refused for it stores nothing. Workflow messages are not counted.
"""

from __future__ import annotations

import time

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.errors import QuotaExceeded, TooManyConnections
from hub.protocol import iso
from hub.store.log import StoredMessage
from hub.store.schema import publish_usage

# What a stored message costs beyond its body: its other columns (hash, names, kind,
# timestamps, key) and its index entries. Without it a flood of empty bodies would be free.
ROW_OVERHEAD = 256
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
    """The daily storage quota of raw publishes, counted in the publishing transaction."""

    def __init__(self, limit: int, clock: Clock) -> None:
        self.limit = limit
        self.clock = clock

    async def charge(self, conn: AsyncConnection, msg: StoredMessage) -> None:
        """Count ``msg`` against its sender's quota for today, inside the transaction that
        stored it; :class:`QuotaExceeded` (the caller rolls back) when that goes over."""
        day = self.clock.today()
        cost = len(msg.body.encode()) + ROW_OVERHEAD
        ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
            publish_usage
        )
        used = (
            await conn.execute(
                ins.values(user_id=msg.sender_id, day=day, bytes=cost)
                .on_conflict_do_update(
                    index_elements=[publish_usage.c.user_id, publish_usage.c.day],
                    set_={"bytes": publish_usage.c.bytes + cost},
                )
                .returning(publish_usage.c.bytes)
            )
        ).scalar_one()
        if used > self.limit:
            raise QuotaExceeded(
                f"this account's publishes today would store {used} bytes, over the daily "
                f"quota of {self.limit} bytes: nothing was stored; it resets at midnight "
                f"({self.clock.tz.key})",
                resets=iso(self.clock.end_of_day(day)),
            )
