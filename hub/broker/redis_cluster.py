"""Redis Cluster broker: sharded pub/sub (``SSUBSCRIBE``/``SPUBLISH``, Redis 7).

Chosen by ``HUB_REDIS_URL=redis+cluster://[user:password@]host:port[,host:port...][/]``
(``rediss+cluster://`` for TLS): the listed nodes are seeds, the rest is learnt from
``CLUSTER SLOTS``. One shard channel per hub channel, ``<prefix><channel>``, so the
channels spread over the masters by their slot; the payload is the plain broker's.

Publishing goes through redis-py's cluster client, which follows ``MOVED`` and refreshes
its slot map. Hearing is done here, not by redis-py's cluster pub/sub, because that one
moves subscriptions to a slot's new owner silently and the node would never catch up on
what was lost meanwhile. The listener keeps one pub/sub connection per master, each
subscribed to a private shard channel of that master (so every master is watched even
when it owns no channel the node serves) and to the served channels whose slot it owns.
Anything that may have lost a message — a connection error, an unanswered health check,
a ``MOVED`` to a subscribe, a master announcing it no longer owns a subscribed channel
(Redis sends an unrequested ``sunsubscribe`` after a failover or a slot migration) —
drops every connection; the listener then reads the slot map again, connects with
back-off, resubscribes and has the node catch up from the log, exactly as the plain
broker does after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import unquote, urlparse

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import RedisError

from hub.broker.redis import (
    Heard,
    ListeningBroker,
    Silent,
    payload,
)

log = logging.getLogger("hub.broker.redis_cluster")

SCHEMES = ("redis+cluster", "rediss+cluster")

Addr = tuple[str, int]


class TopologyChanged(Exception):
    """A master gave up a subscribed channel's slot (failover, migration)."""


def is_cluster_url(url: str) -> bool:
    return urlparse(url).scheme in SCHEMES


def parse_cluster_url(url: str) -> tuple[list[Addr], dict[str, Any]]:
    """The seed nodes and the connection options (credentials, TLS) of a cluster URL."""
    u = urlparse(url)
    if u.scheme not in SCHEMES:
        raise ValueError(f"not a Redis Cluster URL: {url!r}")
    creds, _, hosts = u.netloc.rpartition("@")
    user, _, password = creds.partition(":")
    seeds: list[Addr] = []
    for part in hosts.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host:
            host, port = port, "6379"
        seeds.append((host.strip("[]"), int(port or 6379)))
    if not seeds or not seeds[0][0]:
        raise ValueError(f"no node in the Redis Cluster URL {url!r}")
    kw: dict[str, Any] = {}
    if user:
        kw["username"] = unquote(user)
    if password:
        kw["password"] = unquote(password)
    if u.scheme == "rediss+cluster":
        kw["ssl"] = True
    return seeds, kw


class _Link:
    """One master's pub/sub connection."""

    def __init__(self, addr: Addr, client: aioredis.Redis) -> None:
        self.addr = addr
        self.client = client
        self.pubsub: Any = client.pubsub()
        self.leaving: set[bytes] = set()  # channels we unsubscribed and await the reply of
        self.joining: set[bytes] = set()  # channels subscribed on connecting, not yet confirmed

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.client.aclose()


