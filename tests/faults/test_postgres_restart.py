"""A real PostgreSQL server, the test's own, stopped and started again, and refusing every
connection with its own 57P03 meanwhile: clients see `unavailable`, never `internal`, and
nothing acknowledged or delivered is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from hub.store.migrate import upgrade
from tests.faults.conftest import StartNode, _port_outside_ephemeral_range
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.factories import make_world
from tests.utils.faults import Follower, Publisher, stored
from tests.utils.pg_server import OwnedPostgres

N = 300  # per publisher, published at a steady pace across the restart
REFUSING = 3.0  # seconds the restarted server refuses connections


@pytest.fixture
async def own_pg() -> AsyncIterator[OwnedPostgres]:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory)."""
    pg = await OwnedPostgres(_port_outside_ephemeral_range()).init()
    await pg.start()
    yield pg
    await pg.destroy()


@pytest.mark.slow
async def test_postgres_restarted_refusing_loses_nothing(
    start_node: StartNode, own_pg: OwnedPostgres
) -> None:
    """The test's own PostgreSQL is stopped (fast shutdown), started again refusing every
    connection (57P03, hot standby off) for 3 s, then promoted: publishes meanwhile get
    `unavailable` and are stored once when sent again, /readyz answers 503, a subscriber
    stays connected and ends with every message once, in order; `hub verify` passes."""
    url = await own_pg.create_database("hub")
    await asyncio.to_thread(upgrade, url)
    w = await make_world(url)
    node = await start_node(db=url, HUB_CATCHUP_INTERVAL=0.3)
    ch = f"meeting:{w.meeting}"
    follower = Follower(w.tok(w.deputies[0]), ch, [node.ws_url])
    following = asyncio.create_task(follower.run(until=2 * N))
    await asyncio.wait_for(follower.subscribed.wait(), TIMEOUT)
    pubs = [Publisher(w.tok(w.secretariat), ch, [node.ws_url], name=n) for n in "ab"]
    publishing = asyncio.gather(*(p.run(N, pause=2 * REFUSING / N) for p in pubs))

    await asyncio.sleep(0.5)
    await own_pg.stop("fast")
    await own_pg.start(standby=True)
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        await asyncio.sleep(REFUSING / 2)
        r = await http.get(node.url + "/readyz")
        assert (r.status_code, r.json()["database"]) == (503, False)
        await asyncio.sleep(REFUSING / 2)
        await own_pg.promote()
        await asyncio.wait_for(publishing, TIMEOUT * 3)
        for p in pubs:
            assert p.errors == [], "a restart is `unavailable`, never `internal`"
            assert len(p.acked) == N
        await asyncio.wait_for(following, TIMEOUT * 2)
        assert (await http.get(node.url + "/readyz")).status_code == 200

    assert any(p.refused for p in pubs), "no publish met the restart"
    log = await stored(url, ch)
    assert [seq for seq, *_ in log] == list(range(1, 2 * N + 1))
    by_key = {key: (seq, id_) for seq, id_, key, _ in log}
    assert len(by_key) == 2 * N, "a key stored twice"
    for p in pubs:
        assert all(by_key[p.key(i)] == reply for i, reply in p.acked.items())
    assert follower.seqs == list(range(1, 2 * N + 1)) and follower.closes == []
    await assert_chain_ok(url)
