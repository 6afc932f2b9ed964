"""Items handed to a unit, and their overdue alerts, take the notices' path to the unit's
accounts: Web Push at once to those with no page open, a text message after the delay to
each account that has not seen the item (none to one that has), an overdue alert's text
message at once; each once; the quiet hours respected (docs/reach.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.reach import dispatch as dispatch_module
from hub.reach.dispatch import reach_jobs
from hub.session.schema import users
from hub.store.engine import make_engine
from tests.reach.smsprovider import AliyunSmsServer
from tests.reach.test_sms import set_phones, until
from tests.utils.factories import make_world, tokens
from tests.utils.items import Api
from tests.utils.servers import running_hub, settings_for
from tests.utils.session import history, http


@pytest.fixture
async def provider() -> AsyncIterator[AliyunSmsServer]:
    p = await AliyunSmsServer().start()
    try:
        yield p
    finally:
        await p.stop()


async def item_jobs(db_url: str) -> list[tuple[str, str, int, str, str]]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    reach_jobs.c.about,
                    reach_jobs.c.channel,
                    reach_jobs.c.user_id,
                    reach_jobs.c.state,
                    reach_jobs.c.key,
                )
                .where(reach_jobs.c.item_id.is_not(None))
                .order_by(reach_jobs.c.id)
            )
            return [(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]
    finally:
        await engine.dispose()


async def test_hand_over_and_overdue_reach_the_units_accounts(
    sqlite_url: str, tmp_path: Path, provider: AliyunSmsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch_module, "POLL", 0.1)
    world = await make_world(sqlite_url)
    u0 = world.units[0]
    clerk = world.unit_users[0]
    engine = make_engine(sqlite_url)
    async with engine.begin() as conn:
        reader = (
            await conn.execute(
                users.insert()
                .values(
                    username="unit1b",
                    name="交通局办公室",
                    role="unit",
                    unit_id=u0,
                    created_at=datetime.now(UTC),
                )
                .returning(users.c.id)
            )
        ).scalar_one()
    await engine.dispose()
    world.token[int(reader)] = tokens.issue(int(reader), 0)
    await set_phones(sqlite_url, {clerk: "13100000001", reader: "13100000002"})
    settings = settings_for(
        sqlite_url, tmp_path, **provider.env(), sms_retry=0.2, escalate_interval=0
    )
    async with running_hub(settings) as hub:
        clock = hub.services.clock
        esc = hub.workflows.escalator
        clock.set(datetime(2026, 3, 6, 10, 0))  # a Friday morning, in the clock's zone
        async with http(hub.url, world.tok(clerk)) as c:  # the clerk's phone, no page open
            r = await c.post(
                "/api/push/subscriptions",
                json={
                    "endpoint": "https://push.example.cn/s/clerk",
                    "keys": {
                        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                        "auth": "tBHItJI5svbpez7KI4CCXg",
                    },
                },
            )
            assert r.status_code == 201, r.text
        async with Api(hub, world) as api:
            item = (await api.commit_item(lead=u0))["id"]
            # At once: the Web Push to the clerk; no text message yet.
            assert await esc.run_once() == 1
            # The second account opens the item: seen since the hand-over.
            await api.post(reader, "/api/items/seen", {"item_ids": [item]})

            clock.set(datetime(2026, 3, 6, 10, 4))
            assert await esc.run_once() == 0  # not yet 5 minutes
            clock.set(datetime(2026, 3, 6, 10, 6))
            assert await esc.run_once() == 1  # the clerk, who has not seen it
            assert await esc.run_once() == 0  # once

            async def settled() -> bool:
                js = await item_jobs(sqlite_url)
                return len(js) == 2 and all(j[3] != "pending" for j in js)

            await until(settled, "the hand-over's jobs")
            jobs = await item_jobs(sqlite_url)
            assert [(a, ch, u, st) for a, ch, u, st, _ in jobs] == [
                ("item", "log", clerk, "accepted"),
                ("item", "sms", clerk, "accepted"),
            ]
            assert [(s.phone, s.params) for s in provider.sends] == [
                ("13100000001", {"title": "交办：公交线路调整"})
            ]

            # Overdue, in the quiet hours: the alert's text message waits for the morning.
            esc.quiet = (datetime(2026, 1, 1, 22, 0).time(), datetime(2026, 1, 1, 7, 0).time())
            clock.set(datetime(2026, 3, 20, 23, 0))  # Beijing time (the clock's zone): quiet
            raised = await hub.workflows.deadlines.run_once()
            assert [a.level for a in raised] == ["overdue"]
            assert await esc.run_once() == 1  # the push only (the clerk's phone)
            clock.set(datetime(2026, 3, 21, 7, 30))  # the morning
            assert await esc.run_once() == 2  # both accounts' text messages
            assert await esc.run_once() == 0

            async def all_settled() -> bool:
                js = await item_jobs(sqlite_url)
                return len(js) == 5 and all(j[3] != "pending" for j in js)

            await until(all_settled, "the overdue alert's jobs")
            assert sorted((s.phone, s.params["title"]) for s in provider.sends[1:]) == [
                ("13100000001", "逾期：公交线路调整"),
                ("13100000002", "逾期：公交线路调整"),
            ]
        desk = await history(hub.url, world.tok(world.secretariat), f"desk:{world.meeting}")
        tried = [x["body"] for x in desk if x["kind"] == "reach.attempted"]
        assert len(tried) == 5 and all(t["item"] == item for t in tried)
        assert sorted(t["about"] for t in tried) == [
            "item",
            "item",
            "overdue",
            "overdue",
            "overdue",
        ]
        assert all("notice" not in t for t in tried)
        await asyncio.sleep(0.3)
        assert len(provider.sends) == 3
