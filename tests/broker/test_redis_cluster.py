"""The Redis Cluster broker on a real cluster: three masters with a replica each, started
on loopback by this module (``redis-server --cluster-enabled yes``, ``redis-cli --cluster
create``). Sharded pub/sub spreads the channels over the masters; a failover costs a
reconnect and a catch-up from the log, never a message.

The tests share one cluster and run in file order: the failovers come last (after them
the masters are no longer the ones the cluster started with)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from hub.broker import make_broker
from hub.broker.redis_cluster import RedisClusterBroker, parse_cluster_url
from tests.broker.test_broker import _node, _until
from tests.utils import TIMEOUT
from tests.utils.backends import redis_prefix
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import SECRET, World, make_world
from tests.utils.faults import FAST, Follower, until
from tests.utils.redis_cluster import RedisCluster
from tests.utils.servers import HubProcess


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    c = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield c.start()
    finally:
        c.stop()


def _spread(c: RedisCluster, prefix: str, n: int = 3) -> list[str]:
    """``n`` hub channels whose shard channels live on ``n`` different masters."""
    chans: dict[int, str] = {}
    for i in range(1000):
        ch = f"meeting:{i}"
        chans.setdefault(c.master_of(prefix + ch), ch)
        if len(chans) == n:
            return list(chans.values())
    raise AssertionError("channels do not spread over the masters")


def test_url_chooses_the_cluster_broker() -> None:
    """``redis+cluster://`` seed lists choose the cluster broker; credentials and TLS are
    read from the URL; a plain ``redis://`` URL still chooses the plain broker."""
    b = make_broker("redis+cluster://127.0.0.1:7000,127.0.0.1:7001/", "hub:")
    assert isinstance(b, RedisClusterBroker)
    assert b.seeds == [("127.0.0.1", 7000), ("127.0.0.1", 7001)]
    seeds, kw = parse_cluster_url("rediss+cluster://u:p%40ss@h1:7000,h2/")
    assert seeds == [("h1", 7000), ("h2", 6379)]
    assert kw == {"username": "u", "password": "p@ss", "ssl": True}
    assert type(make_broker("redis://127.0.0.1:6379/0", "hub:")).__name__ == "RedisBroker"


async def test_two_nodes_hear_each_other_on_every_master(cluster: RedisCluster) -> None:
    """Two brokers (two nodes) hear each other's publishes on channels spread over all
    three masters, with seq and frame intact; after an unsubscribe nothing more arrives."""
    prefix = redis_prefix()
    chans = _spread(cluster, prefix)
    assert len({cluster.master_of(prefix + c) for c in chans}) == 3
    a, heard_a, _ = await _node(lambda: RedisClusterBroker(cluster.url, prefix))
    b, heard_b, _ = await _node(lambda: RedisClusterBroker(cluster.url, prefix))
    assert a.state == "listening" and b.state == "listening"
    for c in chans:
        await a.subscribe(c)
        await b.subscribe(c)
    for i, c in enumerate(chans):
        await a.publish(c, i + 1, '{"from":"a","t":"通知"}', 0.0)
        await b.publish(c, i + 10, '{"from":"b"}', 0.0)
    await _until(lambda: len(heard_a) == 6 and len(heard_b) == 6)
    want = sorted(
        [(c, i + 1, '{"from":"a","t":"通知"}') for i, c in enumerate(chans)]
        + [(c, i + 10, '{"from":"b"}') for i, c in enumerate(chans)]
    )
    assert sorted(heard_a) == want and sorted(heard_b) == want

    for c in chans:
        await a.unsubscribe(c)
    for i, c in enumerate(chans):
        await b.publish(c, i + 100, "{}", 0.0)
    await _until(lambda: len(heard_b) == 9)
    await asyncio.sleep(0.2)
    assert len(heard_a) == 6
    # Unsubscribing is not a topology change: the listener did not reconnect.
    assert a.state == "listening" and await a.ping()
    await a.close()
    await b.close()
    assert a.state == "stopped"


async def test_graceful_failover_reconnects_and_calls_on_reconnect(cluster: RedisCluster) -> None:
    """A replica takes over a master's slots (CLUSTER FAILOVER, as for maintenance): the
    old master drops the subscriptions of those slots (an unrequested ``sunsubscribe``),
    the broker reads the slot map again, resubscribes on the new master, calls
    on_reconnect (the node catches up what it may have missed) and hears every channel
    again, one subscribed meanwhile too."""
    prefix = redis_prefix()
    chans = _spread(cluster, prefix)
    a, heard, reconnected = await _node(lambda: RedisClusterBroker(cluster.url, prefix))
    b, _, _ = await _node(lambda: RedisClusterBroker(cluster.url, prefix))
    for c in chans[:2]:
        await a.subscribe(c)
    old = cluster.master_of(prefix + chans[0])
    cluster.failover(cluster.replica_of(old))
    await asyncio.to_thread(_wait, lambda: cluster.master_of(prefix + chans[0]) != old, "failover")
    await a.subscribe(chans[2])
    await asyncio.wait_for(reconnected.wait(), TIMEOUT)
    await _until(lambda: a.state == "listening")
    for i, c in enumerate(chans):
        await _publish_retrying(b, c, i + 1)
    await _until(lambda: len(heard) == 3)
    assert sorted(heard) == sorted((c, i + 1, "{}") for i, c in enumerate(chans))
    await a.close()
    await b.close()
    await asyncio.to_thread(cluster.wait_ok)