class RedisClusterBroker(ListeningBroker):
    def __init__(
        self, url: str, prefix: str, health_interval: float = 1.0, socket_timeout: float = 3.0
    ) -> None:
        super().__init__(url, prefix, health_interval, socket_timeout)
        self.seeds, self._kw = parse_cluster_url(url)
        self._client = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in self.seeds],
            socket_connect_timeout=socket_timeout,
            socket_timeout=socket_timeout,
            **self._kw,
        )
        self._known: list[Addr] = list(self.seeds)  # where to ask for the slot map
        self._slots: list[tuple[int, int, Addr]] = []
        self._links: dict[Addr, _Link] = {}

    # -- topology -----------------------------------------------------------------

    def _node(self, host: str, port: int) -> aioredis.Redis:
        # Never retried inside redis-py: a silent reconnect would hide lost messages.
        return aioredis.Redis(
            host=host,
            port=port,
            socket_connect_timeout=self.socket_timeout,
            socket_timeout=self.socket_timeout,
            retry=Retry(NoBackoff(), 0),
            **self._kw,
        )

    async def _read_slots(self) -> list[tuple[int, int, Addr]]:
        """The masters' slot ranges, from the first known node that answers."""
        err: Exception | None = None
        for host, port in list(self._known):
            r = self._node(host, port)
            try:
                rows = await r.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
            except (RedisError, OSError) as e:
                err = e
                continue
            finally:
                with contextlib.suppress(Exception):
                    await r.aclose()
            slots: list[tuple[int, int, Addr]] = []
            known: list[Addr] = []
            for row in rows:
                for n in row[2:]:
                    ip = n[0].decode() if isinstance(n[0], bytes) else str(n[0])
                    addr = (ip or host, int(n[1]))
                    if addr not in known:
                        known.append(addr)
                    if n is row[2]:
                        slots.append((int(row[0]), int(row[1]), addr))
            if not slots:
                err = RedisError(f"{host}:{port} serves no slots (cluster not ready)")
                continue
            # Ask the nodes just seen first next time, the seeds after them.
            self._known = known + [a for a in self.seeds if a not in known]
            return slots
        raise err or RedisError("no Redis Cluster node known")

    def _owner(self, name: bytes) -> Addr:
        s = key_slot(name)
        for first, last, addr in self._slots:
            if first <= s <= last:
                return addr
        raise RedisError(f"slot {s} is not served by any master")

    def _private_channel(self, addr: Addr) -> bytes:
        """A shard channel of this node's own whose slot ``addr`` owns."""
        for i in range(100000):
            name = f"{self.prefix}__node__:{i}".encode()
            if self._owner_or_none(name) == addr:
                return name
        raise RedisError(f"no private channel found for {addr}")

    def _owner_or_none(self, name: bytes) -> Addr | None:
        try:
            return self._owner(name)
        except RedisError:
            return None

    # -- listening ----------------------------------------------------------------

    async def _connect(self) -> None:
        # Under the lock: a subscribe() meanwhile waits for these connections, then uses them.
        async with self._lock:
            self._slots = await self._read_slots()
            by_master: dict[Addr, list[bytes]] = {a: [] for _, _, a in self._slots}
            for c in self._wanted:
                name = (self.prefix + c).encode()
                by_master[self._owner(name)].append(name)
            for addr, names in by_master.items():
                link = _Link(addr, self._node(*addr))
                self._links[addr] = link  # before the first await: a failure still closes it
                # One SSUBSCRIBE per slot: Redis refuses channels of several slots at once.
                by_slot: dict[int, list[bytes]] = {}
                for name in [self._private_channel(addr), *names]:
                    by_slot.setdefault(key_slot(name), []).append(name)
                for same_slot in by_slot.values():
                    link.joining.update(same_slot)
                    await link.pubsub.ssubscribe(*same_slot)

    name = "redis cluster broker"
    faults = (RedisError, OSError, Silent, TopologyChanged)

    async def _open(self) -> None:
        await self._connect()
        # Connected means every master confirmed every subscription (a MOVED instead
        # means the slot map is stale already: read it again).
        await asyncio.gather(*(self._read(link, first=True) for link in self._links.values()))

    async def _read_on(self) -> None:
        await self._read_all()

    async def _drop(self) -> None:
        await self._drop_links()

    async def _read_all(self) -> None:
        """Read every master's connection until one of them fails; then raise its error."""
        tasks = [
            asyncio.create_task(self._read(link, first=False)) for link in self._links.values()
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
            raise RedisError("a cluster pub/sub reader ended")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, link: _Link, first: bool) -> None:
        """Hand every message heard on ``link`` to the node; if ``first``, return once the
        master confirmed every subscription made on connecting. Raises :class:`Silent` when a health check goes unanswered and
        :class:`TopologyChanged` when the master drops a subscription by itself."""
        heard = Heard(
            link.pubsub, link.addr, self.health_interval, self.socket_timeout, expecting=first
        )  # if first: the confirmations are due within socket_timeout
        while True:
            msg = await heard.next()
            kind = msg["type"]
            if kind == "smessage":
                self._deliver(msg["channel"], msg["data"])
            elif kind == "ssubscribe":
                link.joining.discard(msg["channel"])
            elif kind == "sunsubscribe":
                if msg["channel"] in link.leaving:
                    link.leaving.discard(msg["channel"])
                else:
                    raise TopologyChanged(
                        f"{link.addr} gave up {msg['channel']!r} (failover or slot moved)"
                    )
            if first and not link.joining:
                return
            if first:
                heard.expect()

    async def _drop_links(self) -> None:
        links, self._links = self._links, {}
        for link in links.values():
            await link.close()

    def _link_for(self, name: bytes) -> _Link | None:
        """The connected link of the master owning ``name``, else None. Never connect here:
        the listener subscribes every wanted channel when it connects."""
        if not self._listening:
            return None
        addr = self._owner_or_none(name)
        link = self._links.get(addr) if addr is not None else None
        return link if link is not None and link.pubsub.connection is not None else None

    async def subscribe(self, channel: str) -> None:
        name = (self.prefix + channel).encode()
        async with self._lock:
            self._wanted.add(channel)
            if (link := self._link_for(name)) is not None:
                link.leaving.discard(name)
                # A MOVED reply (the slot map is stale) reaches the reader, which reconnects.
                with contextlib.suppress(RedisError, OSError):
                    await link.pubsub.ssubscribe(name)

    async def unsubscribe(self, channel: str) -> None:
        name = (self.prefix + channel).encode()
        async with self._lock:
            self._wanted.discard(channel)
            if (link := self._link_for(name)) is not None:
                link.leaving.add(name)
                with contextlib.suppress(RedisError, OSError):
                    await link.pubsub.sunsubscribe(name)

    async def publish(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        await self._client.spublish(self.prefix + channel, payload(seq, frame, stored_at))

    async def close(self) -> None:
        await self._stop_listening()
        await self._drop_links()
        await self._client.aclose()
