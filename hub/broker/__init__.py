"""The broker: PUB/SUB between hub nodes, chosen by configuration.

:class:`Broker` is responsible for PUB/SUB mechanics only. It delivers at most once and
may lose messages (a Redis restart, a dropped connection): the database is the record,
and the node fills any gap it notices from the log. After the broker reconnects it calls
``on_reconnect`` so the node can catch up every channel it serves, again and again with
back-off until a call succeeds (the database may still be away when the broker is back).

:attr:`Broker.state` tells ``/readyz`` whether this node hears the other nodes now.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Literal

OnMessage = Callable[[str, int, str, float], None]
"""``(channel, seq, frame, stored_at)``: called in the event loop for every message heard;
``stored_at`` is the message's timestamp as Unix time (for the delivery-lag metric)."""
OnReconnect = Callable[[], Awaitable[None]]

BrokerState = Literal["listening", "reconnecting", "stopped"]
"""``listening``: messages from other nodes arrive; ``reconnecting``: they do not, and
the broker is trying to get them back; ``stopped``: not started, closed, or the listener
ended (it never ends by itself: this state is for /readyz to report if it ever does)."""


class Broker(ABC):
    @abstractmethod
    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None: ...

    @abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Hear ``channel`` from now on (effective when this returns, if connected)."""

    @abstractmethod
    async def unsubscribe(self, channel: str) -> None: ...

    @abstractmethod
    async def publish(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        """Tell every node; may raise if the broker is down (the log still has it)."""

    @abstractmethod
    async def ping(self) -> bool: ...

    @property
    @abstractmethod
    def state(self) -> BrokerState: ...

    @abstractmethod
    async def close(self) -> None: ...


def make_broker(
    redis_url: str, prefix: str, health_interval: float = 1.0, socket_timeout: float = 3.0
) -> Broker:
    """In-process without a URL; Redis Cluster (sharded pub/sub) for ``redis+cluster://``
    or ``rediss+cluster://`` seed lists; plain Redis pub/sub for any other URL."""
    if redis_url.startswith(("redis+cluster://", "rediss+cluster://")):
        from hub.broker.redis_cluster import RedisClusterBroker

        return RedisClusterBroker(redis_url, prefix, health_interval, socket_timeout)
    if redis_url:
        from hub.broker.redis import RedisBroker

        return RedisBroker(redis_url, prefix, health_interval, socket_timeout)
    from hub.broker.memory import MemoryBroker

    return MemoryBroker()
