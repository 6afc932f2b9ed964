"""Presence stores a whole batch of connects and disconnects at once: one insert into
``presence_leases``, one delete per 500 leases given back and one insert into
``presence_events``; renewal re-takes swept leases the same way. On SQLite and
PostgreSQL, with a real node writing to the real log (no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.broker.memory import MemoryBroker
from hub.connection import Connection
from hub.metrics import Metrics
from hub.node import Node
from hub.protocol import utc
from hub.session.members import Member, load_member
from hub.session.presence import Presence, online_users, presence_events, presence_leases, sweep
from hub.store.engine import make_engine
from hub.store.log import MessageLog
from tests.utils.factories import World
from tests.utils.session import add_deputies

NODE = "node-batch"
Event = tuple[str, int, str, str, str | None]  # lease, user, node, kind, reason


@dataclass
class Rig:
    """A node writing to the real database, its presence (no background tasks: the test
    decides when a batch is stored), and the events the test expects, in op order."""

    engine: AsyncEngine
    node: Node
    presence: Presence
    people: dict[int, Member] = field(default_factory=dict)
    expected: list[Event] = field(default_factory=list)

    async def principal(self, uid: int) -> Member:
        if uid not in self.people:
            self.people[uid] = await load_member(self.engine, uid)
        return self.people[uid]

    async def connect(self, uid: int) -> Connection:
        c = Connection(_send, _close, 16)
        c.principal = await self.principal(uid)
        self.presence.connected(c)
        self.expected.append((self.presence.leases[c].id, uid, NODE, "connect", None))
        return c

    def disconnect(self, c: Connection, reason: str = "closed") -> None:
        lease = self.presence.leases[c]
        self.presence.disconnected(c, reason)
        self.expected.append((lease.id, lease.user.id, NODE, "disconnect", reason))

    def person(self, uid: int) -> dict[str, Any]:
        return {"id": uid, "name": self.people[uid].name}

    def people_of(self, uids: set[int]) -> list[dict[str, Any]]:
        return [self.person(u) for u in sorted(uids)]

    async def leases(self) -> dict[str, int]:
        """Every stored lease, ``{lease id: user id}`` (all of this node, unexpired)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(presence_leases))).all()
        assert all(r.node_id == NODE for r in rows)
        assert all(utc(r.expires_at) > datetime.now(UTC) for r in rows)
        return {r.id: int(r.user_id) for r in rows}

    def held(self) -> dict[str, int]:
        """The leases the node believes it holds."""
        return {lease.id: lease.user.id for lease in self.presence.leases.values()}

    async def events(self) -> list[Event]:
        e = presence_events
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(e).order_by(e.c.id))).all()
        ts = [utc(r.ts) for r in rows]
        assert ts == sorted(ts), "events are stored in the order they happened"
        return [(r.lease_id, int(r.user_id), r.node_id, r.kind, r.reason) for r in rows]

    async def online(self) -> set[int]:
        async with self.engine.connect() as conn:
            return await online_users(conn, datetime.now(UTC))

    async def changes(self, meeting: int) -> list[dict[str, Any]]:
        """The bodies of every ``presence.changed`` on the meeting's desk, in order."""
        msgs = await self.node.log.read(f"desk:{meeting}", 0)
        return [orjson.loads(m.body) for m in msgs if m.kind == "presence.changed"]


async def _send(_text: str) -> None:
    return None


async def _close(_code: int, _reason: str) -> None:
    return None


