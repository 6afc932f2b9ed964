"""A database that hangs: it accepts connections and answers nothing, or a node froze in
the middle of a publish with its channel's row locked. Every wait is bounded, so clients
get `unavailable` instead of no answer, and the other nodes go on."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import asyncpg
import httpx
import pytest

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.faults import Follower, PgProxy, Publisher, stored, until

TIMEOUTS = {
    "HUB_DB_CONNECT_TIMEOUT": 1,
    "HUB_DB_POOL_TIMEOUT": 1,
    "HUB_DB_STATEMENT_TIMEOUT": 1,
    "HUB_DB_IDLE_TX_TIMEOUT": 1,
}
# Longer than /readyz may take, so only its own bound on the probe can answer in time.
PATIENT = {k: 3 for k in TIMEOUTS}
READY_WITHIN = 2.0  # seconds /readyz may take to say 503


async def _publish_until_stored(c: Client, ch: str, key: str) -> dict[str, object]:
    """Publish with ``key`` until it is `published`; only `unavailable` may come before."""
    end = time.monotonic() + TIMEOUT * 4
    while True:
        r = await c.publish(ch, {"key": key}, key=key)
        if r["type"] == "published":
            return r
        assert r["code"] == "unavailable", r
        assert time.monotonic() < end, "never stored"
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_hung_database_answers_unavailable_and_readyz_503(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """The database stops answering (connections open, nothing forwarded): a publish gets
    `unavailable` instead of hanging, /readyz answers 503 within 2 s, and when the database
    answers again the same publish (same key) is stored once and the subscriber has
    everything, in order, on the same connection."""
    w = pg_world
    ch = f"meeting:{w.meeting}"
    proxy, via = await PgProxy.to(pg_url)
    node = await start_node(db=via, HUB_CATCHUP_INTERVAL=0.3, **PATIENT)
    follower = Follower(w.tok(w.deputies[0]), ch, [node.ws_url])
    following = asyncio.create_task(follower.run(until=41))
    await asyncio.wait_for(follower.subscribed.wait(), TIMEOUT)
    await Publisher(w.tok(w.secretariat), ch, [node.ws_url], name="before").run(20)
    c = await Client.connect(node.ws_url, w.tok(w.secretariat))

    proxy.freeze()
    r = await asyncio.wait_for(c.publish(ch, {"key": "hung"}, key="hung"), TIMEOUT * 2)
    assert (r["type"], r.get("code")) == ("error", "unavailable"), r
    async with httpx.AsyncClient(timeout=READY_WITHIN) as http:
        ready = await http.get(node.url + "/readyz")
    assert (ready.status_code, ready.json()["database"]) == (503, False)

    proxy.restore()
    stored_reply = await _publish_until_stored(c, ch, "hung")
    await c.close()
    await Publisher(w.tok(w.secretariat), ch, [node.ws_url], name="after").run(20)
    await asyncio.wait_for(following, TIMEOUT * 2)
    assert follower.seqs == list(range(1, 42)) and follower.closes == []
    log = await stored(pg_url, ch)
    assert [k for _, _, k, _ in log].count("hung") == 1
    assert (stored_reply["seq"], stored_reply["id"]) in {(s, i) for s, i, _, _ in log}
    await proxy.close()
    await assert_chain_ok(pg_url)


async def _idle_in_transaction(pg_url: str) -> int:
    """Backends of the test's database idle inside a transaction."""
    plain = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    try:
        n = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = $1 AND state = 'idle in transaction'",
            plain.rpartition("/")[2],
        )
        return int(n)
    finally:
        await conn.close()


@pytest.mark.slow
@pytest.mark.alone  # its bound is a chain of idle-transaction timeouts: no CPU contention
async def test_node_frozen_mid_publish_releases_the_channel(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """A node frozen (SIGSTOP) inside a publish transaction holds its channel's row lock:
    PostgreSQL ends that transaction after HUB_DB_IDLE_TX_TIMEOUT, so another node's
    publishes on the channel go through (at worst `unavailable` first), and the log
    stays gap-free and verifiable."""
    w = pg_world
    ch = f"meeting:{w.meeting}"
    frozen = await start_node(**TIMEOUTS)
    other = await start_node(**TIMEOUTS)
    # A few publishers keep it inside transactions; each of their sessions waiting on the
    # channel's row when it froze takes the lock in turn and is ended in turn, so the other
    # node's first publish may wait for a chain of idle-transaction timeouts.
    busy = [await Client.connect(frozen.ws_url, w.tok(w.secretariat)) for _ in range(3)]

    async def publish_forever(c: Client) -> None:
        with contextlib.suppress(Exception):
            while True:
                await c.publish(ch, {"busy": 1})

    load = [asyncio.create_task(publish_forever(c)) for c in busy]
    assert frozen.proc is not None
    for _ in range(50):
        await asyncio.sleep(0.05)
        frozen.proc.send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.2)
        if await _idle_in_transaction(pg_url):
            break
        frozen.proc.send_signal(signal.SIGCONT)
    else:
        pytest.fail("never caught the node inside a transaction")

    c = await Client.connect(other.ws_url, w.tok(w.secretariat))
    replies = [
        await asyncio.wait_for(_publish_until_stored(c, ch, f"other{i}"), TIMEOUT * 4)
        for i in range(10)
    ]
    await c.close()
    assert [r["seq"] for r in replies] == sorted(r["seq"] for r in replies)

    frozen.proc.send_signal(signal.SIGCONT)
    for t in load:
        t.cancel()
    await until(lambda: all(t.done() for t in load))
    log = await stored(pg_url, ch)
    assert [seq for seq, *_ in log] == list(range(1, len(log) + 1))
    await assert_chain_ok(pg_url)
