"""A replay that fails, whatever the exception, closes the socket with 1011 so the client
resumes, rather than leaving it subscribed and waiting for messages that never come."""

from __future__ import annotations

import pytest

from hub.errors import Close
from hub.node import RECENT
from tests.utils.chain import assert_chain_ok
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub


async def test_replay_failing_with_any_exception_closes_1011(
    hub: RunningHub, world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the log for a replay raises an exception that is no HubError: the client
    gets `subscribed`, then close 1011; after that it resumes and has every message."""
    ch = f"meeting:{world.meeting}"
    n = RECENT + 50  # the oldest are read from the log, not from memory
    sender = await hub.services.principals.load(world.secretariat)
    async with hub.services.node.writing() as w:
        for i in range(n):
            await w.append(ch, "notice", sender, {"i": i})
    log = hub.services.log
    read = log.read

    async def broken(*args: object, **kw: object) -> object:
        raise RuntimeError("the driver failed in a way nobody foresaw")

    monkeypatch.setattr(log, "read", broken)
    c = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    await c.subscribe(ch, since=0)
    assert await c.closed_with() == Close.INTERNAL
    monkeypatch.setattr(log, "read", read)

    c = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    await c.subscribe(ch, since=0)
    assert [m["seq"] for m in await c.messages(n, ch)] == list(range(1, n + 1))
    await c.close()
    await assert_chain_ok(db_url)
