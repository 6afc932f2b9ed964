"""Channels are locked in one order, so workflows that append to the same channels never
wait for each other in a cycle: on PostgreSQL that would be a deadlock, which the user
would see as a failed action. ``hub.node.Writer`` enforces the order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.session.members import Member
from hub.store.engine import make_engine
from tests.utils import TIMEOUT
from tests.utils.factories import World, make_world
from tests.utils.items import Api
from tests.utils.servers import RunningHub, running_hub, settings_for


@pytest.fixture
async def pg_hub(pg_url: str, tmp_path: Path) -> AsyncIterator[tuple[RunningHub, World]]:
    world = await make_world(pg_url)
    async with running_hub(settings_for(pg_url, tmp_path)) as h:
        yield h, world


async def _until_a_transaction_waits_for_a_lock(url: str) -> None:
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            async with engine.connect() as conn:
                waiting = (
                    await conn.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND datname = current_database()"
                        )
                    )
                ).scalar_one()
            if waiting:
                return
            assert time.monotonic() < deadline, "no transaction ever waited for a lock"
            await asyncio.sleep(0.01)
    finally:
        await engine.dispose()


async def test_channels_named_in_opposite_orders_are_locked_in_one_order(
    pg_hub: tuple[RunningHub, World], pg_url: str
) -> None:
    """One transaction appends to the desk and then to a unit; another, which names them
    the other way round, locks both first. While the first holds the desk, the second
    waits for the desk (not holding the unit), so the first can take the unit and
    finish: both commit, and neither is refused as a deadlock."""
    h, world = pg_hub
    node = h.services.node
    me = Member(world.secretariat, "秘书处", "secretariat")
    desk, unit = f"desk:{world.meeting}", f"unit:{world.units[0]}"
    first_has_desk = asyncio.Event()

    async def first() -> None:
        async with node.writing() as w:
            await w.append(desk, "bulletin", me, {"n": 1})
            first_has_desk.set()
            await _until_a_transaction_waits_for_a_lock(pg_url)
            await w.append(unit, "bulletin", me, {"n": 1})

    async def second() -> None:
        await first_has_desk.wait()
        async with node.writing() as w:
            await w.lock(unit, desk)
            await w.append(unit, "bulletin", me, {"n": 2})
            await w.append(desk, "bulletin", me, {"n": 2})

    await asyncio.wait_for(asyncio.gather(first(), second()), TIMEOUT)
    assert [await h.services.log.head(c) for c in (desk, unit)] == [2, 2]


async def test_an_append_out_of_order_raises_before_it_can_wait(
    hub: RunningHub, world: World
) -> None:
    """An append to a channel that sorts before one already locked (without locking both
    first) is a bug in the workflow: it raises at once, and nothing is stored."""
    node = hub.services.node
    me = Member(world.secretariat, "秘书处", "secretariat")
    desk, unit = f"desk:{world.meeting}", f"unit:{world.units[0]}"
    with pytest.raises(RuntimeError, match="locked after"):
        async with node.writing() as w:
            await w.append(unit, "bulletin", me, {})
            await w.append(desk, "bulletin", me, {})
    assert [await hub.services.log.head(c) for c in (desk, unit)] == [0, 0]


async def test_racing_workflows_on_postgresql_all_succeed(
    pg_hub: tuple[RunningHub, World],
) -> None:
    """The pairs that named their channels in opposite orders before the Writer sorted
    them, run concurrently on PostgreSQL: item actions on one item while the deadline
    scanner raises alerts on others of the same unit (desk+unit against unit+desk), and
    opinions while a notice is pushed again to the same deputies (desk+deputy against
    deputies+desk). Every action succeeds."""
    h, world = pg_hub
    s = h.services
    s.clock.set(datetime(2026, 3, 6, 10, 0))
    async with Api(h, world) as api:
        items = [(await api.commit_item())["id"] for _ in range(9)]
        acted = items.pop()
        await api.post(world.unit_users[0], f"/api/items/{acted}/sign")
        s.clock.set(datetime(2026, 6, 1, 0, 0))  # every other item is past its sign deadline
        notice = await api.post(
            world.secretariat,
            f"/api/meetings/{world.meeting}/notices",
            {"title": "下午三点开会", "text": "请准时出席"},
            status=201,
        )

        async def contacts() -> None:
            for _ in range(len(items)):
                await api.post(
                    world.unit_users[0],
                    f"/api/items/{acted}/contact",
                    {"method": "phone", "note": "已电话联系"},
                )

        async def opinions() -> None:
            await asyncio.gather(*(api.opinion(d, "请增开夜班公交") for d in world.deputies))

        async def repushes() -> None:
            for _ in range(3):
                await api.post(world.secretariat, f"/api/notices/{notice['id']}/repush")

        alerts, *_ = await asyncio.wait_for(
            asyncio.gather(h.workflows.deadlines.run_once(), contacts(), opinions(), repushes()),
            TIMEOUT * 2,
        )
    assert len(alerts) == len(items) + 1  # and the acted item's reply is due soon
