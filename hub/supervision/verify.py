"""Tamper evidence: recompute every channel's hash chain and report the first broken link.

Each stored message carries ``hash = chain_hash(previous hash, channel, seq, kind,
sender, body, ts)`` (see :mod:`hub.store.log`), and ``channels.head`` is the last seq
assigned. Walking a channel in seq order from seq 1, the verifier recomputes each hash
and reports, per channel, the first link that does not hold:

==============  ================================================================
problem         meaning
==============  ================================================================
hash_mismatch   the stored hash does not match the message: its body, kind, sender,
                time or hash was edited (or the message before it was rewritten)
missing_seq     a seq is absent between 1 and the head: the row was deleted
out_of_order    sequence numbers were swapped: the message with this seq was
                stored after the one with the next seq
head_mismatch   ``channels.head`` disagrees with the last stored seq (rows deleted at
                the end, or the head edited), or a channel has no ``channels`` row
==============  ================================================================

Guarantees: the log is read in batches (keyset pagination on the ``(channel, seq)``
index), so memory holds one batch plus one head per channel, never the whole log. The
walk runs in one read transaction (a snapshot on both databases), so messages appended
meanwhile neither break the chain nor disagree with the heads read at its start.
Within a channel message ids grow with seq (the seq is assigned under the channel's
lock in the transaction that inserts the row), which is what reveals a reordering.

The tail of a channel deleted together with a matching decrease of its head leaves a
shorter chain that still holds: keep the ``anchor`` of a report (one hash over every
channel's head and last hash) somewhere else, and compare it later.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.protocol import MAX_SEQ, iso
from hub.shapes import Shape
from hub.store.log import GENESIS, chain_hash, db_errors
from hub.store.schema import channels, messages

BATCH = 5000

Problem = Literal["hash_mismatch", "missing_seq", "out_of_order", "head_mismatch"]
PROBLEMS: tuple[str, ...] = get_args(Problem)


class Broken(Shape):
    """The first broken link of a channel's chain."""

    channel: str
    seq: int
    problem: Problem
    detail: str
    id: int | None


class VerifyReport(Shape):
    ok: bool
    channels: int
    messages: int
    anchor: Annotated[
        str, Meta(description="one hash over every channel's head and last hash: keep it")
    ]
    breaks: list[Broken]


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link of one channel."""

    channel: str
    seq: int
    problem: str
    detail: str
    id: int | None = None  # the message at that seq, when there is one

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "seq": self.seq,
            "problem": self.problem,
            "detail": self.detail,
            "id": self.id,
        }


@dataclass
class Report:
    channels: int = 0
    messages: int = 0
    breaks: list[Break] = field(default_factory=list)
    anchor: str = ""

    @property
    def ok(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "channels": self.channels,
            "messages": self.messages,
            "anchor": self.anchor,
            "breaks": [b.as_dict() for b in self.breaks],
        }


@dataclass(slots=True)
class _Row:
    id: int
    channel: str
    seq: int
    kind: str
    sender_id: int
    body: str
    ts: Any
    hash: str


class _Walk:
    """The state of the channel being walked."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.expected = 1
        self.prev_hash = GENESIS
        self.prev_id = 0
        self.pending: _Row | None = None  # a hash mismatch, classified by the next row
        self.broken = False


def _rows_query(after: tuple[str, int] | None, channel: str | None, batch: int) -> sa.Select[Any]:
    q = sa.select(
        messages.c.id,
        messages.c.channel,
        messages.c.seq,
        messages.c.kind,
        messages.c.sender_id,
        messages.c.body,
        messages.c.ts,
        messages.c.hash,
    )
    if channel is not None:
        q = q.where(messages.c.channel == channel)
    if after is not None:
        q = q.where(
            sa.tuple_(messages.c.channel, messages.c.seq)
            > sa.tuple_(sa.literal(after[0]), after[1])
        )
    return q.order_by(messages.c.channel, messages.c.seq).limit(batch)


