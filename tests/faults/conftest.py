"""Fixtures for fault tests: real hub processes on PostgreSQL, with the test's own
redis-server (which the test may stop) or the shared one under a private prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.utils.backends import REDIS_URL, need, redis_prefix
from tests.utils.factories import SECRET, World, make_world
from tests.utils.faults import FAST
from tests.utils.redis_server import RedisServer
from tests.utils.servers import HubProcess

StartNode = Callable[..., Awaitable[HubProcess]]


@pytest.fixture
async def pg_world(pg_url: str) -> World:
    return await make_world(pg_url)


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and restart."""
    r = await RedisServer().start()
    yield r
    r.stop()


@pytest.fixture
async def start_node(pg_url: str, tmp_path: Path) -> AsyncIterator[StartNode]:
    """Starts hub processes on the test's PostgreSQL database; every one is killed at the
    end. ``redis`` defaults to the shared Redis under a prefix private to the test."""
    need(REDIS_URL, "Redis")
    prefix = redis_prefix()
    started: list[HubProcess] = []

    async def start(
        redis: str = REDIS_URL, db: str | None = None, **env: str | float | int
    ) -> HubProcess:
        name = f"node{len(started)}"
        node = HubProcess(
            {
                "HUB_DATABASE_URL": db or pg_url,
                "HUB_REDIS_URL": redis,
                "HUB_REDIS_PREFIX": prefix,
                "HUB_SECRET": SECRET,
                "HUB_DATA_DIR": str(tmp_path / name),
                **FAST,
                **{k: str(v) for k, v in env.items()},
            },
            log=tmp_path / f"{name}.log",
        )
        started.append(node)
        return await node.start()

    yield start
    for node in started:
        node.kill()
