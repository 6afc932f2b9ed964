"""Two hub processes sharing PostgreSQL and Redis act as one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.utils import TIMEOUT
from tests.utils.backends import REDIS_URL, need, redis_prefix
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import SECRET, World, make_world
from tests.utils.faults import FAST, stored
from tests.utils.redis_server import RedisServer
from tests.utils.servers import HubProcess


def _env(db: str, redis: str, prefix: str, tmp: Path, name: str) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": db,
        "HUB_REDIS_URL": redis,
        "HUB_REDIS_PREFIX": prefix,
        "HUB_SECRET": SECRET,
        "HUB_DATA_DIR": str(tmp / name),
        "HUB_CATCHUP_INTERVAL": "0.5",
        **FAST,
    }


@pytest.fixture
async def pg_world(pg_url: str) -> World:
    return await make_world(pg_url)


async def _nodes(env_a: dict[str, str], env_b: dict[str, str], tmp: Path) -> list[HubProcess]:
    a = HubProcess(env_a, log=tmp / "a.log")
    b = HubProcess(env_b, log=tmp / "b.log")
    await asyncio.gather(a.start(), b.start())
    return [a, b]


@pytest.fixture
async def two_nodes(
    pg_url: str, pg_world: World, tmp_path: Path
) -> AsyncIterator[list[HubProcess]]:
    need(REDIS_URL, "Redis")
    prefix = redis_prefix()
    nodes = await _nodes(
        _env(pg_url, REDIS_URL, prefix, tmp_path, "a"),
        _env(pg_url, REDIS_URL, prefix, tmp_path, "b"),
        tmp_path,
    )
    yield nodes
    for n in nodes:
        n.kill()


async def test_message_published_on_one_node_reaches_the_other(
    two_nodes: list[HubProcess], pg_world: World, pg_url: str
) -> None:
    """A notice published on node A reaches a deputy connected to node B."""
    a, b = two_nodes
    w = pg_world
    ch = f"meeting:{w.meeting}"
    dep = await Client.connect(b.ws_url, w.tok(w.deputies[0]))
    await dep.subscribe(ch)
    sec = await Client.connect(a.ws_url, w.tok(w.secretariat))
    for i in range(5):
        await sec.publish(ch, {"i": i})
    got = await dep.messages(5)
    assert [m["seq"] for m in got] == [1, 2, 3, 4, 5]
    await assert_chain_ok(pg_url, messages=5)


async def test_publishers_on_two_nodes_share_one_sequence(
    two_nodes: list[HubProcess], pg_world: World, pg_url: str
) -> None:
    """Publishers on both nodes into one channel: subscribers on both see 1..N once each."""
    w = pg_world
    ch = f"meeting:{w.meeting}"
    subs = [await Client.connect(n.ws_url, w.tok(w.deputies[i])) for i, n in enumerate(two_nodes)]
    for s in subs:
        await s.subscribe(ch)

    async def publisher(node: HubProcess, tag: str) -> None:
        c = await Client.connect(node.ws_url, w.tok(w.secretariat))
        for i in range(50):
            r = await c.publish(ch, {"from": tag, "i": i})
            assert r["type"] == "published"

    await asyncio.gather(
        *(publisher(n, f"{k}{j}") for k, n in enumerate(two_nodes) for j in range(2))
    )
    for s in subs:
        got = await s.messages(200)
        assert [m["seq"] for m in got] == list(range(1, 201))
    await assert_chain_ok(pg_url, messages=200)


PUBLISHERS = 8
EACH = 40


async def test_eight_publishers_on_two_nodes_keep_one_hash_chain(
    two_nodes: list[HubProcess], pg_world: World, pg_url: str
) -> None:
    """Eight publishers on one channel, four on each node, all at once on one PostgreSQL
    database: the seqs are 1..N with every publish once, and `hub verify` finds every
    link of the hash chain intact (each hash covers the message stored just before it)."""
    w = pg_world
    ch = f"meeting:{w.meeting}"
    clients = [
        await Client.connect(two_nodes[p % 2].ws_url, w.tok(w.secretariat))
        for p in range(PUBLISHERS)
    ]
    go = asyncio.Event()

    async def publisher(c: Client, p: int) -> None:
        await go.wait()
        for i in range(EACH):
            r = await c.publish(ch, {"p": p, "i": i}, key=f"{p}-{i}")
            assert r["type"] == "published", r

    publishing = asyncio.gather(*(publisher(c, p) for p, c in enumerate(clients)))
    go.set()
    await asyncio.wait_for(publishing, TIMEOUT * 3)
    log = await stored(pg_url, ch)
    n = PUBLISHERS * EACH
    assert [seq for seq, *_ in log] == list(range(1, n + 1))
    assert sorted(key or "" for _, _, key, _ in log) == sorted(
        f"{p}-{i}" for p in range(PUBLISHERS) for i in range(EACH)
    )
    report = await assert_chain_ok(pg_url, messages=n)
    assert report["channels"] == 1


async def test_redis_restart_while_messages_flow(
    pg_url: str, pg_world: World, tmp_path: Path
) -> None:
    """Redis restarted while messages flow: afterwards every subscriber has every message,
    in order, once, without doing anything but staying connected."""
    redis = await RedisServer().start()
    prefix = redis_prefix()
    nodes = await _nodes(
        _env(pg_url, redis.url, prefix, tmp_path, "a"),
        _env(pg_url, redis.url, prefix, tmp_path, "b"),
        tmp_path,
    )
    try:
        a, b = nodes
        w = pg_world
        ch = f"meeting:{w.meeting}"
        subs = [await Client.connect(b.ws_url, w.tok(d)) for d in w.deputies]
        for s in subs:
            await s.subscribe(ch)
        sec = await Client.connect(a.ws_url, w.tok(w.secretariat))
        total = 60
        for i in range(total):
            if i == 20:
                port = redis.port
                redis.stop()
            if i == 40:
                redis = await RedisServer(port).start()
            assert (await sec.publish(ch, {"i": i}))["type"] == "published"
            await asyncio.sleep(0.02)
        for s in subs:
            got = await s.messages(total)
            assert [m["body"]["i"] for m in got] == list(range(total))
            assert [m["seq"] for m in got] == list(range(1, total + 1))
        await assert_chain_ok(pg_url, messages=total)
    finally:
        for n in nodes:
            n.kill()
        redis.stop()
