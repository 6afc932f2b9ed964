"""Tamper evidence: edits, deletions and reorderings done directly in the database are
found by `hub verify`, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime

import orjson
import sqlalchemy as sa

from hub.protocol import iso
from hub.session.members import Member
from hub.store.engine import make_engine
from hub.store.log import GENESIS, append, chain_hash
from hub.supervision.verify import verify_log

SEC = Member(id=1, name="秘书处", role="secretariat")


async def _fill(url: str, counts: dict[str, int]) -> None:
    engine = make_engine(url)
    try:
        for ch, n in counts.items():
            async with engine.begin() as conn:
                for i in range(n):
                    await append(conn, ch, "notice", SEC, {"text": f"第{i + 1}号通知", "i": i})
    finally:
        await engine.dispose()


async def _sql(url: str, *statements: str) -> None:
    """Run raw SQL behind the hub's back."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for s in statements:
                await conn.exec_driver_sql(s)
    finally:
        await engine.dispose()


async def _verify(url: str, channel: str | None = None, batch: int = 7) -> dict[str, object]:
    engine = make_engine(url)
    try:
        return (await verify_log(engine, channel, batch=batch)).as_dict()
    finally:
        await engine.dispose()


async def test_untouched_log_verifies(db_url: str) -> None:
    """A log written only by the hub has no break; every channel and message is counted."""
    await _fill(db_url, {"meeting:1": 20, "deputy:2": 3, "unit:1": 1})
    r = await _verify(db_url)
    assert r["ok"] is True and r["breaks"] == []
    assert (r["channels"], r["messages"]) == (3, 24)
    assert len(str(r["anchor"])) == 64


async def test_edited_body_is_found(db_url: str) -> None:
    """An UPDATE of one message's body breaks the chain exactly at that message."""
    await _fill(db_url, {"meeting:1": 20, "deputy:2": 3})
    await _sql(
        db_url,
        """UPDATE messages SET body = '{"text":"改过的通知","i":11}'
           WHERE channel = 'meeting:1' AND seq = 12""",
    )
    r = await _verify(db_url)
    assert r["ok"] is False
    [b] = r["breaks"]
    assert (b["channel"], b["seq"], b["problem"]) == ("meeting:1", 12, "hash_mismatch")
    assert b["id"] is not None


async def test_rewritten_hash_breaks_the_next_link(db_url: str) -> None:
    """An edited body whose own hash was recomputed is caught at the next message."""
    await _fill(db_url, {"meeting:1": 5})
    body = '{"text":"伪造","i":2}'
    r = next(m for m in await _stored(db_url) if m.seq == 3)
    prev = next(m for m in await _stored(db_url) if m.seq == 2).hash
    forged = chain_hash(prev, r.channel, 3, r.kind, r.sender_id, body, _iso(r.ts))
    await _sql(db_url, f"UPDATE messages SET body = '{body}', hash = '{forged}' WHERE seq = 3")
    [b] = (await _verify(db_url))["breaks"]
    assert (b["seq"], b["problem"]) == (4, "hash_mismatch")


async def test_deleted_row_is_found(db_url: str) -> None:
    """A DELETE of a message in the middle is reported as its missing seq."""
    await _fill(db_url, {"meeting:1": 20, "deputy:2": 3})
    await _sql(db_url, "DELETE FROM messages WHERE channel = 'meeting:1' AND seq = 9")
    [b] = (await _verify(db_url))["breaks"]
    assert (b["channel"], b["seq"], b["problem"]) == ("meeting:1", 9, "missing_seq")


async def test_deleted_first_and_last_rows_are_found(db_url: str) -> None:
    """Deleting seq 1 is a missing seq; deleting the last row disagrees with the head."""
    await _fill(db_url, {"meeting:1": 4, "deputy:2": 3, "unit:5": 2})
    await _sql(
        db_url,
        "DELETE FROM messages WHERE channel = 'meeting:1' AND seq = 1",
        "DELETE FROM messages WHERE channel = 'deputy:2' AND seq = 3",
        "DELETE FROM messages WHERE channel = 'unit:5'",
    )
    got = {b["channel"]: (b["seq"], b["problem"]) for b in (await _verify(db_url))["breaks"]}
    assert got == {
        "meeting:1": (1, "missing_seq"),
        "deputy:2": (3, "head_mismatch"),
        "unit:5": (1, "head_mismatch"),
    }


