"""PrincipalLoader: concurrent logins share one ``IN (...)`` query per batch, each caller
gets its own account (or its own refusal), and a caller giving up harms nobody.
On SQLite and PostgreSQL, against the real database and a real running hub."""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth import Principal
from hub.errors import Deactivated, Unauthorized, Unavailable
from hub.identity import PrincipalLoader, set_active
from hub.session.members import Member, load_member, load_members
from hub.store.engine import make_engine
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub
from tests.utils.session import add_deputies

UNKNOWN = 987654321  # no such user


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    e = make_engine(db_url)
    yield e
    await e.dispose()


def _everyone(world: World) -> list[int]:
    return [
        *world.deputies,
        world.outsider,
        world.secretariat,
        world.supervisor,
        world.admin,
        *world.unit_users,
    ]


@contextmanager
def account_queries(engine: AsyncEngine) -> Iterator[list[int]]:
    """The number of ids each statement reading ``users`` was sent with, as the database
    driver saw them (an observer on the real engine, nothing replaced)."""
    seen: list[int] = []

    def on_execute(
        _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        if "FROM users" in statement and "meeting_participants" in statement:
            assert not many
            seen.append(len(params))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


async def _gather(loader: PrincipalLoader, ids: list[int]) -> list[Principal | BaseException]:
    return list(
        await asyncio.wait_for(
            asyncio.gather(*(loader.load(u) for u in ids), return_exceptions=True), TIMEOUT
        )
    )


async def test_concurrent_loads_share_a_few_queries(
    engine: AsyncEngine, db_url: str, world: World
) -> None:
    """300 concurrent loads (160 accounts, many asked for several times, in random order)
    each resolve to the caller's own Principal, the same as ``load_member`` gives one
    by one, in one query with the default batch of 500; with a batch of 50 the accounts
    go out in ceil(160/50) queries of at most 50 ids each."""
    bulk = list(await add_deputies(db_url, world.meeting, world.delegations, 150))
    distinct = [*_everyone(world), *bulk]
    assert len(distinct) == 160
    rng = random.Random(7)
    ids = [*distinct, *rng.choices(distinct, k=300 - len(distinct))]
    rng.shuffle(ids)

    one_by_one = {u: await load_member(engine, u) for u in distinct}
    # what load_member gives is itself right, not merely equal to the loader's answer
    dep = one_by_one[world.deputies[1]]
    assert (dep.name, dep.role, dep.meetings) == ("代表1", "deputy", frozenset({world.meeting}))
    assert dep.delegation_id == world.delegations[1]
    assert one_by_one[world.outsider].meetings == frozenset({world.other_meeting})
    assert one_by_one[world.supervisor].meetings == frozenset()
    assert one_by_one[world.unit_users[1]].unit_id == world.units[1]
    assert one_by_one[bulk[-1]].name == "bulk代表149"

    loader = PrincipalLoader(engine, accounts=load_members)
    assert loader.batch == 500
    with account_queries(engine) as sent:
        got = await _gather(loader, ids)
    assert [g.id if isinstance(g, Principal) else g for g in got] == ids
    assert got == [one_by_one[u] for u in ids]
    assert loader.queries == 1 and sent == [len(distinct)]  # each id asked for once

    small = PrincipalLoader(engine, batch=50, accounts=load_members)
    with account_queries(engine) as sent:
        got = await _gather(small, ids)
    assert got == [one_by_one[u] for u in ids]
    expected = math.ceil(len(distinct) / 50)
    assert small.queries == expected == len(sent)
    assert all(n <= 50 for n in sent) and sum(sent) == len(distinct)

    # the loader is reusable: a later lone load is a query of its own
    assert await loader.load(world.admin) == one_by_one[world.admin]
    assert loader.queries == 2


async def test_refusals_in_a_batch_touch_only_their_callers(
    engine: AsyncEngine, world: World
) -> None:
    """In one batch an unknown id is Unauthorized and a deactivated account Deactivated
    (each of their callers, however many), while every other caller gets its account."""
    gone = world.deputies[2]
    await set_active(engine, gone, False)
    loader = PrincipalLoader(engine, accounts=load_members)
    ids = [
        world.deputies[0],
        UNKNOWN,
        gone,
        world.secretariat,
        UNKNOWN,
        world.deputies[0],
        gone,
        world.deputies[3],
    ]
    got = await _gather(loader, ids)
    assert loader.queries == 1
    for uid, g in zip(ids, got, strict=True):
        if uid == UNKNOWN:
            assert type(g) is Unauthorized, g
        elif uid == gone:
            assert type(g) is Deactivated, g
        else:
            assert isinstance(g, Principal) and g.id == uid
            assert g == await load_member(engine, uid)
    with pytest.raises(Deactivated):
        await load_member(engine, gone)
    with pytest.raises(Unauthorized):
        await load_member(engine, UNKNOWN)

    # reactivated, the account loads again (nothing about it was remembered)
    await set_active(engine, gone, True)
    me = await loader.load(gone)
    assert (me.id, me.token_version) == (gone, 1)  # deactivation revoked its tokens


async def test_a_cancelled_caller_does_not_break_the_others(
    engine: AsyncEngine, world: World
) -> None:
    """Callers cancelled while their batch's query is in flight (the one whose load
    started the batch, one sharing its id with another caller, one alone) are cancelled;
    every other caller of the batch, and the next batch, still get their accounts."""
    loader = PrincipalLoader(engine, accounts=load_members)
    a, b, c, d = world.deputies
    ids = [a, b, b, c, d, world.secretariat, a]
    tasks = [asyncio.create_task(loader.load(u)) for u in ids]
    for _ in range(1000):  # until the batch's query is sent
        if loader.queries:
            break
        await asyncio.sleep(0)
    assert loader.queries == 1 and not any(t.done() for t in tasks)
    doomed = {0, 1, 3}  # a (started the batch; a has a second caller), b (too), c (alone)
    for i in doomed:
        tasks[i].cancel()
    _, pending = await asyncio.wait(tasks, timeout=TIMEOUT)
    assert not pending
    for i, t in enumerate(tasks):
        if i in doomed:
            assert t.cancelled()
        else:
            assert t.result() == await load_member(engine, ids[i])
    assert loader.queries == 1

    # every caller of a batch gone: the loader still serves the next one
    lone = asyncio.create_task(loader.load(d))
    await asyncio.sleep(0)
    lone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lone
    assert (await asyncio.wait_for(loader.load(c), TIMEOUT)).id == c


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_database_down_fails_every_caller_then_recovers(kind: str, tmp_path: Path) -> None:
    """When the batch's query cannot reach the database every caller hears Unavailable
    (none hangs), and the loader carries on with the next batch."""
    if kind == "sqlite":
        broken = make_engine(f"sqlite+aiosqlite:///{tmp_path}/gone/hub.sqlite3")
        (tmp_path / "gone").rmdir()  # the file cannot be opened, let alone created
    else:
        broken = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/test")  # refused
    try:
        loader = PrincipalLoader(broken, accounts=load_members)
        got = await _gather(loader, [1, 2, 2, 3])
        assert all(type(g) is Unavailable for g in got), got
        assert loader.queries == 1
        got = await _gather(loader, [4])
        assert type(got[0]) is Unavailable and loader.queries == 2
    finally:
        await broken.dispose()
        # aiosqlite stops the worker thread of a failed connect without waiting for it;
        # let it finish while this test's event loop is still open
        for _ in range(int(TIMEOUT / 0.01)):
            if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
                break
            await asyncio.sleep(0.01)


async def test_a_hall_logs_in_at_once(hub: RunningHub, db_url: str, world: World) -> None:
    """50 deputies' WebSockets send `auth` together: all 50 get `welcome` naming
    themselves, a deactivated deputy among them is refused with 4403 and an unknown
    user's token with 4401, and the hub loaded the 52 accounts in far fewer queries
    than logins."""
    hall = await add_deputies(db_url, world.meeting, world.delegations, 50, prefix="hall")
    hall_ids = list(hall)
    gone = world.deputies[0]
    await set_active(hub.services.engine, gone, False)
    who = [*hall_ids, gone, UNKNOWN]
    token = {**hall, gone: world.tok(gone), UNKNOWN: tokens.issue(UNKNOWN, 0)}
    clients = await asyncio.gather(*(Client.connect(hub.ws_url) for _ in who))
    loader = hub.services.principals
    before = loader.queries
    await asyncio.gather(
        *(
            c.send({"type": "auth", "token": token[u], "ref": str(u)})
            for c, u in zip(clients, who, strict=True)
        )
    )
    first = await asyncio.gather(*(c.recv() for c in clients))
    queries = loader.queries - before

    for c, u, f in zip(clients, who, first, strict=True):
        if u == gone:
            assert (f["type"], f["code"]) == ("error", "forbidden"), f
            assert await c.closed_with() == 4403
        elif u == UNKNOWN:
            assert (f["type"], f["code"]) == ("error", "unauthorized"), f
            assert await c.closed_with() == 4401
        else:
            assert f["type"] == "welcome", f
            assert f["ref"] == str(u)
            assert f["user"]["id"] == u and f["user"]["role"] == "deputy"
            assert f["user"]["name"].startswith("hall代表")
    assert 1 <= queries <= len(who) // 4, queries

    # the welcomed are who they say: each may read its own inbox and not a neighbour's
    me, neighbour = clients[0], hall_ids[1]
    assert (await me.subscribe(f"deputy:{who[0]}"))["type"] == "subscribed"
    r = await me.request({"type": "subscribe", "channel": f"deputy:{neighbour}"})
    assert r["code"] == "forbidden"
    for c in clients:
        await c.close()


async def test_concurrent_api_requests_load_their_own_callers(
    hub: RunningHub, world: World
) -> None:
    """Concurrent HTTP requests of different accounts each see their own account through
    ``/api/me`` (role and meetings); a deactivated account gets 403, an unknown user 401."""
    gone = world.deputies[3]
    await set_active(hub.services.engine, gone, False)
    callers = [*_everyone(world), *world.deputies[:3], UNKNOWN]
    token = {**world.token, UNKNOWN: tokens.issue(UNKNOWN, 0)}
    async with httpx.AsyncClient(base_url=hub.url, timeout=TIMEOUT) as http:
        rs = await asyncio.gather(
            *(http.get("/api/me", headers={"authorization": f"Bearer {token[u]}"}) for u in callers)
        )
    for u, r in zip(callers, rs, strict=True):
        if u == gone:
            assert r.status_code == 403, r.text
        elif u == UNKNOWN:
            assert r.status_code == 401, r.text
        else:
            assert r.status_code == 200, r.text
            me = await load_member(hub.services.engine, u)
            assert r.json() == {**me.public(), **_memberships(me), "timezone": "Asia/Shanghai"}


def _memberships(p: Member) -> dict[str, Any]:
    return {"delegation_id": p.delegation_id, "unit_id": p.unit_id, "meetings": sorted(p.meetings)}
