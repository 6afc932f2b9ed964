"""A node killed with SIGKILL in the middle of a session costs nobody a notice."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.factories import World
from tests.utils.faults import Follower, Publisher, stored, until
from tests.utils.redis_server import RedisServer

N = 1000


@pytest.mark.slow
async def test_kill_9_node_clients_resume_on_other_node(
    start_node: StartNode, own_redis: RedisServer, pg_world: World, pg_url: str
) -> None:
    """kill -9 of one of two nodes while the secretariat publishes 1,000 notices through
    it: its deputies resume on the other node with `since`, the secretariat resends its
    unanswered notice there with the same key (and it is acknowledged there), and every
    deputy ends with every notice exactly once, in order, without a reconnection the
    kill did not cause; the log holds exactly 1,000 and its hash chain holds."""
    w = pg_world
    a, b = await asyncio.gather(start_node(redis=own_redis.url), start_node(redis=own_redis.url))
    ch = f"meeting:{w.meeting}"
    followers = [
        Follower(w.tok(d), ch, [a.ws_url, b.ws_url] if i % 2 == 0 else [b.ws_url])
        for i, d in enumerate(w.deputies)
    ]
    tasks = [asyncio.create_task(f.run(until=N)) for f in followers]
    await asyncio.wait_for(asyncio.gather(*(f.subscribed.wait() for f in followers)), TIMEOUT)
    pub = Publisher(w.tok(w.secretariat), ch, [a.ws_url, b.ws_url])
    publishing = asyncio.create_task(pub.run(N))
    await until(lambda: len(pub.acked) >= N // 3)
    a.kill()
    # The publisher is waiting for the reply to the notice it sent last (or, if that
    # reply was already on its way, it sends the next one into the dead connection):
    # that notice is unanswered, and must be resent on node B with its key.
    in_flight = pub.next
    await asyncio.wait_for(publishing, TIMEOUT * 6)
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT * 3)

    assert pub.errors == [] and len(pub.acked) == N
    assert pub.closes, "the publisher's node was killed under it"
    [lost] = pub.unanswered
    assert lost in (in_flight, in_flight + 1), "the notice in flight at the kill"
    assert lost in pub.acked, "the unanswered notice was resent and acknowledged"
    log = await stored(pg_url, ch)
    assert [seq for seq, *_ in log] == list(range(1, N + 1))
    assert [key for _, _, key, _ in log] == [pub.key(i) for i in range(N)]
    assert {pub.acked[i] for i in range(N)} == {(seq, id_) for seq, id_, _, _ in log}
    for f in followers:
        assert f.seqs == list(range(1, N + 1))
        assert [m["i"] for m in f.bodies] == list(range(N))
        # A reconnection without a close is a read that timed out: a stalled subscriber.
        assert f.connects == 1 + len(f.closes), "a follower reconnected after a stall"
    moved = [f for f in followers if len(f.closes) > 0]
    assert moved == followers[::2], "the deputies on the killed node resumed, no other"
    await assert_chain_ok(pg_url, messages=N)
