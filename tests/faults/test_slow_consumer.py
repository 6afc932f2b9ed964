"""A client that stops reading costs the server a bounded amount of memory: it is closed
with 4429 when its send queue is full, and resumes without loss."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import websockets

from tests.faults.conftest import StartNode
from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.faults import rss

QUEUE = 20
N = 300
PAD = "x" * 200_000  # ~200 kB a message: N of them are 60 MB, the queue holds 4 MB


@pytest.mark.slow
async def test_slow_consumer_memory_bounded_closed_4429_resumes(
    start_node: StartNode, pg_world: World, pg_url: str
) -> None:
    """While a deputy stops reading and 60 MB of notices are published, the server's
    resident memory grows by far less than that (the queue bound, not the backlog); the
    deputy is closed with 4429, then resumes with `since` and gets every notice once,
    in order; a deputy reading all along is served throughout; the log's hash chain
    holds."""
    w = pg_world
    node = await start_node(HUB_SEND_QUEUE=QUEUE, HUB_MAX_FRAME=1 << 20, HUB_PUBLISH_QUOTA=0)
    assert node.proc is not None
    ch = f"meeting:{w.meeting}"
    sec = await Client.connect(node.ws_url, w.tok(w.secretariat))
    reader = await Client.connect(node.ws_url, w.tok(w.deputies[1]))
    await reader.subscribe(ch)
    got: list[int] = []

    async def read_all() -> None:
        got.extend(m["seq"] for m in await reader.messages(N, ch))

    # Warm up: the same volume through a reader that keeps up, so that what is measured
    # afterwards is the slow consumer's cost, not the allocator growing to its working set.
    reading = asyncio.create_task(read_all())
    for i in range(N):
        await sec.publish(ch, {"i": i, "pad": PAD})
    await asyncio.wait_for(reading, TIMEOUT * 3)
    base = rss(node.proc.pid)

    slow = await websockets.connect(node.ws_url, max_size=None, max_queue=1)
    await slow.send(orjson.dumps({"type": "auth", "token": w.tok(w.deputies[0])}).decode())
    await slow.send(orjson.dumps({"type": "subscribe", "channel": ch}).decode())
    for expected in ("welcome", "subscribed"):  # then it stops reading
        f = orjson.loads(await asyncio.wait_for(slow.recv(), TIMEOUT))
        assert f["type"] == expected, f
    got.clear()
    reading = asyncio.create_task(read_all())
    peak = base
    for i in range(N, 2 * N):
        assert (await sec.publish(ch, {"i": i, "pad": PAD}))["type"] == "published"
        peak = max(peak, rss(node.proc.pid))
    await asyncio.wait_for(reading, TIMEOUT * 3)
    assert got == list(range(N + 1, 2 * N + 1)), "the reader was served throughout"

    held: list[int] = []
    code = None
    try:
        while True:
            f = orjson.loads(await asyncio.wait_for(slow.recv(), TIMEOUT))
            if f["type"] == "message":
                held.append(f["seq"])
    except websockets.ConnectionClosed as e:
        code = e.rcvd.code if e.rcvd else None
    assert code == 4429
    backlog = N * len(PAD)
    assert peak - base < backlog / 4, (
        f"grew {(peak - base) >> 20} MiB for a {backlog >> 20} MiB backlog"
    )
    assert held == list(range(N + 1, N + 1 + len(held)))
    assert len(held) < N // 2

    d = await Client.connect(node.ws_url, w.tok(w.deputies[0]))
    await d.subscribe(ch, since=held[-1] if held else N)
    rest = await d.messages(2 * N - (held[-1] if held else N), ch)
    assert [m["seq"] for m in rest] == list(range((held[-1] if held else N) + 1, 2 * N + 1))
    await assert_chain_ok(pg_url, messages=2 * N)
