"""The archive: every stored message, found by what a supervisor asks, with its receipts.

Filters (all optional, combined with AND): ``channel``; ``kind``; ``sender`` (user id);
``unit`` (the channel ``unit:<id>``); ``deputy`` (the inbox ``deputy:<id>``, or sent by
that deputy); ``meeting`` (``meeting:<id>`` and its desk ``desk:<id>``); ``since`` /
``until`` (``since <= ts < until``); ``q`` (text contained in the body's JSON text,
case-insensitive for Latin letters).

Pages are in the stable order of message ids (the order the hub stored them), ascending
or descending, and continue with an opaque cursor: a page never repeats or skips a
message, however many are stored meanwhile.

Receipts: for each message, who has it and who read it, and when. A user *read* message
N when they sent ``read`` for exactly (channel, N). A user *has* it (delivered) from their
first ``ack`` with seq >= N on that channel (an ``ack`` says "this device holds everything
up to seq"), or from reading it if that came first. Clients ack in seq order, so the
first such ack is the ack with the smallest seq >= N; it is found with one index probe
(``ix_receipts_user_seq``) per user and page, never by reading a channel's acks.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels import parse_channel
from hub.errors import BadRequest
from hub.protocol import iso
from hub.store.log import StoredMessage
from hub.store.schema import meeting_participants, messages, receipts, users

# Indexes the archive relies on (created by migration 0004). On PostgreSQL the migration
# also adds a trigram index on the body (pg_trgm) for the text filter.
sa.Index("ix_messages_channel_id", messages.c.channel, messages.c.id)
sa.Index("ix_messages_kind_id", messages.c.kind, messages.c.id)
sa.Index("ix_messages_sender_id", messages.c.sender_id, messages.c.id)
sa.Index(
    "ix_receipts_user_seq", receipts.c.user_id, receipts.c.channel, receipts.c.kind, receipts.c.seq
)

MAX_PAGE = 200
NONE = 2**63  # a probe found no ack at or after its seq (so none after any later seq)
_IN = 500  # ids per IN list

COLUMNS = (
    messages.c.id,
    messages.c.channel,
    messages.c.seq,
    messages.c.kind,
    messages.c.sender_id,
    messages.c.sender_name,
    messages.c.sender_role,
    messages.c.body,
    messages.c.ts,
    messages.c.hash,
)


def utc(ts: datetime) -> datetime:
    """A timestamp read back from the database as aware UTC (SQLite drops the zone)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def parse_when(raw: str, name: str, tz: tzinfo) -> datetime:
    """``2026-03-01`` (local midnight in the congress's zone) or an ISO timestamp with a zone."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tz).astimezone(UTC)
        ts = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"`{name}` must be a date (2026-03-01) or a timestamp with a zone "
            "(2026-03-01T09:00:00+08:00)"
        ) from None
    if ts.tzinfo is None:
        raise BadRequest(f"`{name}` needs a time zone, e.g. 2026-03-01T09:00:00+08:00")
    return ts.astimezone(UTC)


def _id(raw: str, name: str) -> int:
    try:
        v = int(raw)
    except ValueError:
        raise BadRequest(f"`{name}` must be a positive integer id") from None
    if v < 1:
        raise BadRequest(f"`{name}` must be a positive integer id")
    return v


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    kind: str | None = None
    sender: int | None = None
    unit: int | None = None
    deputy: int | None = None
    meeting: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None

    @classmethod
    def parse(cls, params: Any, tz: tzinfo) -> Filters:
        """From query parameters (a mapping of str to str)."""

        def get(name: str) -> str | None:
            v = params.get(name)
            return v if v not in (None, "") else None

        channel = get("channel")
        kind = get("kind")
        q = get("q")
        if kind is not None and len(kind) > 64:
            raise BadRequest("`kind` is at most 64 characters")
        if q is not None and len(q) > 200:
            raise BadRequest("`q` is at most 200 characters")
        raw = {n: get(n) for n in ("sender", "unit", "deputy", "meeting", "since", "until")}
        return cls(
            channel=parse_channel(channel).name if channel is not None else None,
            kind=kind,
            sender=_id(raw["sender"], "sender") if raw["sender"] else None,
            unit=_id(raw["unit"], "unit") if raw["unit"] else None,
            deputy=_id(raw["deputy"], "deputy") if raw["deputy"] else None,
            meeting=_id(raw["meeting"], "meeting") if raw["meeting"] else None,
            since=parse_when(raw["since"], "since", tz) if raw["since"] else None,
            until=parse_when(raw["until"], "until", tz) if raw["until"] else None,
            q=q,
        )

    def where(self) -> list[sa.ColumnElement[bool]]:
        m = messages.c
        out: list[sa.ColumnElement[bool]] = []
        if self.channel is not None:
            out.append(m.channel == self.channel)
        if self.kind is not None:
            out.append(m.kind == self.kind)
        if self.sender is not None:
            out.append(m.sender_id == self.sender)
        if self.unit is not None:
            out.append(m.channel == f"unit:{self.unit}")
        if self.deputy is not None:
            out.append(sa.or_(m.channel == f"deputy:{self.deputy}", m.sender_id == self.deputy))
        if self.meeting is not None:
            out.append(m.channel.in_([f"meeting:{self.meeting}", f"desk:{self.meeting}"]))
        if self.since is not None:
            out.append(m.ts >= self.since)
        if self.until is not None:
            out.append(m.ts < self.until)
        if self.q is not None:
            escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            out.append(m.body.ilike(f"%{escaped}%", escape="\\"))
        return out


def encode_cursor(last_id: int, desc: bool) -> str:
    raw = orjson.dumps({"after": last_id, "desc": desc})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, desc: bool) -> int:
    try:
        d = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, was_desc = d["after"], d["desc"]
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest("`cursor` is not one this archive gave out: start without it") from None
    if not isinstance(after, int) or was_desc is not desc:
        raise BadRequest("`cursor` belongs to a listing in the other `order`")
    return after


def ordered(q: sa.Select[Any], after: int | None, desc: bool) -> sa.Select[Any]:
    """Keyset pagination by message id."""
    if after is not None:
        q = q.where(messages.c.id < after if desc else messages.c.id > after)
    return q.order_by(messages.c.id.desc() if desc else messages.c.id)


def stored(r: Any) -> StoredMessage:
    return StoredMessage(
        r.id,
        r.channel,
        r.seq,
        r.kind,
        r.sender_id,
        r.sender_name,
        r.sender_role,
        r.body,
        utc(r.ts),
        r.hash,
    )


@dataclass
class Page:
    messages: list[dict[str, Any]]
    next: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "next": self.next}


async def search(
    conn: AsyncConnection,
    f: Filters,
    limit: int = 50,
    cursor: str | None = None,
    desc: bool = False,
    with_receipts: bool = True,
) -> Page:
    """One page of messages matching ``f``, each with its receipts."""
    after = decode_cursor(cursor, desc) if cursor else None
    q = ordered(sa.select(*COLUMNS).where(*f.where()), after, desc).limit(limit + 1)
    rows = (await conn.execute(q)).all()
    more = len(rows) > limit
    msgs = [stored(r) for r in rows[:limit]]
    out = [m.as_dict() for m in msgs]
    if with_receipts and msgs:
        got = await receipts_of(conn, [(m.channel, m.seq, m.sender_id) for m in msgs])
        for d, m in zip(out, msgs, strict=True):
            recipients, people = got[(m.channel, m.seq)]
            d["recipients"] = recipients
            d["receipts"] = people
    nxt = encode_cursor(msgs[-1].id, desc) if more and msgs else None
    return Page(out, nxt)


# -- receipts -----------------------------------------------------------------------


async def recipients_of(conn: AsyncConnection, channel: str) -> list[int] | None:
    """Who a channel's messages are meant for (None for a desk: the secretariat at large)."""
    ch = parse_channel(channel)
    if ch.kind == "deputy":
        return [ch.id]
    if ch.kind == "meeting":
        q = sa.select(meeting_participants.c.user_id).where(
            meeting_participants.c.meeting_id == ch.id
        )
    elif ch.kind == "delegation":
        q = sa.select(users.c.id).where(users.c.delegation_id == ch.id, users.c.role == "deputy")
    elif ch.kind == "unit":
        q = sa.select(users.c.id).where(users.c.unit_id == ch.id, users.c.role == "unit")
    else:
        return None
    return sorted(int(u) for u in (await conn.execute(q)).scalars())