async def _rows(
    conn: AsyncConnection, channel: str | None, batch: int, skip: set[str]
) -> AsyncIterator[_Row]:
    """Messages in (channel, seq) order, one batch in memory at a time.

    A channel added to ``skip`` (already broken) is jumped over at the next batch.
    """
    after: tuple[str, int] | None = None
    while True:
        rows = (await conn.execute(_rows_query(after, channel, batch))).all()
        for r in rows:
            yield _Row(r.id, r.channel, r.seq, r.kind, r.sender_id, r.body, r.ts, r.hash)
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (last.channel, MAX_SEQ) if last.channel in skip else (last.channel, last.seq)


async def verify_log(engine: AsyncEngine, channel: str | None = None, batch: int = BATCH) -> Report:
    """Recompute the chains (of every channel, or of ``channel``); the first break of each."""
    report = Report()
    anchor = hashlib.sha256()
    skip: set[str] = set()

    def broke(w: _Walk, seq: int, problem: str, detail: str, id_: int | None) -> None:
        report.breaks.append(Break(w.channel, seq, problem, detail, id_))
        w.broken = True
        skip.add(w.channel)

    def classify(w: _Walk, r: _Row, nxt: _Row | None) -> None:
        if nxt is not None and nxt.id < r.id:
            broke(
                w,
                r.seq,
                "out_of_order",
                f"message {r.id} carries seq {r.seq} but was stored after message {nxt.id} "
                f"(seq {nxt.seq}): sequence numbers were reordered",
                r.id,
            )
        else:
            broke(
                w,
                r.seq,
                "hash_mismatch",
                "the stored hash does not match the message: its body, kind, sender, time "
                "or hash was changed, or the message before it was rewritten",
                r.id,
            )

    def finish(w: _Walk, heads: dict[str, int]) -> None:
        if w.pending is not None and not w.broken:
            classify(w, w.pending, None)
        report.channels += 1
        head = heads.pop(w.channel, None)
        if w.broken:
            return
        last = w.expected - 1
        if head is None:
            broke(w, last, "head_mismatch", "the channel has messages but no channels row", None)
        elif head != last:
            what = "rows deleted at the end, or the head raised" if head > last else "head lowered"
            broke(
                w,
                min(head, last) + 1,
                "head_mismatch",
                f"channels.head is {head} but the last stored message is seq {last} ({what})",
                None,
            )
        else:
            anchor.update(f"{w.channel}\x1f{head}\x1f{w.prev_hash}\n".encode())

    async with db_errors(), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="REPEATABLE READ", readonly=True)
        else:
            conn = await conn.execution_options(readonly=True)
        async with conn.begin():
            hq = sa.select(channels.c.name, channels.c.head)
            if channel is not None:
                hq = hq.where(channels.c.name == channel)
            heads = {r.name: int(r.head) for r in await conn.execute(hq)}
            w: _Walk | None = None
            async for r in _rows(conn, channel, batch, skip):
                report.messages += 1
                if w is None or r.channel != w.channel:
                    if w is not None:
                        finish(w, heads)
                    w = _Walk(r.channel)
                if w.broken:
                    continue
                if w.pending is not None:
                    classify(w, w.pending, r)
                    continue
                if r.seq != w.expected:
                    broke(
                        w,
                        w.expected,
                        "missing_seq",
                        f"seq {w.expected} is missing (deleted?): the next stored message "
                        f"is seq {r.seq}",
                        None,
                    )
                    continue
                if r.id < w.prev_id:
                    broke(
                        w,
                        r.seq,
                        "out_of_order",
                        f"message {r.id} carries seq {r.seq} but was stored before message "
                        f"{w.prev_id} (seq {r.seq - 1}): sequence numbers were reordered",
                        r.id,
                    )
                    continue
                digest = chain_hash(
                    w.prev_hash, r.channel, r.seq, r.kind, r.sender_id, r.body, iso(r.ts)
                )
                if digest != r.hash:
                    w.pending = r
                    continue
                w.prev_hash, w.prev_id = r.hash, r.id
                w.expected += 1
            if w is not None:
                finish(w, heads)
    # Channels with a head but not a single stored message.
    for name, head in sorted(heads.items()):
        if head > 0:
            report.channels += 1
            report.breaks.append(
                Break(
                    name,
                    1,
                    "head_mismatch",
                    f"channels.head is {head} but no message of the channel is stored",
                )
            )
    report.breaks.sort(key=lambda b: (b.channel, b.seq))
    report.anchor = anchor.hexdigest()
    return report
