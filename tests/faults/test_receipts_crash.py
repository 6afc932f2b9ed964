"""Receipts sent just before a node dies are stored and confirmed, or unconfirmed so the
client sends them again: none is confirmed and missing."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.faults import Acknowledger, stored_receipts, until

N = 300


@pytest.mark.slow
@pytest.mark.alone  # a kill -9 timed against a child's acknowledgements: no contention
async def test_receipts_before_kill_9_confirmed_means_stored(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """A deputy on node A sends `ack` and `read` for each notice as it arrives; A is
    killed with SIGKILL while receipts are queued (batches every 0.2 s): every receipt A
    confirmed is stored, some were left unconfirmed, and those, sent again on node B,
    are stored too; the log's hash chain holds."""
    w = pg_world
    a, b = await asyncio.gather(start_node(HUB_RECEIPT_FLUSH=0.2), start_node())
    ch = f"meeting:{w.meeting}"
    dep = w.deputies[0]
    acker = Acknowledger(w.tok(dep), ch)
    acking = asyncio.create_task(acker.run(a.ws_url))
    await asyncio.wait_for(acker.subscribed.wait(), TIMEOUT)
    sec = await Client.connect(b.ws_url, w.tok(w.secretariat))

    async def publish() -> None:
        for i in range(N):
            assert (await sec.publish(ch, {"i": i}))["type"] == "published"
            await asyncio.sleep(0.003)

    publishing = asyncio.create_task(publish())
    # killed while receipts are queued on A: sent and not yet confirmed
    await until(lambda: len(acker.confirmed) >= 100 and bool(acker.sent - acker.confirmed))
    a.kill()
    await asyncio.wait_for(acking, TIMEOUT)
    await publishing

    kept = {(k, s) for k, _, s in await stored_receipts(pg_url, dep)}
    assert acker.close is None and acker.other == []
    assert kept >= acker.confirmed, "a receipt confirmed and missing"
    unconfirmed = acker.sent - acker.confirmed
    assert unconfirmed, "the kill left receipts unconfirmed"
    await acker.resend(b.ws_url, unconfirmed)
    kept = {(k, s) for k, _, s in await stored_receipts(pg_url, dep)}
    assert kept == acker.sent
    await assert_chain_ok(pg_url, messages=N)
