"""Factories and helpers for the session workflow tests: many deputies at once, HTTP
clients with a token, reading what a channel holds, waiting for a message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from hub.session.schema import meeting_participants, users
from hub.store.engine import make_engine
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub


async def add_deputies(
    db_url: str, meeting_id: int, delegation_ids: list[int], n: int, prefix: str = "bulk"
) -> dict[int, str]:
    """``n`` deputies (spread over the delegations) made participants of the meeting, in
    one transaction; ``{user id: token}``."""
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            now = datetime.now(UTC)
            await conn.execute(
                users.insert(),
                [
                    {
                        "username": f"{prefix}{i}",
                        "name": f"{prefix}代表{i}",
                        "role": "deputy",
                        "delegation_id": delegation_ids[i % len(delegation_ids)],
                        "created_at": now,
                    }
                    for i in range(n)
                ],
            )
            ids = list(
                (
                    await conn.execute(
                        sa.select(users.c.id)
                        .where(users.c.username.like(f"{prefix}%"))
                        .order_by(users.c.id)
                    )
                ).scalars()
            )
            await conn.execute(
                meeting_participants.insert(),
                [{"meeting_id": meeting_id, "user_id": u} for u in ids],
            )
    finally:
        await engine.dispose()
    return {int(u): tokens.issue(int(u), 0) for u in ids}


def http(base_url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, headers={"authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )


async def send_notice(hub: RunningHub, world: World, **payload: Any) -> dict[str, Any]:
    """Send a notice to the world's meeting as its secretariat, over HTTP; the answer."""
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(f"/api/meetings/{world.meeting}/notices", json=payload)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out


def soon(hours: float = 0) -> str:
    """An ISO timestamp ``hours`` from now."""
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def history(base_url: str, token: str, channel: str) -> list[dict[str, Any]]:
    """Every message stored on a channel, in seq order."""
    async with http(base_url, token) as c:
        out: list[dict[str, Any]] = []
        while True:
            r = await c.get(f"/api/channels/{channel}/messages", params={"since": len(out)})
            assert r.status_code == 200, r.text
            got = r.json()["messages"]
            if not got:
                return out
            out += got


async def head(base_url: str, token: str, channel: str) -> int:
    async with http(base_url, token) as c:
        r = await c.get(f"/api/channels/{channel}/messages", params={"limit": 1})
        assert r.status_code == 200, r.text
        return int(r.json()["head"])


async def wait_for(
    client: Client,
    kind: str,
    channel: str | None = None,
    where: Callable[[dict[str, Any]], bool] = lambda m: True,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """The next message of ``kind`` (on ``channel``) satisfying ``where``; others skipped."""

    async def find() -> dict[str, Any]:
        while True:
            f = await client.recv(timeout)
            if (
                f["type"] == "message"
                and f["kind"] == kind
                and (channel is None or f["channel"] == channel)
                and where(f)
            ):
                return f

    return await asyncio.wait_for(find(), timeout)


async def connect_many(ws_url: str, toks: list[str], limit: int = 20) -> list[Client]:
    """Connect and authenticate many clients, ``limit`` at a time."""
    sem = asyncio.Semaphore(limit)

    async def one(t: str) -> Client:
        async with sem:
            return await Client.connect(ws_url, t)

    return list(await asyncio.gather(*(one(t) for t in toks)))