async def test_master_killed_broker_reconnects_and_calls_on_reconnect(
    cluster: RedisCluster,
) -> None:
    """The master owning a subscribed channel is killed: the broker reports
    ``reconnecting`` while the replica takes over, then reads the slot map again,
    resubscribes on the new master, calls on_reconnect (the node catches up from the log
    what was published meanwhile) and hears again. The killed node comes back as a
    replica."""
    prefix = redis_prefix()
    chans = _spread(cluster, prefix)
    a, heard, reconnected = await _node(lambda: RedisClusterBroker(cluster.url, prefix))
    b, _, _ = await _node(lambda: RedisClusterBroker(cluster.url, prefix))
    for c in chans:
        await a.subscribe(c)
    old = cluster.master_of(prefix + chans[0])
    cluster.kill(old)
    await _until(lambda: a.state == "reconnecting")
    assert not reconnected.is_set()
    await asyncio.wait_for(reconnected.wait(), TIMEOUT)
    assert cluster.master_of(prefix + chans[0]) != old
    await _until(lambda: a.state == "listening")
    for i, c in enumerate(chans):
        await _publish_retrying(b, c, i + 1)
    await _until(lambda: len(heard) == 3)
    assert sorted(heard) == sorted((c, i + 1, "{}") for i, c in enumerate(chans))
    await a.close()
    await b.close()
    cluster.start_node(old)  # it rejoins as a replica of the new master
    await asyncio.to_thread(cluster.wait_ok)


def _wait(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in time")
        time.sleep(0.05)


async def _publish_retrying(b: RedisClusterBroker, channel: str, seq: int) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        try:
            await b.publish(channel, seq, "{}", 0.0)
        except Exception:
            await asyncio.sleep(0.05)
            continue
        return
    raise AssertionError("publish never succeeded")


@pytest.fixture
async def pg_world(pg_url: str) -> World:
    return await make_world(pg_url)


@pytest.fixture
async def two_hubs(
    cluster: RedisCluster, pg_url: str, pg_world: World, tmp_path: Path
) -> AsyncIterator[tuple[list[HubProcess], str]]:
    prefix = redis_prefix()
    nodes = [
        HubProcess(
            {
                "HUB_DATABASE_URL": pg_url,
                "HUB_REDIS_URL": cluster.url,
                "HUB_REDIS_PREFIX": prefix,
                "HUB_SECRET": SECRET,
                "HUB_DATA_DIR": str(tmp_path / name),
                # The periodic head check is off: only the broker's catch-up fills the gap.
                "HUB_CATCHUP_INTERVAL": "60",
                **FAST,
            },
            log=tmp_path / f"{name}.log",
        )
        for name in ("a", "b")
    ]
    await asyncio.gather(*(n.start() for n in nodes))
    yield nodes, prefix
    for n in nodes:
        n.kill()


@pytest.mark.slow
async def test_master_killed_while_messages_flow_nothing_lost(
    cluster: RedisCluster, two_hubs: tuple[list[HubProcess], str], pg_world: World, pg_url: str
) -> None:
    """Two hub processes on one PostgreSQL database and the cluster; the master owning the
    channel's slot is killed (SIGKILL) while node A publishes and node B's deputies listen;
    its replica takes over. B's broker reconnects to the new master and catches up from
    the log: every deputy ends with every message once, in order, on the connection it
    had all along (the last messages were published while B could not hear them, and the
    periodic head check is off). Later messages arrive live. ``hub verify`` passes."""
    (a, b), prefix = two_hubs
    w = pg_world
    ch = f"meeting:{w.meeting}"
    master = cluster.master_of(prefix + ch)
    assert key_slot((prefix + ch).encode()) >= 0
    followers = [Follower(w.tok(d), ch, [b.ws_url]) for d in w.deputies]
    sec = await Client.connect(a.ws_url, w.tok(w.secretariat))
    n = 0

    async def publish_for(seconds: float) -> None:
        nonlocal n
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r = await sec.publish(ch, {"i": n}, key=f"n{n}")
            assert r["type"] == "published", r
            n += 1
            await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(f.run(until=10**9)) for f in followers]
    await asyncio.wait_for(asyncio.gather(*(f.subscribed.wait() for f in followers)), TIMEOUT)
    await publish_for(0.5)
    before = n
    await until(lambda: all(len(f.seqs) == before for f in followers))

    cluster.kill(master)
    await publish_for(1.0)  # the replica has not taken over yet: B hears none of these
    assert n - before > 10
    await until(lambda: all(len(f.seqs) == n for f in followers), timeout=TIMEOUT * 2)

    # Live again on the new master (the next head check is a minute away).
    await publish_for(0.2)
    await until(lambda: all(len(f.seqs) == n for f in followers))
    for t in tasks:
        t.cancel()
    for f in followers:
        assert f.seqs == list(range(1, n + 1))
        assert [m["i"] for m in f.bodies] == list(range(n))
        assert f.connects == 1 and f.closes == []
    assert "catching up from the log" in (b.log.read_text() if b.log else "")
    await assert_chain_ok(pg_url, messages=n)
