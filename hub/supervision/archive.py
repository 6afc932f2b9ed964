"""The archive: every stored message, found by what a supervisor asks, with its receipts.

Filters (all optional, combined with AND): ``channel``; ``kind``; ``sender`` (user id);
``unit`` (the channel ``unit:<id>``); ``deputy`` (the inbox ``deputy:<id>``, or sent by
that deputy); ``delegation`` (its channel ``delegation:<id>``, its deputies' inboxes, or
sent by one of its deputies); ``meeting`` (``meeting:<id>`` and its desk ``desk:<id>``); ``since`` /
``until`` (``since <= ts < until``); ``q`` (text contained in the body's JSON text,
case-insensitive for Latin letters).

Pages are in the stable order of message ids (the order the hub stored them), ascending
or descending, and continue with an opaque cursor: a page never repeats or skips a
message, however many are stored meanwhile.

Names: each message carries its channel by name (``place``: the meeting's title, the
delegation's, deputy's or unit's name), resolved in one query per table for the page.

Receipts: for each message, who has it and who read it, and when
(``hub.supervision.delivery``). A message about a notice (``notice``, ``notice.*``) also
carries how that notice stands: corrected or withdrawn, and its figures counted by the
notice's tally (``hub.session.notices.standing``), so the archive and the tally never show
two numbers for one notice.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal

import msgspec
import orjson
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest
from hub.params import check_id, parse_when
from hub.protocol import Message
from hub.session.channels import parse_congress_channel
from hub.session.notices import NoticeStanding, standing
from hub.session.schema import delegations, meetings, units, users
from hub.shapes import NO_NUL, Body, Id, Named, Shape, Timestamp
from hub.store.log import COLUMNS, stored_message
from hub.store.schema import messages, receipts
from hub.supervision.delivery import receipts_of

# Indexes the archive relies on (created by migration 0004). On PostgreSQL the migration
# also adds a trigram index on the body (pg_trgm) for the text filter.
sa.Index("ix_messages_channel_id", messages.c.channel, messages.c.id)
sa.Index("ix_messages_kind_id", messages.c.kind, messages.c.id)
sa.Index("ix_messages_sender_id", messages.c.sender_id, messages.c.id)
sa.Index(
    "ix_receipts_user_seq", receipts.c.user_id, receipts.c.channel, receipts.c.kind, receipts.c.seq
)

MAX_PAGE = 200

When = Annotated[str, Meta(max_length=64, pattern=NO_NUL)]


class FilterQuery(Body):
    """The archive's filters as the query gives them (all optional, combined with AND)."""

    channel: (
        Annotated[str, Meta(max_length=64, description="one channel, e.g. meeting:1")] | None
    ) = None
    kind: (
        Annotated[str, Meta(max_length=64, pattern=NO_NUL, description="message kind, e.g. notice")]
        | None
    ) = None
    sender: Annotated[Id, Meta(description="sender's user id")] | None = None
    unit: Annotated[Id, Meta(description="the unit's channel unit:<id>")] | None = None
    deputy: (
        Annotated[Id, Meta(description="the deputy's inbox deputy:<id>, or sent by the deputy")]
        | None
    ) = None
    delegation: (
        Annotated[
            Id,
            Meta(
                description="the delegation's channel delegation:<id>, its deputies' "
                "inboxes, or sent by them"
            ),
        ]
        | None
    ) = None
    meeting: Annotated[Id, Meta(description="meeting:<id> and desk:<id>")] | None = None
    since: (
        Annotated[
            When, Meta(description="from (inclusive): 2026-03-01 or an ISO timestamp with zone")
        ]
        | None
    ) = None
    until: (
        Annotated[
            When, Meta(description="to (exclusive): 2026-03-02 or an ISO timestamp with zone")
        ]
        | None
    ) = None
    q: (
        Annotated[
            str, Meta(max_length=200, pattern=NO_NUL, description="text contained in the body")
        ]
        | None
    ) = None


class MessagesQuery(FilterQuery):
    """``GET /api/archive/messages``: the filters, then the page."""

    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE, description="page size; default 50")] = 50
    cursor: (
        Annotated[str, Meta(max_length=200, description="`next` of the previous page")] | None
    ) = None
    order: Annotated[
        Literal["asc", "desc"], Meta(description="by message id; asc (default) is oldest first")
    ] = "asc"
    receipts: Annotated[Literal["0", "1"], Meta(description="0 leaves the receipts out")] = "1"


