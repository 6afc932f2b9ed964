"""Who has a stored message and who read it, and when, from the core ``receipts``.

A user *read* message (channel, N) when they sent ``read`` for exactly that seq. A user
*has* it (delivered) from their first ``ack`` on the channel with seq >= N (an ``ack``
says "this device holds everything up to seq"), or from reading it if that came first.
Clients ack in seq order, so their first such ack is the one with the smallest seq >= N.

The work is bounded by the page, not by the channel: for a page of messages (any number
of channels) the receipts at the page's exact (channel, seq) are read in one query; a
channel's run of neighbouring seqs reads the acks between its first and last seq; the
rest is found by index probes (``ix_receipts_user_seq``: the smallest acked seq >= n of
one user on one channel), batched across channels and users, round by round — the ack a
probe finds also answers every page seq up to it, since no ack lies in between.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels import parse_channel
from hub.protocol import iso, utc
from hub.session.schema import meeting_participants, users
from hub.store.schema import receipts

_IN = 500  # values per IN list
_UNION = 20  # selects per UNION ALL statement

Ack = tuple[int, datetime]  # (seq, when) of an ack
Pair = tuple[str, int]  # (channel, seq)


async def audiences(conn: AsyncConnection, channels: set[str]) -> dict[str, list[int] | None]:
    """Who each channel's messages are meant for: a deputy's inbox that deputy, a meeting
    its participants, a delegation its deputies, a unit its accounts; None for a desk and
    the set-up log (staff read them, no one is their addressee)."""
    out: dict[str, list[int] | None] = {}
    want: dict[str, dict[int, str]] = defaultdict(dict)
    for name in channels:
        ch = parse_channel(name)
        if ch.kind == "deputy":
            out[name] = [ch.id]
        elif ch.kind in ("desk", "setup"):
            out[name] = None
        else:
            out[name] = []
            want[ch.kind][ch.id] = name
    queries = {
        "meeting": lambda ids: sa.select(
            meeting_participants.c.meeting_id, meeting_participants.c.user_id
        ).where(meeting_participants.c.meeting_id.in_(ids)),
        "delegation": lambda ids: sa.select(users.c.delegation_id, users.c.id).where(
            users.c.delegation_id.in_(ids), users.c.role == "deputy"
        ),
        "unit": lambda ids: sa.select(users.c.unit_id, users.c.id).where(
            users.c.unit_id.in_(ids), users.c.role == "unit"
        ),
    }
    for kind, ids in want.items():
        for group, uid in await conn.execute(queries[kind](sorted(ids))):
            members = out[ids[int(group)]]
            assert members is not None
            members.append(int(uid))
    for members in out.values():
        if members is not None:
            members.sort()
    return out


async def _first_acks(
    conn: AsyncConnection, wants: list[tuple[str, int, int]]
) -> dict[tuple[str, int, int], Ack | None]:
    """For each (channel, user, n): the user's ack with the smallest seq >= n on the
    channel, or None — two index probes each, many per statement."""
    out: dict[tuple[str, int, int], Ack | None] = dict.fromkeys(wants)
    a, b = receipts.alias("a").c, receipts.alias("b").c
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for ch, u, n in wants:
        groups[(ch, n)].append(u)
    parts: list[sa.Select[Any]] = []
    for (ch, n), us in sorted(groups.items()):
        first = (
            sa.select(sa.func.min(a.seq))
            .where(a.user_id == users.c.id, a.channel == ch, a.kind == "ack", a.seq >= n)
            .correlate(users)
            .scalar_subquery()
        )
        when = (
            sa.select(sa.func.min(b.ts))
            .where(b.user_id == users.c.id, b.channel == ch, b.kind == "ack", b.seq == first)
            .scalar_subquery()
        )
        for i in range(0, len(us), _IN):
            parts.append(
                sa.select(
                    sa.literal(ch, sa.String), users.c.id, sa.literal(n, sa.BigInteger), first, when
                ).where(users.c.id.in_(us[i : i + _IN]))
            )
    for i in range(0, len(parts), _UNION):
        group = parts[i : i + _UNION]
        q = group[0] if len(group) == 1 else sa.union_all(*group)
        for ch, u, n, seq, ts in await conn.execute(q):
            if seq is not None:
                out[(ch, int(u), int(n))] = (int(seq), utc(ts))
    return out


async def _exact(
    conn: AsyncConnection, pairs: list[Pair]
) -> tuple[dict[tuple[str, int, int], datetime], dict[tuple[str, int, int], datetime]]:
    """The first ack and the first read of each user at exactly the page's (channel, seq)."""
    acks: dict[tuple[str, int, int], datetime] = {}
    reads: dict[tuple[str, int, int], datetime] = {}
    r = receipts.c
    by_channel: dict[str, list[int]] = defaultdict(list)
    for ch, sq in pairs:
        by_channel[ch].append(sq)
    # channel = c AND kind IN (ack, read) AND seq IN (…): ranges of ix_receipts_channel_kind_seq
    conds = [
        sa.and_(r.channel == ch, r.kind.in_(("ack", "read")), r.seq.in_(ss[i : i + _IN]))
        for ch, ss in by_channel.items()
        for i in range(0, len(ss), _IN)
    ]
    for i in range(0, len(conds), _UNION):
        rows = await conn.execute(
            sa.select(r.channel, r.seq, r.user_id, r.kind, r.ts)
            .where(sa.or_(*conds[i : i + _UNION]))
            .order_by(r.ts)
        )
        for ch, sq, u, k, ts in rows:
            (acks if k == "ack" else reads).setdefault((ch, int(sq), int(u)), utc(ts))
    return acks, reads


