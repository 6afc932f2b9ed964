"""PostgreSQL refusing connections at the protocol level (its own FATAL ErrorResponse:
57P03 "not accepting connections", 53300 "too many clients") for a few seconds, on two
nodes that hear nothing of each other through Redis: the refusal is `unavailable`, every
background loop outlives it, and nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import websockets

from hub.errors import Close
from hub.session.schema import users
from hub.store.engine import make_engine
from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.backends import redis_prefix
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.faults import (
    CANNOT_CONNECT_NOW,
    TOO_MANY_CONNECTIONS,
    Follower,
    PgProxy,
    Publisher,
    stored,
    stored_receipt_counts,
    until,
)

PRE = 300  # published before the refusal: more than a node keeps in memory (256)
N = 200  # published across the refusal
REFUSAL = 4.0
M = 40  # messages a deputy sends receipts for
LOOPS = {"HUB_CATCHUP_INTERVAL": 0.2, "HUB_ACCOUNT_CHECK": 0.3}


async def _closed(c: Client) -> int | None:
    """The close code the server ends ``c`` with (frames before it are skipped); -1 if it
    is still open after the test timeout."""
    try:
        while True:
            await c.recv(TIMEOUT)
    except websockets.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None
    except TimeoutError:
        return -1


@pytest.mark.slow
@pytest.mark.parametrize(
    "refusal", [CANNOT_CONNECT_NOW, TOO_MANY_CONNECTIONS], ids=["57P03", "53300"]
)
async def test_refusing_database_loses_no_delivery(
    start_node: StartNode, pg_world: World, pg_url: str, refusal: tuple[str, str]
) -> None:
    """While PostgreSQL refuses every connection for 4 s: publishes get `unavailable`
    (never `internal`) and are stored once when sent again; a client that subscribes
    meanwhile is closed with 1011 and has everything after resuming; the other node's head
    check (its only way to hear of them) delivers every message; its account check still
    closes a deactivated deputy with 4403; `hub verify` passes."""
    w = pg_world
    ch = f"meeting:{w.meeting}"
    proxy, via = await PgProxy.to(pg_url)
    # Each node its own Redis prefix: B hears of A's messages only by checking heads.
    a = await start_node(db=via, HUB_REDIS_PREFIX=redis_prefix(), **LOOPS)
    b = await start_node(db=via, HUB_REDIS_PREFIX=redis_prefix(), **LOOPS)
    sec = w.tok(w.secretariat)
    await Publisher(sec, ch, [a.ws_url], name="pre").run(PRE)
    on_a = Follower(w.tok(w.deputies[0]), ch, [a.ws_url])
    on_b = Follower(w.tok(w.deputies[0]), ch, [b.ws_url])
    following = [asyncio.create_task(f.run(until=PRE + N)) for f in (on_a, on_b)]
    await until(lambda: len(on_a.seqs) == len(on_b.seqs) == PRE)
    late = await Client.connect(a.ws_url, w.tok(w.deputies[2]))
    deactivated = await Client.connect(b.ws_url, w.tok(w.deputies[1]))

    pub = Publisher(sec, ch, [a.ws_url], name="p")
    publishing = asyncio.create_task(pub.run(N, pause=REFUSAL * 2 / N))
    await asyncio.sleep(0.5)
    proxy.refuse(refusal)
    await late.send({"type": "subscribe", "channel": ch, "since": 0})
    late_close = asyncio.create_task(_closed(late))
    await asyncio.sleep(REFUSAL)
    proxy.restore()
    await asyncio.wait_for(publishing, TIMEOUT * 3)
    assert pub.errors == [], "a refusal is `unavailable`, never `internal`"
    assert proxy.refused > 0 and pub.refused, "the refusal was met"
    assert len(pub.acked) == N

    assert await late_close == Close.INTERNAL, "a replay that cannot read the log closes 1011"
    resumed = await Client.connect(a.ws_url, w.tok(w.deputies[2]))
    await resumed.subscribe(ch, since=0)
    assert [m["seq"] for m in await resumed.messages(PRE + N, ch)] == list(range(1, PRE + N + 1))
    await resumed.close()

    done, _ = await asyncio.wait(following, timeout=TIMEOUT * 2)
    assert len(done) == 2, f"B's head check delivered {len(on_b.seqs)} of {PRE + N}"
    for f in (on_a, on_b):
        assert f.seqs == list(range(1, PRE + N + 1)), "every message once, in order"

    engine = make_engine(pg_url)
    async with engine.begin() as conn:
        await conn.execute(users.update().where(users.c.id == w.deputies[1]).values(active=False))
    await engine.dispose()
    assert await _closed(deactivated) == Close.DEACTIVATED, "B's account check closes it"

    log = await stored(pg_url, ch)
    assert [seq for seq, *_ in log] == list(range(1, PRE + N + 1))
    by_key = {key: (seq, id_) for seq, id_, key, _ in log}
    assert all(by_key[pub.key(i)] == reply for i, reply in pub.acked.items())
    await proxy.close()
    await assert_chain_ok(pg_url)


@pytest.mark.slow
async def test_receipts_during_refusal_are_stored_once_or_refused(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """`ack` and `read` sent while PostgreSQL refuses connections: each is answered,
    either `receipt` (and stored once) or `unavailable` (and stored once when sent again
    after the refusal); none goes unanswered, none is stored twice."""
    w = pg_world
    ch = f"meeting:{w.meeting}"
    proxy, via = await PgProxy.to(pg_url)
    node = await start_node(db=via)
    await Publisher(w.tok(w.secretariat), ch, [node.ws_url]).run(M)
    me = w.deputies[0]
    c = await Client.connect(node.ws_url, w.tok(me))
    await c.subscribe(ch, since=0)
    await c.messages(M, ch)

    refs = [f"{what}:{seq}" for seq in range(1, M + 1) for what in ("ack", "read")]
    for i, ref in enumerate(refs):
        if i == len(refs) // 2:
            proxy.refuse()
        what, _, seq = ref.partition(":")
        await c.send({"type": what, "channel": ch, "seq": int(seq), "ref": ref})
    answers: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(TimeoutError):
        while len(answers) < len(refs):
            f = await c.recv(TIMEOUT)
            if "ref" in f:
                answers[f["ref"]] = f
    assert sorted(answers) == sorted(refs), "every receipt is answered"
    refused = [r for r, f in answers.items() if f["type"] == "error"]
    assert refused, "the refusal was met"
    assert {answers[r]["code"] for r in refused} == {"unavailable"}
    proxy.restore()
    for ref in refused:
        what, _, seq = ref.partition(":")
        assert (await c.request({"type": what, "channel": ch, "seq": int(seq)}))["type"] == (
            "receipt"
        )
    await c.close()
    counts = await stored_receipt_counts(pg_url, me)
    want = {(what, ch, int(seq)): 1 for what, _, seq in (r.partition(":") for r in refs)}
    assert counts == want, "each receipt stored exactly once"
    await proxy.close()
    await assert_chain_ok(pg_url)
