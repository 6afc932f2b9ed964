"""Two hub processes on PostgreSQL and Redis: the cluster escalates each notice once (one
node holds the escalation lease), and when that node is killed the other takes over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from hub.reach.dispatch import reach_jobs
from hub.session.deadlines import task_leases
from hub.store.engine import make_engine
from tests.reach.smsprovider import AliyunSmsServer
from tests.reach.test_sms import set_phones, until
from tests.utils.backends import REDIS_URL, need, redis_prefix
from tests.utils.factories import SECRET, make_world
from tests.utils.servers import HubProcess
from tests.utils.session import add_deputies

N = 30


@pytest.fixture
async def provider() -> AsyncIterator[AliyunSmsServer]:
    p = await AliyunSmsServer().start()
    try:
        yield p
    finally:
        await p.stop()


async def lease_holder(db_url: str) -> str:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            return str(
                (
                    await conn.execute(
                        sa.select(task_leases.c.holder).where(task_leases.c.name == "escalation")
                    )
                ).scalar_one()
            )
    finally:
        await engine.dispose()


async def keys(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list(
                (
                    await conn.execute(
                        sa.select(reach_jobs.c.key).where(reach_jobs.c.state == "accepted")
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()


async def test_two_nodes_escalate_each_notice_once(
    pg_url: str, tmp_path: Path, provider: AliyunSmsServer
) -> None:
    need(REDIS_URL, "Redis")
    world = await make_world(pg_url, deputies=1)
    bulk = await add_deputies(pg_url, world.meeting, world.delegations, N - 1)
    people = [*world.deputies, *bulk]
    phones = {u: f"137{i:08d}" for i, u in enumerate(people)}
    await set_phones(pg_url, phones)
    prefix = redis_prefix()

    def env(name: str) -> dict[str, str]:
        return {
            "HUB_DATABASE_URL": pg_url,
            "HUB_REDIS_URL": REDIS_URL,
            "HUB_REDIS_PREFIX": prefix,
            "HUB_SECRET": SECRET,
            "HUB_DATA_DIR": str(tmp_path / name),
            "HUB_NODE_ID": name,
            "HUB_SMS_PROVIDER": "aliyun",
            "HUB_SMS_ENDPOINT": provider.origin + "/",
            "HUB_SMS_KEY_ID": provider.env()["sms_key_id"],
            "HUB_SMS_KEY_SECRET": provider.env()["sms_key_secret"],
            "HUB_SMS_SIGN_NAME": provider.env()["sms_sign_name"],
            "HUB_SMS_TEMPLATE": provider.env()["sms_template"],
            "HUB_ESCALATE_AFTER": "0.5",
            "HUB_ESCALATE_INTERVAL": "0.2",
        }

    nodes = {n: HubProcess(env(n), log=tmp_path / f"{n}.log") for n in ("a", "b")}
    await asyncio.gather(*(n.start() for n in nodes.values()))
    try:
        auth = {"authorization": f"Bearer {world.tok(world.secretariat)}"}

        async def send(node: HubProcess, title: str) -> int:
            async with httpx.AsyncClient(base_url=node.url, headers=auth) as c:
                r = await c.post(
                    f"/api/meetings/{world.meeting}/notices", json={"title": title, "urgent": True}
                )
                assert r.status_code == 201, r.text
                return int(r.json()["id"])

        first = await send(nodes["a"], "紧急一")

        async def all_sent(n: int) -> bool:
            return len(provider.accepted()) >= n and len(await keys(pg_url)) >= n

        await until(lambda: all_sent(N), "every deputy texted")
        await asyncio.sleep(1.0)  # more scans by both nodes: nothing more
        assert len(provider.sends) == N
        assert sorted(s.phone for s in provider.sends) == sorted(phones.values())
        assert {s.out_id for s in provider.sends} == {f"{first}:{u}:sms:1" for u in people}
        holder = (await lease_holder(pg_url)).split(":")[0]
        assert holder in nodes

        # The node holding the lease dies; the other takes it over and escalates the next.
        nodes[holder].kill()
        survivor = nodes["b" if holder == "a" else "a"]
        second = await send(survivor, "紧急二")
        await until(lambda: all_sent(2 * N), "the second notice texted by the survivor")
        await asyncio.sleep(1.0)
        assert len(provider.sends) == 2 * N
        assert {s.out_id for s in provider.sends[N:]} == {f"{second}:{u}:sms:1" for u in people}
        assert (await lease_holder(pg_url)).split(":")[0] == survivor.env["HUB_NODE_ID"]
    finally:
        for n in nodes.values():
            n.kill()
