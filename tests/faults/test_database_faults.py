"""PostgreSQL connections killed, or the database unreachable, while publishing: no
publish is acknowledged and missing, and the hub recovers by itself."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse

import pytest

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.faults import Follower, Publisher, TcpProxy, stored, terminate_backends, until

FAULT_TIME = 4.0
N = 400  # per publisher, published at a steady pace across the faults


async def _recovered(url: str, token: str, ch: str) -> float:
    """Seconds until a publish on a fresh connection succeeds again."""
    t0 = time.monotonic()
    c = await Client.connect(url, token)
    while True:
        r = await c.publish(ch, {"probe": 1})
        if r["type"] == "published":
            await c.close()
            return time.monotonic() - t0
        assert r["code"] == "unavailable", r
        assert time.monotonic() - t0 < TIMEOUT, "the hub did not recover by itself"
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_connections_killed_while_publishing(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """pg_terminate_backend on every hub connection, again and again, while two
    secretariat clients publish: each publish is acknowledged and stored, or refused with
    `unavailable` (and stored once when published again with its key); a deputy
    subscribed all along gets every message once, in order; the hub recovers by itself;
    the log's hash chain holds."""
    w = pg_world
    node = await start_node(HUB_CATCHUP_INTERVAL=0.3)
    ch = f"meeting:{w.meeting}"
    follower = Follower(w.tok(w.deputies[0]), ch, [node.ws_url])
    following = asyncio.create_task(follower.run(until=10**9))
    await asyncio.wait_for(follower.subscribed.wait(), TIMEOUT)
    pubs = [Publisher(w.tok(w.secretariat), ch, [node.ws_url], name=n) for n in "ab"]
    publishing = asyncio.gather(*(p.run(N, pause=FAULT_TIME / N) for p in pubs))
    killed = 0
    end = time.monotonic() + FAULT_TIME
    while time.monotonic() < end:
        await asyncio.sleep(0.15)
        killed += await terminate_backends(pg_url)
    await asyncio.wait_for(publishing, TIMEOUT * 3)
    await _recovered(node.ws_url, w.tok(w.secretariat), ch)
    total = N * len(pubs) + 1
    await until(lambda: len(follower.seqs) >= total)
    following.cancel()
    assert follower.connects == 1 and follower.closes == [], "served on one connection"

    assert killed > 10
    assert sum(len(p.refused) for p in pubs) > 0, "no publish met a killed connection"
    await _check_with_probe(pubs, [follower], pg_url, ch)
    await assert_chain_ok(pg_url, messages=total)


@pytest.mark.slow
async def test_database_unreachable_then_back(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """The database cut away (every connection dropped, new ones refused) for 3 s while
    publishing: publishes are refused with `unavailable`, none is acknowledged and
    missing, /readyz says so, and the hub serves again by itself once it is back; the
    log's hash chain holds."""
    import httpx

    w = pg_world
    u = urlparse(pg_url.replace("+asyncpg", ""))
    proxy = await TcpProxy(u.hostname or "127.0.0.1", u.port or 5432).start()
    via_proxy = pg_url.replace(f"{u.hostname}:{u.port}", f"127.0.0.1:{proxy.port}")
    node = await start_node(db=via_proxy, HUB_CATCHUP_INTERVAL=0.3)
    ch = f"meeting:{w.meeting}"
    follower = Follower(w.tok(w.deputies[0]), ch, [node.ws_url])
    following = asyncio.create_task(follower.run(until=10**9))
    await asyncio.wait_for(follower.subscribed.wait(), TIMEOUT)
    pubs = [Publisher(w.tok(w.secretariat), ch, [node.ws_url], name=n) for n in "ab"]
    publishing = asyncio.gather(*(p.run(N, pause=FAULT_TIME / N) for p in pubs))
    async with httpx.AsyncClient() as http:
        await asyncio.sleep(0.5)
        await proxy.cut()
        await asyncio.sleep(1.0)
        r = await http.get(node.url + "/readyz")
        assert (r.status_code, r.json()["database"]) == (503, False)
        await asyncio.sleep(2.0)
        await proxy.restore()
        await asyncio.wait_for(publishing, TIMEOUT * 3)
        await _recovered(node.ws_url, w.tok(w.secretariat), ch)
        assert (await http.get(node.url + "/readyz")).status_code == 200
    total = N * len(pubs) + 1
    await until(lambda: len(follower.seqs) >= total)
    following.cancel()
    assert follower.connects == 1 and follower.closes == [], "served on one connection"
    await proxy.close()

    assert sum(len(p.refused) for p in pubs) > 0
    await _check_with_probe(pubs, [follower], pg_url, ch)
    await assert_chain_ok(pg_url, messages=total)


async def _check_with_probe(
    pubs: list[Publisher], followers: list[Follower], db: str, ch: str
) -> None:
    # The recovery probe is the one message without a key, and the last.
    log = await stored(db, ch)
    assert log[-1][2] is None
    for f in followers:
        f.seqs = f.seqs[: len(log) - 1]
    await _check_log(pubs, followers, log[:-1])


async def _check_log(
    pubs: list[Publisher], followers: list[Follower], log: list[tuple[int, int, str | None, str]]
) -> None:
    by_key = {key: (seq, id_) for seq, id_, key, _ in log}
    assert [seq for seq, *_ in log] == list(range(1, len(log) + 1))
    assert len(by_key) == len(log), "a key stored twice"
    for p in pubs:
        assert p.errors == []
        assert len(p.acked) == N
        for i, reply in p.acked.items():
            assert by_key[p.key(i)] == reply, "acknowledged and missing (or changed)"
    assert len(log) == N * len(pubs)
    for f in followers:
        assert f.seqs == list(range(1, len(log) + 1))