async def _inside(
    conn: AsyncConnection, channel: str, lo: int, hi: int, user_ids: list[int]
) -> dict[int, list[Ack]]:
    """Every user's acks with lo <= seq <= hi on ``channel``, by seq."""
    r = receipts.c
    q = (
        sa.select(r.user_id, r.seq, sa.func.min(r.ts))
        .where(r.channel == channel, r.kind == "ack", r.seq >= lo, r.seq <= hi)
        .group_by(r.user_id, r.seq)
        .order_by(r.user_id, r.seq)
    )
    if len(user_ids) <= _IN:
        q = q.where(r.user_id.in_(user_ids))
    out: dict[int, list[Ack]] = defaultdict(list)
    for u, sq, ts in await conn.execute(q):
        out[int(u)].append((int(sq), utc(ts)))
    return out


async def _known(
    conn: AsyncConnection,
    seqs: dict[str, list[int]],
    people: dict[str, list[int]],
    exact: dict[tuple[str, int], dict[int, datetime]],
) -> dict[tuple[str, int], list[Ack]]:
    """Per (channel, user), acks sorted by seq such that the first ack >= s of every page
    seq s is the first of them >= s: no ack lies between a page seq and its answer."""
    known: dict[tuple[str, int], list[Ack]] = {}
    todo: dict[tuple[str, int], list[int]] = {}
    for ch, ss in seqs.items():
        for u in people[ch]:
            at = exact.get((ch, u), {})
            known[(ch, u)] = sorted(at.items())
            left = [s for s in ss if s not in at] if at else ss
            if left:
                todo[(ch, u)] = left
    # A channel's run of neighbouring seqs: read the acks between its ends at once; past
    # the last one, the first ack after the run.
    after: list[tuple[str, int, int]] = []
    for ch, ss in seqs.items():
        lo, hi = ss[0], ss[-1]
        mine = [u for (c, u) in todo if c == ch]
        if len(ss) < 2 or hi - lo >= 4 * len(ss) or not mine:
            continue
        inside = await _inside(conn, ch, lo, hi, mine)
        for u in mine:
            acks = inside.get(u)
            if acks:
                known[(ch, u)] = sorted({*known[(ch, u)], *acks})
            left = todo.pop((ch, u))
            if not acks or acks[-1][0] < left[-1]:
                after.append((ch, u, hi + 1))
    for (ch, u, _), ack in (await _first_acks(conn, after)).items():
        if ack is not None:
            known[(ch, u)].append(ack)
    # The other (sparse) seqs, round by round: a probe at a user's lowest unanswered seq
    # answers every seq up to the ack it finds.
    while todo:
        found = await _first_acks(conn, [(ch, u, ss[0]) for (ch, u), ss in todo.items()])
        nxt: dict[tuple[str, int], list[int]] = {}
        for (ch, u), ss in todo.items():
            ack = found[(ch, u, ss[0])]
            if ack is None:
                continue
            known[(ch, u)] = sorted({*known[(ch, u)], ack})
            rest = [s for s in ss if s > ack[0]]
            if rest:
                nxt[(ch, u)] = rest
        todo = nxt
    return known