class Receipt(Shape):
    user: Named
    delivered_at: Timestamp | None
    read_at: Timestamp | None


ChannelKind = Literal["meeting", "desk", "delegation", "deputy", "unit", "setup"]


class Place(Shape):
    """A message's channel by name: the meeting (its title; ``desk`` is the secretariat's
    desk of that meeting), the delegation, the deputy or the unit; ``setup`` is the
    congress's set-up log (``setup:1``), named by the pages, ``name`` empty."""

    kind: ChannelKind
    id: int
    name: Annotated[str | None, Meta(description="None: the row is gone")]


class ArchivedMessage(Message):
    """A stored message with its channel by name and, unless left out, who has and who
    read it."""

    place: Annotated[
        Place | None, Meta(description="the channel by name (None: not a congress channel)")
    ]

    recipients: Annotated[int | None, Meta(description="how many should have it")] = None
    receipts: Annotated[
        list[Receipt], Meta(description="of everyone but the sender who has it or read it")
    ] = msgspec.field(default_factory=list)
    notice: (
        Annotated[
            NoticeStanding,
            Meta(description="a message about a notice (with receipts): the notice's standing"),
        ]
        | None
    ) = None


class ArchivePage(Shape):
    messages: list[ArchivedMessage]
    next: Annotated[str | None, Meta(description="the cursor of the next page")]


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    kind: str | None = None
    sender: int | None = None
    unit: int | None = None
    deputy: int | None = None
    delegation: int | None = None
    meeting: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None

    @classmethod
    def of(cls, q: FilterQuery, tz: tzinfo) -> Filters:
        """From the query's filters; a bare date starts at midnight in ``tz``."""
        return cls(
            channel=None if q.channel is None else parse_congress_channel(q.channel).name,
            kind=q.kind,
            sender=q.sender,
            unit=q.unit,
            deputy=q.deputy,
            delegation=q.delegation,
            meeting=q.meeting,
            since=None if q.since is None else parse_when(q.since, "since", tz),
            until=None if q.until is None else parse_when(q.until, "until", tz),
            q=q.q,
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
        if self.delegation is not None:
            members = self.delegation_deputies()
            inboxes = sa.select(sa.literal("deputy:") + sa.cast(users.c.id, sa.String)).where(
                users.c.role == "deputy", users.c.delegation_id == self.delegation
            )
            out.append(
                sa.or_(
                    m.channel == f"delegation:{self.delegation}",
                    m.channel.in_(inboxes),
                    m.sender_id.in_(members),
                )
            )
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

    def delegation_deputies(self) -> sa.Select[Any]:
        """The ids of the deputies of the ``delegation`` filter, as a subquery."""
        return sa.select(users.c.id).where(
            users.c.role == "deputy", users.c.delegation_id == self.delegation
        )


# How far out of time order a message may have been stored and still be found by a time
# filter: see id_window.
TIME_MARGIN = 10_000


async def id_window(conn: AsyncConnection, f: Filters) -> list[sa.ColumnElement[bool]]:
    """Id bounds for ``f``'s time range, added to its ``ts`` conditions.

    A message's id and its time are both taken when it is stored, so they grow together;
    the database's planner does not know that, and walks the ids from the first message
    to find the first one after ``since``. The bounds say where to start: the smallest id
    among the first :data:`TIME_MARGIN` messages from ``since`` on (by time), the largest
    among the last ones before ``until`` — so only a message stored more than that many
    messages out of time order (node clocks minutes apart) could be missed.
    """
    m = messages.c
    out: list[sa.ColumnElement[bool]] = []
    if f.since is not None:
        first = sa.select(m.id).where(m.ts >= f.since).order_by(m.ts).limit(TIME_MARGIN)
        lo = (await conn.execute(sa.select(sa.func.min(first.subquery().c.id)))).scalar()
        out.append(m.id >= lo if lo is not None else sa.false())
    if f.until is not None:
        last = sa.select(m.id).where(m.ts < f.until).order_by(m.ts.desc()).limit(TIME_MARGIN)
        hi = (await conn.execute(sa.select(sa.func.max(last.subquery().c.id)))).scalar()
        out.append(m.id <= hi if hi is not None else sa.false())
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
    if was_desc is not desc:
        raise BadRequest("`cursor` belongs to a listing in the other `order`")
    return check_id(after, "cursor")


def ordered(q: sa.Select[Any], after: int | None, desc: bool) -> sa.Select[Any]:
    """Keyset pagination by message id."""
    if after is not None:
        q = q.where(messages.c.id < after if desc else messages.c.id > after)
    return q.order_by(messages.c.id.desc() if desc else messages.c.id)


# Where each kind of channel finds its name.
NAME_OF: dict[str, sa.Column[Any]] = {
    "meeting": meetings.c.title,
    "desk": meetings.c.title,
    "delegation": delegations.c.name,
    "deputy": users.c.name,
    "unit": units.c.name,
}


async def places(conn: AsyncConnection, channels: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each channel by name (:class:`Place`): one query per table, whatever the count."""
    parsed: dict[str, tuple[str, int]] = {}
    wanted: dict[str, set[int]] = {}  # table name -> ids
    fixed: dict[str, dict[str, Any]] = {}
    for name in set(channels):
        kind, _, raw = name.partition(":")
        if kind == "setup" and raw.isascii() and raw.isdigit():
            fixed[name] = {"kind": kind, "id": int(raw), "name": ""}
        elif kind in NAME_OF and raw.isascii() and raw.isdigit():
            parsed[name] = (kind, int(raw))
            wanted.setdefault(NAME_OF[kind].table.name, set()).add(int(raw))
    found: dict[tuple[str, int], str] = {}
    for col in {c.table.name: c for c in NAME_OF.values()}.values():
        ids = wanted.get(col.table.name)
        if ids:
            table = col.table
            rows = await conn.execute(sa.select(table.c.id, col).where(table.c.id.in_(sorted(ids))))
            found.update({(table.name, int(r[0])): r[1] for r in rows})
    return fixed | {
        ch: {"kind": kind, "id": i, "name": found.get((NAME_OF[kind].table.name, i))}
        for ch, (kind, i) in parsed.items()
    }


class Person(Shape):
    """An account as the archive's sender filter offers it: by name, with its role and its
    unit's or delegation's name."""

    id: int
    name: str
    role: str
    unit: str | None
    delegation: str | None


class People(Shape):
    people: list[Person]


async def people(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every account, by role then name (no phone, nothing but names): what the sender
    filter picks from by name. One query; an account per row, a few hundred in a city."""
    rows = await conn.execute(
        sa.select(users.c.id, users.c.name, users.c.role, units.c.name, delegations.c.name)
        .select_from(
            users.outerjoin(units, units.c.id == users.c.unit_id).outerjoin(
                delegations, delegations.c.id == users.c.delegation_id
            )
        )
        .order_by(users.c.role, users.c.name, users.c.id)
    )
    return [
        {"id": int(r[0]), "name": r[1], "role": r[2], "unit": r[3], "delegation": r[4]}
        for r in rows
    ]


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
    where = [*f.where(), *await id_window(conn, f)]
    q = ordered(sa.select(*COLUMNS).where(*where), after, desc).limit(limit + 1)
    rows = (await conn.execute(q)).all()
    more = len(rows) > limit
    msgs = [stored_message(r) for r in rows[:limit]]
    out = [m.as_dict() for m in msgs]
    named = await places(conn, [m.channel for m in msgs])
    for d in out:
        d["place"] = named.get(d["channel"])
    if with_receipts and msgs:
        got = await receipts_of(conn, [(m.channel, m.seq, m.sender_id) for m in msgs])
        for d, m in zip(out, msgs, strict=True):
            recipients, people = got[(m.channel, m.seq)]
            d["recipients"] = recipients
            d["receipts"] = people
    about = [
        (d["body"]["notice"], d)
        for d in out
        if d["kind"].split(".", 1)[0] == "notice"
        and isinstance(d["body"], dict)
        and type(d["body"].get("notice")) is int
    ]
    if about and with_receipts:
        notes = await standing(conn, [nid for nid, _ in about])
        for nid, d in about:
            if nid in notes:
                d["notice"] = notes[nid]
    nxt = encode_cursor(msgs[-1].id, desc) if more and msgs else None
    return Page(out, nxt)
