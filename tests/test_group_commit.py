"""Raw publishes on one channel committed together (``hub.node.GroupCommit``), on SQLite
and PostgreSQL: gap-free, hash-chained, idempotent, answered only after their own commit,
and failing together when their transaction fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth import Principal
from hub.broker.memory import MemoryBroker
from hub.errors import QuotaExceeded, Unavailable
from hub.metrics import Metrics
from hub.node import Node
from hub.store.engine import Timeouts, make_engine
from hub.store.log import COLUMNS, MessageLog, StoredMessage, stored_message
from hub.store.schema import channels, messages
from hub.supervision.verify import verify_log
from tests.utils import TIMEOUT

CH = "meeting:1"
SEC = Principal(id=1, name="秘书处", role="secretariat")
OTHER = Principal(id=2, name="另一位", role="secretariat")


async def _node(url: str, timeouts: Timeouts | None = None) -> Node:
    return Node(MessageLog(make_engine(url, timeouts)), MemoryBroker(), Metrics(), 60.0)


@pytest.fixture
async def node(db_url: str) -> AsyncIterator[Node]:
    n = await _node(db_url)
    yield n
    await n.stop()
    await n.log.engine.dispose()


def _count_commits(engine: AsyncEngine) -> list[int]:
    commits = [0]

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(_conn: object) -> None:
        commits[0] += 1

    return commits


async def _stored(engine: AsyncEngine, channel: str = CH) -> list[StoredMessage]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(*COLUMNS).where(messages.c.channel == channel).order_by(messages.c.seq)
        )
        return [stored_message(r) for r in rows]


async def _head(engine: AsyncEngine, channel: str = CH) -> int:
    async with engine.connect() as conn:
        h = await conn.execute(sa.select(channels.c.head).where(channels.c.name == channel))
        return int(h.scalar() or 0)


async def _chain_ok(engine: AsyncEngine, n: int) -> None:
    report = await verify_log(engine)
    assert report.breaks == [] and report.messages == n, report


async def test_concurrent_publishes_share_transactions_gap_free_and_chained(node: Node) -> None:
    """200 publishes at once on one channel: far fewer commits than publishes, seqs 1..200
    with no gap, each answer the row stored for it (id, seq, body), the chain intact."""
    commits = _count_commits(node.log.engine)
    n = 200
    got = await asyncio.wait_for(
        asyncio.gather(*(node.publish(CH, "notice", SEC, {"i": i}, None) for i in range(n))),
        TIMEOUT,
    )
    assert sorted(m.seq for m, _ in got) == list(range(1, n + 1))
    assert all(created for _, created in got)
    assert commits[0] < n // 4, f"{commits[0]} commits for {n} publishes"
    stored = {m.seq: m for m in await _stored(node.log.engine)}
    for i, (m, _) in enumerate(got):
        assert m == stored[m.seq] and m.body == f'{{"i":{i}}}'
    assert sorted(stored) == list(range(1, n + 1))
    # in arrival order: the publish made first got the lower seq
    assert [m.seq for m, _ in got] == sorted(m.seq for m, _ in got)
    assert await _head(node.log.engine) == n
    await _chain_ok(node.log.engine, n)


async def test_each_publisher_sees_its_seqs_increase(node: Node) -> None:
    """Eight publishers, each awaiting each of its 25 publishes: each sees its seqs rise,
    and together they hold 1..200."""

    async def one(p: int) -> list[int]:
        return [
            (await node.publish(CH, "notice", SEC, {"p": p, "i": i}, None))[0].seq
            for i in range(25)
        ]

    seqs = await asyncio.wait_for(asyncio.gather(*(one(p) for p in range(8))), TIMEOUT)
    for s in seqs:
        assert s == sorted(s)
    assert sorted(x for s in seqs for x in s) == list(range(1, 201))
    await _chain_ok(node.log.engine, 200)


async def test_an_answer_comes_only_after_its_commit(node: Node) -> None:
    """At the moment each publisher is answered, another connection already reads its
    message: nobody is answered before the transaction holding its message committed."""
    log = node.log

    async def publish_then_read(i: int) -> StoredMessage | None:
        m, _ = await node.publish(CH, "notice", SEC, {"i": i}, None)
        return await log.get(CH, m.seq)

    seen = await asyncio.wait_for(
        asyncio.gather(*(publish_then_read(i) for i in range(100))), TIMEOUT
    )
    assert all(m is not None for m in seen), [i for i, m in enumerate(seen) if m is None]


async def test_repeated_keys_inside_and_across_batches(node: Node) -> None:
    """Two publishes with one key in one batch store one message (the second answered with
    the first, created false); a repeat of a committed key in a later batch gets the first
    answer; the same key of another sender is its own message."""
    first = await asyncio.wait_for(
        asyncio.gather(
            node.publish(CH, "notice", SEC, {"a": 1}, "k"),
            node.publish(CH, "notice", SEC, {"a": 2}, "k"),
            node.publish(CH, "notice", OTHER, {"a": 3}, "k"),
            node.publish(CH, "notice", SEC, {"a": 4}, None),
        ),
        TIMEOUT,
    )
    (a, ca), (b, cb), (c, cc), (d, cd) = first
    assert (ca, cb, cc, cd) == (True, False, True, True)
    assert b == a and a.body == '{"a":1}'
    assert [a.seq, c.seq, d.seq] == [1, 2, 3]
    again = await asyncio.gather(
        node.publish(CH, "notice", SEC, {"a": 5}, "k"),
        node.publish(CH, "notice", SEC, {"a": 6}, "new"),
    )
    assert again[0] == (a, False)
    assert again[1][1] and again[1][0].seq == 4
    assert [m.seq for m in await _stored(node.log.engine)] == [1, 2, 3, 4]
    await _chain_ok(node.log.engine, 4)


async def test_a_refused_member_takes_no_seq_and_the_others_are_stored(node: Node) -> None:
    """A publish its quota refuses fails alone with its own error, takes no seq, and the
    rest of its batch is stored around it, the chain continuing across the gap it left."""

    async def refuse(_conn: object, msg: StoredMessage) -> None:
        if '"no"' in msg.body:
            raise QuotaExceeded("over the quota")

    got = await asyncio.wait_for(
        asyncio.gather(
            *(
                node.publish(CH, "notice", SEC, {"i": "no" if i == 2 else i}, None, refuse)
                for i in range(5)
            ),
            return_exceptions=True,
        ),
        TIMEOUT,
    )
    assert isinstance(got[2], QuotaExceeded)
    ok = [g for i, g in enumerate(got) if i != 2]
    assert [m.seq for m, _ in ok] == [1, 2, 3, 4]  # type: ignore[union-attr]
    await _chain_ok(node.log.engine, 4)


@asynccontextmanager
async def _holding(url: str, engine: AsyncEngine) -> AsyncIterator[None]:
    """Another transaction holds the channel's row (PostgreSQL) or the database's write
    lock (SQLite) until the block ends."""
    async with engine.connect() as conn:
        await conn.begin()
        if url.startswith("sqlite"):
            await conn.execute(sa.text("INSERT INTO channels (name, head) VALUES ('x:0', 0)"))
        else:
            await conn.execute(
                sa.text("INSERT INTO channels (name, head) VALUES (:c, 0) ON CONFLICT DO NOTHING"),
                {"c": CH},
            )
            await conn.execute(
                sa.text("SELECT head FROM channels WHERE name = :c FOR UPDATE"), {"c": CH}
            )
        yield
        await conn.rollback()


async def test_a_failed_batch_fails_every_member_and_stores_none(db_url: str) -> None:
    """The database makes the batch's transaction wait past its timeout (another
    transaction holds the channel): every publish in the batch gets `unavailable`, none
    is stored and no seq is used; once the database serves again the next batch is
    stored from seq 1."""
    node = await _node(db_url, Timeouts(statement=0.5, pool=2.0))
    holder = make_engine(db_url)
    try:
        await node.publish("meeting:2", "notice", SEC, {"warm": 1}, None)
        async with _holding(db_url, holder):
            got = await asyncio.wait_for(
                asyncio.gather(
                    *(node.publish(CH, "notice", SEC, {"i": i}, f"k{i}") for i in range(20)),
                    return_exceptions=True,
                ),
                TIMEOUT,
            )
        assert all(isinstance(g, Unavailable) for g in got), got
        assert await _stored(node.log.engine) == []
        assert await _head(node.log.engine) == 0
        # sent again with their keys: stored once each, from seq 1
        again = await asyncio.wait_for(
            asyncio.gather(
                *(node.publish(CH, "notice", SEC, {"i": i}, f"k{i}") for i in range(20))
            ),
            TIMEOUT,
        )
        assert sorted(m.seq for m, _ in again) == list(range(1, 21))
        assert all(c for _, c in again)
        await _chain_ok(node.log.engine, 21)
    finally:
        await node.stop()
        await node.log.engine.dispose()
        await holder.dispose()


async def test_two_nodes_on_one_channel_share_one_sequence(pg_url: str) -> None:
    """Two nodes (their own engines and batches), eight publishers on each awaiting each
    of their publishes, on one channel: the row lock orders the nodes' batches, which
    interleave, so together they hold 1..N with one hash chain (each node continues the
    chain from the log's head, not from its own last commit, when the other appended)."""
    a, b = await _node(pg_url), await _node(pg_url)

    async def publisher(node: Node, p: int) -> list[StoredMessage]:
        return [
            (await node.publish(CH, "notice", SEC, {"p": p, "i": i}, None))[0] for i in range(20)
        ]

    try:
        runs = await asyncio.wait_for(
            asyncio.gather(*(publisher(node, p) for p in range(8) for node in (a, b))),
            TIMEOUT * 2,
        )
        got = [m for run in runs for m in run]
        assert sorted(m.seq for m in got) == list(range(1, len(got) + 1))
        assert len(got) == 320
        await _chain_ok(a.log.engine, 320)
    finally:
        for node in (a, b):
            await node.stop()
            await node.log.engine.dispose()


REFUSE_AT_COMMIT = [
    """CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.body LIKE '%"refuse"%' THEN
            RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()""",
]


async def test_a_batch_whose_commit_fails_answers_no_member_published(pg_url: str) -> None:
    """PostgreSQL refuses the COMMIT itself (a deferred check, as a serialization failure
    would): every publish of that batch gets `unavailable`, none was answered before the
    commit, nothing is stored; the next batch is stored from seq 1."""
    node = await _node(pg_url)
    try:
        async with node.log.engine.begin() as conn:
            for ddl in REFUSE_AT_COMMIT:
                await conn.execute(sa.text(ddl))
        bodies = [{"i": i} for i in range(10)]
        bodies[7] = {"refuse": 1}
        got = await asyncio.wait_for(
            asyncio.gather(
                *(node.publish(CH, "notice", SEC, b, None) for b in bodies),
                return_exceptions=True,
            ),
            TIMEOUT,
        )
        assert all(isinstance(g, Unavailable) for g in got), got
        assert await _stored(node.log.engine) == []
        ok = await node.publish(CH, "notice", SEC, {"i": 0}, None)
        assert ok[0].seq == 1
    finally:
        await node.stop()
        await node.log.engine.dispose()
