"""Fixtures for fault tests: real hub processes on PostgreSQL, with the test's own
redis-server (which the test may stop) or the shared one under a private prefix."""

from __future__ import annotations

import random
import socket
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


def _port_outside_ephemeral_range() -> int:
    """A free port below the kernel's ephemeral range. A test that stops its Redis and
    starts it again on the same port leaves the port free meanwhile: a port the kernel
    hands out for port-0 binds could be taken by someone else's server in between."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rnd = random.Random()
    for _ in range(100):
        port = rnd.randrange(20000, max(20001, low))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and restart."""
    r = await RedisServer(port=_port_outside_ephemeral_range()).start()
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
