"""Helpers for the supervision tests: HTTP as a given user, publishing and receipts."""

from __future__ import annotations

from typing import Any

import httpx

from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub


def http(hub: RunningHub, world: World, user: int) -> httpx.AsyncClient:
    """An HTTP client of the running hub, authenticated as ``user``."""
    return httpx.AsyncClient(
        base_url=hub.url,
        headers={"authorization": f"Bearer {world.tok(user)}"},
        timeout=TIMEOUT,
    )


async def publish(
    hub: RunningHub, world: World, channel: str, body: dict[str, Any], kind: str = "notice",
    user: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Store a message as a workflow does, through the node's writer (workflow kinds are
    refused raw), as the secretariat unless ``user``; the stored message's ids."""
    s = hub.services
    sender = await s.principals.load(world.secretariat if user is None else user)
    async with s.node.writing() as w:
        m = await w.append(channel, kind, sender, body)
    return {"channel": m.channel, "seq": m.seq, "id": m.id}


async def receipt(
    hub: RunningHub, world: World, user: int, what: str, channel: str, seq: int
) -> None:
    """Send an ``ack`` or ``read`` over /ws and wait until it is stored."""
    c = await Client.connect(hub.ws_url, world.tok(user))
    try:
        got = await c.request({"type": what, "channel": channel, "seq": seq})
        assert got["type"] == "receipt", got
    finally:
        await c.close()
