"""Every way a real PostgreSQL says "not now" to a statement is `unavailable`
(hub.store.log.db_errors), and a bug in a statement is not. Refused connections (57P03,
53300) are proved in tests/faults/ (test_database_refusal.py, test_postgres_restart.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.errors import Unavailable
from hub.store.engine import Timeouts, make_engine
from hub.store.log import db_errors
from hub.store.schema import channels
from tests.utils import TIMEOUT

FAST = Timeouts(connect=1, pool=1, statement=0.5, idle_in_transaction=1)
# Longer than PostgreSQL's deadlock_timeout (1 s), so the deadlock is detected first.
PATIENT = Timeouts(connect=1, pool=1, statement=5, idle_in_transaction=5)


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    e = make_engine(pg_url, PATIENT)
    async with e.begin() as conn:
        await conn.execute(channels.insert(), [{"name": "x", "head": 0}, {"name": "y", "head": 0}])
    yield e
    await e.dispose()


def _bump(name: str) -> sa.Executable:
    return channels.update().where(channels.c.name == name).values(head=channels.c.head + 1)


async def test_deadlock_is_unavailable(engine: AsyncEngine) -> None:
    """Two transactions locking two rows in opposite orders: the one PostgreSQL rolls
    back (40P01) gets `unavailable`."""
    first_locked = [asyncio.Event(), asyncio.Event()]

    async def tx(me: int, a: str, b: str) -> None:
        async with db_errors(), engine.begin() as conn:
            await conn.execute(_bump(a))
            first_locked[me].set()
            await first_locked[1 - me].wait()
            await conn.execute(_bump(b))

    results = await asyncio.gather(tx(0, "x", "y"), tx(1, "y", "x"), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "Unavailable"]


async def test_serialization_failure_is_unavailable(engine: AsyncEngine) -> None:
    """A repeatable-read transaction updating a row another committed meanwhile (40001)
    gets `unavailable`."""
    with pytest.raises(Unavailable):
        async with db_errors(), engine.connect() as c1:
            c1 = await c1.execution_options(isolation_level="REPEATABLE READ")
            async with c1.begin():
                await c1.execute(sa.select(channels.c.head).where(channels.c.name == "x"))
                async with engine.begin() as c2:
                    await c2.execute(_bump("x"))
                await c1.execute(_bump("x"))


async def test_statement_and_lock_timeouts_are_unavailable(
    engine: AsyncEngine, pg_url: str
) -> None:
    """A statement over HUB_DB_STATEMENT_TIMEOUT, and a wait for a row lock as long, get
    `unavailable`."""
    fast = make_engine(pg_url, FAST)
    try:
        with pytest.raises(Unavailable):
            async with db_errors(), fast.connect() as conn:
                await conn.execute(sa.text("SELECT pg_sleep(3)"))
        async with engine.begin() as holder:
            await holder.execute(_bump("x"))
            with pytest.raises(Unavailable):
                async with db_errors(), fast.begin() as conn:
                    await conn.execute(_bump("x"))
    finally:
        await fast.dispose()


async def test_a_bug_is_not_unavailable(engine: AsyncEngine) -> None:
    """A statement the database rejects as wrong (a syntax error) is passed on as it is:
    it is not a reason to try again."""
    with pytest.raises(ProgrammingError):
        async with db_errors(), engine.connect() as conn:
            await conn.execute(sa.text("SELEC 1"))


async def test_sqlite_lock_held_too_long_is_unavailable(sqlite_url: str) -> None:
    """On SQLite, a write waiting for the database lock longer than
    HUB_DB_STATEMENT_TIMEOUT (its busy timeout) gets `unavailable`."""
    holder_engine, waiter = make_engine(sqlite_url, FAST), make_engine(sqlite_url, FAST)
    try:
        async with holder_engine.begin() as holder:  # BEGIN IMMEDIATE: the write lock
            await holder.execute(channels.insert().values(name="x", head=0))

            async def write() -> None:
                async with db_errors(), waiter.begin() as conn:
                    await conn.execute(channels.insert().values(name="y", head=0))

            with pytest.raises(Unavailable):
                await asyncio.wait_for(write(), TIMEOUT)
    finally:
        await holder_engine.dispose()
        await waiter.dispose()
