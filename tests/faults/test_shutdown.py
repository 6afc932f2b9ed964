"""SIGTERM to a node in the middle of a session: clients get 1001, what was in flight is
committed and acknowledged or refused, and everyone resumes on the other node."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.factories import World
from tests.utils.faults import Acknowledger, Follower, Publisher, stored, stored_receipts, until

N = 300  # per publisher


@pytest.mark.slow
async def test_sigterm_drains_clients_resume_on_other_node(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """SIGTERM to node A while three secretariat clients publish through it and deputies
    acknowledge: every client on A is closed with 1001; of the publishes, exactly those
    acknowledged are stored (none committed without its reply); every receipt confirmed
    is stored; A exits by itself; publishers, followers and receipts resume on node B,
    and every deputy ends with every notice once, in order; the log's hash chain holds."""
    w = pg_world
    a, b = await asyncio.gather(start_node(HUB_RECEIPT_FLUSH=0.1), start_node())
    ch = f"meeting:{w.meeting}"
    followers = [Follower(w.tok(d), ch, [a.ws_url, b.ws_url]) for d in w.deputies[:2]]
    following = [asyncio.create_task(f.run(until=3 * N)) for f in followers]
    acker = Acknowledger(w.tok(w.deputies[2]), ch)
    acking = asyncio.create_task(acker.run(a.ws_url))
    waits = [f.subscribed.wait() for f in followers] + [acker.subscribed.wait()]
    await asyncio.wait_for(asyncio.gather(*waits), TIMEOUT)
    pubs = [Publisher(w.tok(w.secretariat), ch, [a.ws_url], name=n) for n in "abc"]
    publishing = asyncio.gather(*(p.run(N) for p in pubs))
    await until(lambda: sum(len(p.acked) for p in pubs) >= N)
    a.terminate()
    await asyncio.wait_for(publishing, TIMEOUT * 2)
    assert await a.wait() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    await acking

    # Node A is gone. What it stored is exactly what it acknowledged.
    log = await stored(pg_url, ch)
    acked = {p.key(i): reply for p in pubs for i, reply in p.acked.items()}
    assert {key: (seq, id_) for seq, id_, key, _ in log} == acked
    assert all(p.closes == [1001] and p.errors == [] for p in pubs)
    assert acker.close == 1001 and acker.other == []
    kept = await stored_receipts(pg_url, w.deputies[2])
    assert {(k, s) for k, _, s in kept} >= acker.confirmed, "a receipt confirmed and missing"
    assert acker.confirmed, "receipts flowed before the shutdown"

    # Everyone goes on at node B.
    for p in pubs:
        p.urls = [b.ws_url]
    await asyncio.wait_for(asyncio.gather(*(p.run(N) for p in pubs)), TIMEOUT * 3)
    await acker.resend(b.ws_url, acker.sent - acker.confirmed)
    await asyncio.wait_for(asyncio.gather(*following), TIMEOUT * 3)

    log = await stored(pg_url, ch)
    assert [seq for seq, *_ in log] == list(range(1, 3 * N + 1))
    assert sorted(key for _, _, key, _ in log) == sorted(p.key(i) for p in pubs for i in range(N))
    for f in followers:
        assert f.closes == [1001]
        assert f.connects == 2, "one reconnection, after the 1001, and no stall"
        assert f.seqs == list(range(1, 3 * N + 1))
        for p in pubs:
            assert [m["i"] for m in f.bodies if m["p"] == p.name] == list(range(N))
    kept = await stored_receipts(pg_url, w.deputies[2])
    assert {(k, s) for k, _, s in kept} == acker.sent
    await assert_chain_ok(pg_url, messages=3 * N)