async def receipts_of(
    conn: AsyncConnection, wanted: list[tuple[str, int, int]]
) -> dict[Pair, tuple[int | None, list[dict[str, Any]]]]:
    """For messages ``(channel, seq, sender id)``: the number of intended recipients (None
    if the channel has no fixed audience, less the sender) and, per user other than the
    sender who has it or read it, ``{"user", "delivered_at", "read_at"}``, by user id."""
    seqs: dict[str, list[int]] = defaultdict(list)
    sender: dict[Pair, int] = {}
    for ch, sq, by in wanted:
        seqs[ch].append(sq)
        sender[(ch, sq)] = by
    for ss in seqs.values():
        ss.sort()
    audience = await audiences(conn, set(seqs))
    acks, reads = await _exact(conn, list(sender))
    exact: dict[tuple[str, int], dict[int, datetime]] = defaultdict(dict)
    for (ch, sq, u), ts in acks.items():
        exact[(ch, u)][sq] = ts
    read_by: dict[tuple[str, int], dict[int, datetime]] = defaultdict(dict)
    for (ch, sq, u), ts in reads.items():
        read_by[(ch, u)][sq] = ts
    people: dict[str, list[int]] = {}
    for ch in seqs:
        seen = {u for (c, _, u) in acks if c == ch} | {u for (c, _, u) in reads if c == ch}
        people[ch] = sorted(set(audience[ch] or ()) | seen)
    known = await _known(conn, seqs, people, exact)
    having = {u for (_, u), a in known.items() if a} | {u for (_, u) in read_by}
    names: dict[int, dict[str, Any]] = {}
    ids = sorted(having)
    for i in range(0, len(ids), _IN):
        for uid, name in await conn.execute(
            sa.select(users.c.id, users.c.name).where(users.c.id.in_(ids[i : i + _IN]))
        ):
            names[int(uid)] = {"id": int(uid), "name": name}
    stamps: dict[datetime, str] = {}

    def stamp(ts: datetime | None) -> str | None:
        if ts is None:
            return None
        text = stamps.get(ts)
        if text is None:
            text = stamps[ts] = iso(ts)
        return text

    out: dict[Pair, tuple[int | None, list[dict[str, Any]]]] = {}
    for ch, ss in seqs.items():
        members = audience[ch]
        lists: list[list[dict[str, Any]]] = [[] for _ in ss]
        for u in people[ch]:
            mine = known.get((ch, u)) or []
            read_at = read_by.get((ch, u)) or {}
            if not mine and not read_at:
                continue
            who = names.get(u) or {"id": u, "name": ""}
            j = 0  # walk the page's seqs and the user's acks together
            for k, s in enumerate(ss):
                while j < len(mine) and mine[j][0] < s:
                    j += 1
                a = mine[j][1] if j < len(mine) else None
                r = read_at.get(s)
                if (a is None and r is None) or u == sender[(ch, s)]:
                    continue  # the sender's own copy is no delivery of what they sent
                delivered = r if a is None or (r is not None and r < a) else a
                lists[k].append(
                    {"user": who, "delivered_at": stamp(delivered), "read_at": stamp(r)}
                )
        for k, s in enumerate(ss):
            n = None if members is None else len(members) - (sender[(ch, s)] in members)
            out[(ch, s)] = (n, lists[k])
    return out