@pytest.fixture
async def rig(db_url: str, world: World) -> AsyncIterator[Rig]:
    engine = make_engine(db_url)
    node = Node(MessageLog(engine), MemoryBroker(), Metrics(), 60.0)
    await node.start()
    try:
        yield Rig(engine, node, Presence(node, NODE, ttl=60.0))
    finally:
        await node.stop()
        await engine.dispose()


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[tuple[str, int]]]:
    """The writes to the presence tables as the driver saw them: ``(verb and table,
    rows)`` per statement (executemany counts its rows)."""
    seen: list[tuple[str, int]] = []

    def on_execute(
        _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        words = statement.split()
        head = " ".join(words[:3]).upper()
        for verb in ("INSERT INTO presence_", "DELETE FROM presence_", "UPDATE presence_"):
            if head.startswith(verb.upper()):
                seen.append((" ".join(words[:3]), len(params) if many else 1))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


async def test_a_batch_is_stored_with_one_statement_per_table(
    rig: Rig, db_url: str, world: World
) -> None:
    """Connects and disconnects queued together, including a lease taken and given back
    before the flush, are stored at once: the leases table holds exactly the live
    connections, the events table one row per operation in order, the online users are
    right and each desk hears one ``presence.changed`` naming the deputies who came."""
    bulk = list(await add_deputies(db_url, world.meeting, world.delegations, 40))
    d0, d1, d2, d3 = world.deputies
    p = rig.presence

    flash = await rig.connect(d3)  # comes and goes within the batch
    live = [await rig.connect(u) for u in bulk]
    phone, laptop = await rig.connect(d0), await rig.connect(d0)
    live += [phone, await rig.connect(world.secretariat), await rig.connect(world.outsider)]
    rig.disconnect(flash)
    rig.disconnect(laptop)  # d0 keeps the phone
    first = await rig.connect(d1)
    rig.disconnect(first)
    live += [await rig.connect(d1), await rig.connect(d2), await rig.connect(d2)]
    # no-ops: a second connect of the same connection, an unknown or anonymous one
    p.connected(phone)
    p.disconnected(flash)
    p.connected(Connection(_send, _close, 16))
    ops = len(rig.expected)
    assert ops == 49 + 3 == len(p._ops)  # 49 connects, 3 disconnects
    assert await rig.leases() == {} and await rig.events() == []  # nothing stored yet

    with statements(rig.engine) as sent:
        await p.flush()
    assert p._ops == []
    assert sent == [
        ("INSERT INTO presence_leases", ops - 3),
        ("DELETE FROM presence_leases", 1),
        ("INSERT INTO presence_events", ops),
    ]

    assert set(p.leases) == set(live)
    assert await rig.leases() == rig.held()
    assert sorted(rig.held().values()) == sorted(
        [*bulk, d0, world.secretariat, world.outsider, d1, d2, d2]
    )
    assert await rig.events() == rig.expected
    assert all(lease.stored for lease in p.leases.values())
    came = {*bulk, d0, d1, d2}
    assert await rig.online() == came | {world.secretariat, world.outsider}
    assert await rig.changes(world.meeting) == [{"online": rig.people_of(came), "offline": []}]
    assert await rig.changes(world.other_meeting) == [
        {"online": [{"id": world.outsider, "name": "局外代表"}], "offline": []}
    ]

    with statements(rig.engine) as sent:  # nothing queued: nothing written
        await p.flush()
    assert sent == []
    assert await rig.events() == rig.expected
    assert len(await rig.changes(world.meeting)) == 1


async def test_more_than_500_leases_given_back_in_one_batch(
    rig: Rig, db_url: str, world: World
) -> None:
    """600 devices online; then 525 leases given back in one batch (deleted 500 at a
    time) beside new connects: exactly the rest stay, every event is stored in order, and
    the desk hears who went offline (all their devices gone) and who came. Stopping the
    node gives back the rest (``node_stopped``)."""
    bulk = list(await add_deputies(db_url, world.meeting, world.delegations, 40))
    d0, d1, d2, d3 = world.deputies
    p = rig.presence
    devices = {u: [await rig.connect(u) for _ in range(15)] for u in bulk}
    await rig.connect(d0)
    with statements(rig.engine) as sent:
        await p.flush()
    assert sent == [("INSERT INTO presence_leases", 601), ("INSERT INTO presence_events", 601)]
    assert len(await rig.leases()) == 601 and await rig.leases() == rig.held()
    assert await rig.changes(world.meeting) == [
        {"online": rig.people_of({*bulk, d0}), "offline": []}
    ]

    went = bulk[:34]
    for u in went:
        for c in devices[u]:
            rig.disconnect(c)
    await rig.connect(d1)
    for c in devices[bulk[34]][1:]:  # bulk[34] keeps one device
        rig.disconnect(c)
    flash = await rig.connect(d3)
    await rig.connect(d2)
    rig.disconnect(flash)
    batch = rig.expected[601:]
    assert sum(e[3] == "disconnect" for e in batch) == 34 * 15 + 14 + 1 == 525

    with statements(rig.engine) as sent:
        await p.flush()
    assert sent == [
        ("INSERT INTO presence_leases", 3),
        ("DELETE FROM presence_leases", 1),
        ("DELETE FROM presence_leases", 1),
        ("INSERT INTO presence_events", len(batch)),
    ]
    stayed = await rig.leases()
    assert stayed == rig.held() and len(stayed) == 1 + 5 * 15 + 3
    assert set(stayed.values()) == {*bulk[34:], d0, d1, d2}
    assert await rig.events() == rig.expected
    assert await rig.online() == {*bulk[34:], d0, d1, d2}
    assert (await rig.changes(world.meeting))[1:] == [
        {"online": rig.people_of({d1, d2}), "offline": rig.people_of(set(went))}
    ]

    before = len(rig.expected)
    held = rig.held()
    await p.stop()
    assert await rig.leases() == {} and p.leases == {}
    stored = await rig.events()
    assert stored[:before] == rig.expected
    assert sorted(stored[before:]) == sorted(
        (lease, u, NODE, "disconnect", "node_stopped") for lease, u in held.items()
    )
    assert await rig.online() == set()
    assert (await rig.changes(world.meeting))[2:] == [
        {"online": [], "offline": rig.people_of({*bulk[34:], d0, d1, d2})}
    ]


async def test_renewal_retakes_swept_leases_in_one_batch(
    rig: Rig, db_url: str, world: World
) -> None:
    """Leases another node swept as expired (this node could not renew in time) are
    taken again by the next renewal, all in one insert per table: new lease ids, a
    ``connect`` (``renewed``) event each, and the desk hears the deputies back online."""
    bulk = list(await add_deputies(db_url, world.meeting, world.delegations, 30))
    d0 = world.deputies[0]
    p = rig.presence
    conns = {u: await rig.connect(u) for u in bulk}
    phone, laptop = await rig.connect(d0), await rig.connect(d0)
    await p.flush()
    lapsed = {p.leases[conns[u]].id for u in bulk[:10]} | {p.leases[laptop].id}
    async with rig.engine.begin() as conn:
        await conn.execute(
            presence_leases.update()
            .where(presence_leases.c.id.in_(sorted(lapsed)))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await sweep(rig.node) == 11
    assert set(await rig.leases()) == set(rig.held()) - lapsed
    assert await rig.online() == {*bulk[10:], d0}  # d0's phone still holds a lease
    assert (await rig.changes(world.meeting))[1:] == [
        {"online": [], "offline": rig.people_of(set(bulk[:10]))}
    ]
    swept = (await rig.events())[len(rig.expected) :]
    assert sorted((e[0], e[3], e[4]) for e in swept) == sorted(
        (lease, "disconnect", "expired") for lease in lapsed
    )

    with statements(rig.engine) as sent:
        await p.renew()
    assert sent == [
        ("UPDATE presence_leases SET", 1),
        ("INSERT INTO presence_leases", 11),
        ("INSERT INTO presence_events", 11),
    ]
    held = rig.held()
    assert await rig.leases() == held and len(held) == 32
    new_ids = set(held) - {e[0] for e in rig.expected}
    assert len(new_ids) == 11 and not new_ids & lapsed
    assert {held[lease] for lease in new_ids} == {*bulk[:10], d0}
    again = (await rig.events())[len(rig.expected) + 11 :]
    assert sorted(again) == sorted(
        (lease, held[lease], NODE, "connect", "renewed") for lease in new_ids
    )
    assert await rig.online() == {*bulk, d0}
    assert (await rig.changes(world.meeting))[2:] == [
        {"online": rig.people_of(set(bulk[:10])), "offline": []}
    ]
    assert p.leases[phone].id not in new_ids

    with statements(rig.engine) as sent:  # all held leases present: one UPDATE, nothing else
        await p.renew()
    assert sent == [("UPDATE presence_leases SET", 1)]
    assert len(await rig.changes(world.meeting)) == 3


async def test_stopping_while_a_batch_commits_stores_it_once(rig: Rig, world: World) -> None:
    """Stopping the node while the flush loop is between a batch's commit and marking it
    stored neither queues the batch again (a duplicate lease row) nor loses it: stop()
    waits for that batch, then gives every lease back once."""
    import asyncio

    p = rig.presence
    committed = asyncio.Event()
    real_store = p._store

    async def store_then_linger(ops: Any) -> None:
        await real_store(ops)
        committed.set()
        await asyncio.sleep(0.2)  # the window after the commit

    p._store = store_then_linger  # type: ignore[method-assign]
    p.start()
    c = await rig.connect(world.deputies[0])
    await committed.wait()
    await p.stop()
    lease = rig.expected[0][0]
    assert await rig.leases() == {} and p.leases == {}
    assert await rig.events() == [
        (lease, world.deputies[0], NODE, "connect", None),
        (lease, world.deputies[0], NODE, "disconnect", "node_stopped"),
    ]
    assert c.principal is not None
