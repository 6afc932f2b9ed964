"""The message log's contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing as mp

import sqlalchemy as sa

from hub.auth import Principal
from hub.protocol import iso
from hub.store.engine import make_engine
from hub.store.log import GENESIS, MessageLog, append, chain_hash
from hub.store.schema import messages

SEC = Principal(id=1, name="秘书处", role="secretariat")


async def _append(url: str, channel: str, n: int, key_prefix: str | None = None) -> list[int]:
    engine = make_engine(url)
    seqs = []
    try:
        for i in range(n):
            async with engine.begin() as conn:
                key = None if key_prefix is None else f"{key_prefix}{i}"
                m, _ = await append(conn, channel, "notice", SEC, {"i": i}, key)
                seqs.append(m.seq)
    finally:
        await engine.dispose()
    return seqs


async def test_sequence_starts_at_one_and_is_per_channel(db_url: str) -> None:
    """Each channel has its own sequence 1, 2, 3 …"""
    assert await _append(db_url, "meeting:1", 3) == [1, 2, 3]
    assert await _append(db_url, "meeting:2", 2) == [1, 2]
    log = MessageLog(make_engine(db_url))
    assert await log.head("meeting:1") == 3
    assert await log.heads(["meeting:1", "meeting:2", "meeting:3"]) == {
        "meeting:1": 3,
        "meeting:2": 2,
    }
    got = await log.read("meeting:1", 1)
    assert [m.seq for m in got] == [2, 3]
    assert got[0].body == '{"i":1}'
    await log.engine.dispose()


async def test_concurrent_publishers_get_gap_free_sequence(db_url: str) -> None:
    """Many concurrent publishers in one process: 1..N, no gap, no duplicate."""
    results = await asyncio.gather(*(_append(db_url, "meeting:9", 10) for _ in range(8)))
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(1, 81))


def _proc(url: str, n: int, tag: str) -> None:
    asyncio.run(_append(url, "meeting:7", n, key_prefix=tag))


async def test_publishers_on_two_processes_get_gap_free_sequence(db_url: str) -> None:
    """Publishers in two processes, each with concurrent tasks, into one channel: 1..N."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_proc, args=(db_url, 40, f"p{i}-")) for i in range(2)]
    for p in procs:
        p.start()
    await _append(db_url, "meeting:7", 20)
    for p in procs:
        await asyncio.to_thread(p.join, 60)
        assert p.exitcode == 0
    log = MessageLog(make_engine(db_url))
    stored = await log.read("meeting:7", 0, 1000)
    assert [m.seq for m in stored] == list(range(1, 101))
    assert await log.head("meeting:7") == 100
    await log.engine.dispose()


async def test_idempotency_key_returns_the_stored_message(db_url: str) -> None:
    """Appending again with the same (channel, sender, key) stores nothing new."""
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        first, created = await append(conn, "deputy:3", "notice", SEC, {"a": 1}, "k")
    assert created
    async with engine.connect() as conn:
        tx = await conn.begin()
        again, created = await append(conn, "deputy:3", "notice", SEC, {"a": 2}, "k")
        await tx.rollback()
    assert not created and (again.id, again.seq, again.body) == (first.id, 1, '{"a":1}')
    other = Principal(id=2, name="另一位", role="secretariat")
    async with engine.begin() as conn:
        theirs, created = await append(conn, "deputy:3", "notice", other, {"a": 3}, "k")
    assert created and theirs.seq == 2
    await engine.dispose()


async def test_messages_are_hash_chained(db_url: str) -> None:
    """Each message's hash covers the previous one's, so the chain can be recomputed."""
    await _append(db_url, "unit:1", 3)
    log = MessageLog(make_engine(db_url))
    prev = GENESIS
    for m in await log.read("unit:1", 0):
        assert m.hash == chain_hash(prev, m.channel, m.seq, m.kind, m.sender_id, m.body, iso(m.ts))
        prev = m.hash
    await log.engine.dispose()


async def test_rolled_back_append_leaves_no_trace(db_url: str) -> None:
    """A transaction that fails after appending stores neither the message nor the seq."""
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await append(conn, "desk:1", "opinion", SEC, {"x": 1})
            raise RuntimeError("the workflow failed")
    except RuntimeError:
        pass
    assert await _append(db_url, "desk:1", 1) == [1]
    async with engine.connect() as conn:
        n = (await conn.execute(sa.select(sa.func.count()).select_from(messages))).scalar()
    assert n == 1
    await engine.dispose()
