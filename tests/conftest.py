"""Shared fixtures: databases (SQLite and PostgreSQL), brokers (memory and Redis), a
running hub and a seeded world. Contract tests take the parametrised fixtures."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hub.broker import Broker
from hub.broker.memory import MemoryBroker
from hub.broker.redis import RedisBroker
from hub.config import Settings
from tests.utils.backends import PG_URL, REDIS_URL, need, redis_prefix
from tests.utils.databases import PostgresFactory, new_sqlite
from tests.utils.factories import World, make_world
from tests.utils.servers import RunningHub, running_hub, settings_for

_pg = PostgresFactory()


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> object:
    yield
    if _pg.created:
        import asyncio

        asyncio.run(_pg.drop_all())


async def _db(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield await new_sqlite(tmp_path)
        return
    need(PG_URL, "PostgreSQL")
    url = await _pg.new()
    yield url
    await _pg.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh migrated database, once on SQLite and once on PostgreSQL."""
    async for url in _db(request.param, tmp_path):
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    async for url in _db("sqlite", tmp_path):
        yield url


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async for url in _db("postgresql", tmp_path):
        yield url


@pytest.fixture(params=["memory", "redis"])
def broker_factory(request: pytest.FixtureRequest) -> Callable[[], Broker]:
    """Makes brokers for nodes that should hear each other: in-process, or real Redis."""
    if request.param == "memory":
        bus = MemoryBroker()
        first = [True]

        def memory() -> Broker:
            if first[0]:
                first[0] = False
                return bus
            return bus.attach()

        return memory
    need(REDIS_URL, "Redis")
    prefix = redis_prefix()
    return lambda: RedisBroker(REDIS_URL, prefix)


@pytest.fixture
async def world(db_url: str) -> World:
    return await make_world(db_url)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(db_url, tmp_path)


@pytest.fixture
async def hub(settings: Settings, world: World) -> AsyncIterator[RunningHub]:
    """A hub on SQLite and on PostgreSQL (in-process broker), with the world seeded."""
    async with running_hub(settings) as h:
        yield h


# The skip reasons of tests/utils/backends.py, tests/utils/redis_server.py and
# tests/browser/conftest.py, by the service that was missing.
MISSING = {
    "PostgreSQL": re.compile(r"PostgreSQL is not reachable at \S+"),
    "Redis": re.compile(r"Redis is not reachable at \S+|redis-server is not installed"),
    "Chromium": re.compile(r"\S*chromium is missing"),
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly, at the end, which services were missing and how many tests skipped for
    it: a green run that did not test PostgreSQL, Redis or the browser must not pass
    unnoticed."""
    skipped: dict[str, list[str]] = {}
    for rep in terminalreporter.stats.get("skipped", []):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        for service, pattern in MISSING.items():
            if m := pattern.search(reason):
                skipped.setdefault(service, []).append(m.group(0))
    if not skipped:
        return
    terminalreporter.write_sep(
        "!", "SERVICES MISSING: THESE TESTS DID NOT RUN", red=True, bold=True
    )
    for service, reasons in skipped.items():
        terminalreporter.write_line(
            f"SKIPPED: {reasons[0]}: {len(reasons)} tests of {service} did not run",
            red=True,
            bold=True,
        )
    terminalreporter.write_sep("!", "(set HUB_TEST_REQUIRE_SERVICES=1 to fail instead)", red=True)