async def _first_acks(
    conn: AsyncConnection, channel: str, user_ids: list[int], n: int
) -> dict[int, int | None]:
    """For each user, the smallest seq >= ``n`` they acked on ``channel`` (None: none)."""
    out: dict[int, int | None] = {}
    for i in range(0, len(user_ids), _IN):
        chunk = user_ids[i : i + _IN]
        probe = (
            sa.select(sa.func.min(receipts.c.seq))
            .where(
                receipts.c.user_id == users.c.id,
                receipts.c.channel == channel,
                receipts.c.kind == "ack",
                receipts.c.seq >= n,
            )
            .scalar_subquery()
        )
        rows = await conn.execute(sa.select(users.c.id, probe).where(users.c.id.in_(chunk)))
        out.update({int(u): (None if s is None else int(s)) for u, s in rows})
    for u in user_ids:  # users without an account row (the system) acked nothing
        out.setdefault(u, None)
    return out


async def receipts_of(
    conn: AsyncConnection, wanted: list[tuple[str, int, int]]
) -> dict[tuple[str, int], tuple[int | None, list[dict[str, Any]]]]:
    """Receipts of messages ``(channel, seq, sender id)``: per message the number of
    intended recipients (None if the channel has no fixed audience) and, per user who has
    it or read it, ``{"user", "delivered_at", "read_at"}``."""
    by_channel: dict[str, dict[int, int]] = defaultdict(dict)
    for ch, seq, sender in wanted:
        by_channel[ch][seq] = sender
    result: dict[tuple[str, int], tuple[int | None, list[dict[str, Any]]]] = {}
    everyone: set[int] = set()
    pending: list[tuple[str, int, dict[int, tuple[datetime | None, datetime | None]]]] = []
    for ch, seqs_senders in by_channel.items():
        seqs = sorted(seqs_senders)
        audience = await recipients_of(conn, ch)
        # Exact receipts at the page's seqs: every read, and the acks of clients that ack
        # each message as it arrives.
        exact_ack: dict[tuple[int, int], datetime] = {}
        read: dict[tuple[int, int], datetime] = {}
        for i in range(0, len(seqs), _IN):
            rows = await conn.execute(
                sa.select(receipts.c.user_id, receipts.c.seq, receipts.c.kind, receipts.c.ts)
                .where(receipts.c.channel == ch, receipts.c.seq.in_(seqs[i : i + _IN]))
                .order_by(receipts.c.ts)
            )
            for u, s, k, ts in rows:
                target = exact_ack if k == "ack" else read
                target.setdefault((int(u), int(s)), utc(ts))
        candidates = sorted(set(audience or ()) | {u for u, _ in exact_ack} | {u for u, _ in read})
        # The first ack >= s of each (user, page seq s), walking the seqs upwards: an
        # exact ack answers at once, and one probe answers every seq up to the ack it
        # finds (there is no ack in between, or the probe would have found it).
        first: dict[tuple[int, int], int] = {}
        cur: dict[int, int] = {}  # user -> the ack the last probe found (NONE: none)
        for s in seqs:
            need = [u for u in candidates if (u, s) not in exact_ack and cur.get(u, 0) < s]
            if need:
                found = await _first_acks(conn, ch, need, s)
                cur.update({u: NONE if a is None else a for u, a in found.items()})
            for u in candidates:
                if (u, s) in exact_ack:
                    first[(u, s)] = s
                elif cur.get(u, NONE) != NONE and cur[u] >= s:
                    first[(u, s)] = cur[u]
        ack_ts = dict(exact_ack)
        pairs = sorted({(u, a) for (u, _), a in first.items()} - set(ack_ts))
        for i in range(0, len(pairs), _IN):
            firsts = await conn.execute(
                sa.select(receipts.c.user_id, receipts.c.seq, sa.func.min(receipts.c.ts))
                .where(
                    receipts.c.channel == ch,
                    receipts.c.kind == "ack",
                    sa.tuple_(receipts.c.user_id, receipts.c.seq).in_(pairs[i : i + _IN]),
                )
                .group_by(receipts.c.user_id, receipts.c.seq)
            )
            ack_ts.update({(int(u), int(a)): utc(ts) for u, a, ts in firsts})
        for s in seqs:
            people: dict[int, tuple[datetime | None, datetime | None]] = {}
            for u in candidates:
                a = first.get((u, s))
                delivered = ack_ts.get((u, a)) if a is not None else None
                r = read.get((u, s))
                if r is not None and (delivered is None or r < delivered):
                    delivered = r
                if delivered is not None:
                    people[u] = (delivered, r)
                    everyone.add(u)
            pending.append((ch, s, people))
            sender = seqs_senders[s]
            n = None if audience is None else len([u for u in audience if u != sender])
            result[(ch, s)] = (n, [])
    names = await _names(conn, everyone)
    for ch, s, people in pending:
        result[(ch, s)][1].extend(
            {
                "user": {"id": u, "name": names.get(u, "")},
                "delivered_at": iso(d) if d is not None else None,
                "read_at": iso(r) if r is not None else None,
            }
            for u, (d, r) in sorted(people.items())
        )
    return result


async def _names(conn: AsyncConnection, ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ordered_ids = sorted(ids)
    for i in range(0, len(ordered_ids), _IN):
        rows = await conn.execute(
            sa.select(users.c.id, users.c.name).where(users.c.id.in_(ordered_ids[i : i + _IN]))
        )
        out.update({int(r.id): r.name for r in rows})
    return out