async def test_swapped_seqs_are_found(db_url: str) -> None:
    """Swapping two messages' seqs is reported as a reordering at the lower seq."""
    await _fill(db_url, {"meeting:1": 20, "deputy:2": 3})
    # Three steps: the (channel, seq) unique constraint is checked row by row.
    await _sql(
        db_url,
        "UPDATE messages SET seq = -5 WHERE channel = 'meeting:1' AND seq = 5",
        "UPDATE messages SET seq = 5 WHERE channel = 'meeting:1' AND seq = 6",
        "UPDATE messages SET seq = 6 WHERE channel = 'meeting:1' AND seq = -5",
    )
    [b] = (await _verify(db_url))["breaks"]
    assert (b["channel"], b["seq"], b["problem"]) == ("meeting:1", 5, "out_of_order")


async def test_swap_with_recomputed_hashes_is_still_found(db_url: str) -> None:
    """A reordering whose hashes were recomputed to chain again is still seen by the ids."""
    await _fill(db_url, {"meeting:1": 4})
    await _sql(
        db_url,
        "UPDATE messages SET seq = -1 WHERE seq = 1",
        "UPDATE messages SET seq = 1 WHERE seq = 3",
        "UPDATE messages SET seq = 3 WHERE seq = -1",
    )
    prev = GENESIS
    fixes = []
    for r in sorted(await _stored(db_url), key=lambda m: m.seq):
        prev = chain_hash(prev, r.channel, r.seq, r.kind, r.sender_id, r.body, _iso(r.ts))
        fixes.append(f"UPDATE messages SET hash = '{prev}' WHERE id = {r.id}")
    await _sql(db_url, *fixes)
    [b] = (await _verify(db_url))["breaks"]
    assert (b["seq"], b["problem"]) == (2, "out_of_order")


async def _stored(url: str) -> list[sa.Row[object]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.text("SELECT * FROM messages"))).all())
    finally:
        await engine.dispose()


def _iso(ts: datetime | str) -> str:
    """The hashed timestamp text of a raw row (SQLite returns the stored text)."""
    return iso(datetime.fromisoformat(ts) if isinstance(ts, str) else ts)


async def test_one_channel_only(db_url: str) -> None:
    """Verifying one channel looks at that channel alone."""
    await _fill(db_url, {"meeting:1": 3, "deputy:2": 3})
    await _sql(db_url, "DELETE FROM messages WHERE channel = 'deputy:2' AND seq = 2")
    assert (await _verify(db_url, "meeting:1"))["ok"] is True
    r = await _verify(db_url, "deputy:2")
    assert (r["channels"], r["ok"]) == (1, False)


async def test_only_the_first_break_per_channel(db_url: str) -> None:
    """Two tamperings in one channel report the first; other channels are still checked."""
    await _fill(db_url, {"meeting:1": 30, "meeting:2": 30, "meeting:3": 2})
    await _sql(
        db_url,
        "DELETE FROM messages WHERE channel = 'meeting:1' AND seq = 4",
        "UPDATE messages SET body = '{}' WHERE channel = 'meeting:1' AND seq = 20",
        "UPDATE messages SET kind = 'forged' WHERE channel = 'meeting:2' AND seq = 25",
    )
    r = await _verify(db_url, batch=4)
    got = [(b["channel"], b["seq"], b["problem"]) for b in r["breaks"]]
    assert got == [("meeting:1", 4, "missing_seq"), ("meeting:2", 25, "hash_mismatch")]
    assert r["channels"] == 3


async def test_cli_exit_code_and_report(db_url: str, tmp_path: object) -> None:
    """`hub verify` prints the report as JSON and exits 1 when a link is broken, else 0."""
    await _fill(db_url, {"meeting:1": 5})
    env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_DATA_DIR": str(tmp_path)}

    def run() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "hub", "verify"], env=env, capture_output=True, timeout=60
        )

    ok = await asyncio.to_thread(run)
    assert ok.returncode == 0, ok.stderr
    assert orjson.loads(ok.stdout)["ok"] is True
    await _sql(db_url, 'UPDATE messages SET body = \'{"text":"x"}\' WHERE seq = 2')
    bad = await asyncio.to_thread(run)
    assert bad.returncode == 1
    [b] = orjson.loads(bad.stdout)["breaks"]
    assert (b["channel"], b["seq"], b["problem"]) == ("meeting:1", 2, "hash_mismatch")
