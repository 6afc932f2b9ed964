"""Subscribing again on a connection while the first subscription's replay is still
reading the log: the protocol promises each seq once per subscription."""

from __future__ import annotations

from tests.utils import TIMEOUT
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub

N = 1000
SINCE = 600
TRIES = 10


async def test_resubscribe_during_replay_sends_each_seq_once(
    hub: RunningHub, world: World, db_url: str
) -> None:
    """`subscribe` since 0 on a channel of 1,000 messages, then, as soon as it is
    `subscribed`, `subscribe` since 600 on the same connection, ten times: after the second `subscribed` the client gets
    601..1000, each once, in order, and nothing at or below 600."""
    ch = f"meeting:{world.meeting}"
    sender = await hub.services.principals.load(world.secretariat)
    async with hub.services.node.writing() as w:
        for i in range(N):
            await w.append(ch, "notice", sender, {"i": i})
    for _ in range(TRIES):
        c = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
        await c.subscribe(ch, since=0)  # its replay is now reading the log
        await c.send({"type": "subscribe", "channel": ch, "since": SINCE})
        subscribed = 1
        after: list[int] = []
        while not after or after[-1] < N:
            f = await c.recv(TIMEOUT)
            if f["type"] == "subscribed":
                subscribed += 1
            elif f["type"] == "message" and subscribed == 2:
                after.append(f["seq"])
        await c.send({"type": "ping"})  # anything still on its way arrives before the pong
        while (f := await c.recv(TIMEOUT))["type"] != "pong":
            if f["type"] == "message":
                after.append(f["seq"])
        assert after == list(range(SINCE + 1, N + 1))
        await c.close()
    await assert_chain_ok(db_url)
