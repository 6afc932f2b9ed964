"""Notices (会议通知) with delivery and read receipts, tallied live for the secretariat.

Sending a notice stores a ``notices`` row and one ``notice`` message per target channel:
``meeting:<id>`` for the whole meeting, ``delegation:<id>`` per listed delegation,
``deputy:<id>`` per listed deputy. For each addressee a ``notice_deliveries`` row records
the (channel, seq) where that deputy gets it. Then, from the core ``receipts`` table:

* **delivered**: the deputy acked that channel up to a seq >= the delivery's seq (an
  ``ack`` says "this device holds every message up to seq"), or read it;
* **read**: the deputy sent ``read`` for exactly that seq. Confirming a
  confirmation-required notice *is* sending ``read`` for it: the client shows a confirm
  button and sends ``read`` when it is pressed (and not on merely displaying it).

A re-push sends the notice again (same ``notice`` id, ``"repush": true``) to the inbox
``deputy:<id>`` of each addressee who has neither; that new (channel, seq) is another
delivery of the same notice, so a receipt of either counts.

The live tally costs no message per receipt. :class:`NoticeTally` (one per node) hears
each stored batch of receipts (``ReceiptWriter.listeners``), finds the notices whose
delivered or read count can change, and publishes at most one ``notice.tally`` per notice
per ``HUB_TALLY_INTERVAL`` on ``desk:<meeting>``. Each tally is computed from the
receipts under the notice's row lock and only published when a count changed, so the
last tally on the desk is the true state even with several nodes. ``GET
/api/notices/{id}/tally`` computes the exact numbers on demand.

The follow-up (:func:`follow_up`) is that tally's missing and delivered-but-unread people
grouped by delegation; its call list (:func:`call_list`) adds the roster's phone numbers,
for the secretariat and admins only. Neither writes anything: no phone number is ever
appended to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
import orjson
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.loops import run_forever
from hub.protocol import iso_or_none, utc
from hub.reach.dispatch import queue, reach_of, rounds_of, summary
from hub.session.channels import READERS_OF_ALL
from hub.session.common import (
    SYSTEM,
    meeting_deputies,
    meeting_row,
    person,
    require_role,
)
from hub.session.members import Member
from hub.session.schema import delegations, users
from hub.shapes import (
    Body,
    Id,
    MaybeShortText,
    MaybeText,
    Named,
    Shape,
    ShortText,
    Timestamp,
    Title,
)
from hub.store.engine import in_chunks
from hub.store.schema import BigId, metadata, receipts

if TYPE_CHECKING:
    from hub.node import Node
    from hub.reach.dispatch import Dispatcher


MAX_DEPUTIES = 5000
TALLY_NAMES = 50  # names of missing deputies carried in a notice.tally message
CHANGE_KINDS = {"correct": "notice.corrected", "withdraw": "notice.withdrawn"}
"""The message each change of a sent notice appends."""
WITHDRAWN = "notice_withdrawn"
"""The conflict's reason: a withdrawn notice is not changed or sent again."""

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meeting_id", BigId, sa.ForeignKey("meetings.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("confirm", sa.Boolean, nullable=False, server_default=sa.false()),
    # JSON {"meeting": bool, "delegations": [ids], "deputies": [ids]}: what was asked
    sa.Column("audience", sa.Text, nullable=False),
    sa.Column("sent_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("addressees", sa.Integer, nullable=False),
    # the counts of the last published tally (kept so a tally is only sent on change)
    sa.Column("delivered_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("read_count", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_notices_meeting", "meeting_id", "id"),
)

notice_deliveries = sa.Table(
    "notice_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("notice_id", BigId, sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # sent | repush
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    # when the tally last saw this delivery delivered / read (a cache of the receipts,
    # used to find which notices a new receipt can change; the receipts are the record)
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_notice_deliveries_notice", "notice_id", "user_id"),
    sa.Index("ix_notice_deliveries_channel", "channel", "user_id", "seq"),
)

notice_changes = sa.Table(
    "notice_changes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("notice_id", BigId, sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),  # correct | withdraw
    # a correction's whole new title and text; null for a withdrawal
    sa.Column("title", sa.String(300), nullable=True),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("changed_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_notice_changes_notice", "notice_id", "id"),
)
"""Append-only: a notice's row keeps what was sent; each correction or withdrawal is a new
row here (and a message on every channel the notice went to). The notice as it stands is
its row with the last correction applied (:class:`Version`)."""


# -- the shapes of what the API takes and sends about notices -------------------------------

Ids = Annotated[list[Id], Meta(max_length=MAX_DEPUTIES)]


class NoticeInput(Body):
    """A notice as the secretariat sends it: to the whole meeting (neither list), or to
    the deputies of ``delegations`` and the listed ``deputies``."""

    title: Title
    text: MaybeText | None = None
    urgent: bool | None = None
    confirm: Annotated[bool, Meta(description="the deputy confirms by sending `read`")] | None = (
        None
    )
    delegations: Annotated[Ids, Meta(description="delegation ids")] | None = None
    deputies: (
        Annotated[Ids, Meta(description="deputy user ids (each gets it on deputy:<id>)")] | None
    ) = None


class RepushInput(Body):
    """Whom to send a notice again: those with neither receipt (the default), or those who
    have not read it."""

    who: Literal["missing", "unread"] | None = None


class CorrectionInput(Body):
    """A sent notice's corrected title and text (each left out stays as it stands), and
    why."""

    title: Title | None = None
    text: MaybeText | None = None
    reason: MaybeShortText | None = None


class WithdrawalInput(Body):
    """Why a sent notice is withdrawn (shown to every addressee)."""

    reason: ShortText


class Audience(Shape):
    meeting: bool
    delegations: list[int]
    deputies: list[int]


class Titled(Shape):
    title: str
    text: str


class Notice(Shape):
    """A notice, with what the caller may know of its receipts."""

    id: int
    meeting_id: int
    title: str
    text: str
    urgent: bool
    confirm: bool
    audience: Audience
    created_at: Timestamp | None
    addressees: int
    status: Annotated[
        Literal["sent", "corrected", "withdrawn"],
        Meta(
            description="withdrawn after any correction; corrected: title and text are the last correction's"
        ),
    ] = "sent"
    changed_at: (
        Annotated[Timestamp, Meta(description="when it was last corrected, or withdrawn")] | None
    ) = None
    reason: (
        Annotated[str, Meta(description="the last correction's or the withdrawal's reason")] | None
    ) = None
    original: (
        Annotated[Titled, Meta(description="what was sent, once corrected or withdrawn")] | None
    ) = None
    delivered: (
        Annotated[int, Meta(description="staff only: delivered count of the last tally")] | None
    ) = None
    read: Annotated[int, Meta(description="staff only: read count of the last tally")] | None = None
    delivered_at: (
        Annotated[
            Timestamp,
            Meta(
                description="a deputy's list only: when the notice reached one of their "
                "devices (an ack at or past it, or a read); null when not yet"
            ),
        ]
        | None
    ) = None
    read_at: (
        Annotated[
            Timestamp,
            Meta(
                description="a deputy's list only: when they read (or confirmed) it; null when "
                "not yet"
            ),
        ]
        | None
    ) = None


class Notices(Shape):
    notices: list[Notice]


class Reach(Shape):
    """Beyond the WebSocket (docs/reach.md): ``live`` had a page open, ``unreached`` had
    none and no registered device; one more key names the channel (``webpush``, or ``log``
    when none is configured) with its counts."""

    live: int
    unreached: int


class Published(Shape):
    channel: str
    seq: int


class NoticeSent(Notice, kw_only=True):
    """A notice just sent: the channels it was published on, and whom it reached."""

    channels: list[Published]
    reach: Reach | None = None


class ReachStates(Shape):
    accepted: Annotated[int, Meta(description="the push service took it")]
    gone: Annotated[int, Meta(description="the device's subscription had expired (removed)")]
    failed: Annotated[int, Meta(description="refused, or still failing after every retry")]
    pending: Annotated[int, Meta(description="still being retried")]


class PersonReach(Shape):
    """A person's last reach beyond the WebSocket."""

    channel: str | None = None
    state: Literal["pending", "accepted", "gone", "failed"] | None = None
    attempts: int | None = None


class TallyPerson(Shape):
    id: int
    name: str
    delegation_id: int | None
    delivered_at: Timestamp | None
    read_at: Timestamp | None
    reach: Annotated[PersonReach | None, Meta(description="the latest of `channels`")] = None
    channels: Annotated[
        list[PersonReach], Meta(description="the last reach on each channel, oldest first")
    ] = msgspec.field(default_factory=list)


class NoticeCounts(Shape):
    """A notice's receipts counted."""

    notice: int
    notice_title: str
    meeting_id: int
    addressees: int
    delivered: int
    read: int
    missing: Annotated[int, Meta(description="addressees with neither receipt")]
    unread: Annotated[int, Meta(description="delivered but not read (delivered - read)")]
    status: Annotated[
        Literal["sent", "corrected", "withdrawn"], Meta(description="as the notice stands")
    ] = "sent"


class TallyReport(NoticeCounts, kw_only=True):
    """The exact delivered/read tally of a notice."""

    missing_people: list[Named]
    unread_people: Annotated[list[Named], Meta(description="delivered but not read")]
    people: list[TallyPerson]
    reach: Annotated[
        dict[str, ReachStates],
        Meta(description="per channel, the states of the people's last reach on it"),
    ] = msgspec.field(default_factory=dict)
    unreached: Annotated[
        int,
        Meta(description="addressees with no receipt whom no channel's provider accepted"),
    ] = 0


class DelegationFollowUp(Shape):
    delegation_id: int | None
    delegation_name: str | None
    addressees: Annotated[int, Meta(description="of this delegation")]
    missing: int
    unread: int
    missing_people: list[Named]
    unread_people: list[Named]


class FollowUp(NoticeCounts, kw_only=True):
    """Who to follow up, by delegation."""

    delegations: list[DelegationFollowUp]


class Call(Shape):
    id: int
    name: str
    delegation_id: int | None
    delegation_name: str | None
    state: Literal["missing", "unread"]
    phone: Annotated[
        str | None,
        Meta(description="digits as the roster holds them; null when it holds none"),
    ]


class Calls(FollowUp, kw_only=True):
    """The follow-up with its call list, one row per missing or unread person."""

    calls: list[Call]


class Repushed(Shape):
    id: int
    name: str
    channel: str
    seq: int


class RepushAnswer(Shape):
    notice: int
    who: str
    repushed: list[Repushed]
    reach: Reach | None = None


@dataclass(frozen=True)
class Version:
    """A notice as it stands: what was sent, with its corrections and withdrawal applied
    in the order they were appended."""

    status: Literal["sent", "corrected", "withdrawn"]
    title: str
    text: str
    changed_at: datetime | None = None
    reason: str | None = None

    @classmethod
    def of(cls, r: Any, changes: Sequence[Any] = ()) -> Version:
        v = cls("sent", r.title, r.text)
        for c in changes:
            if c.action == "correct":
                v = cls("corrected", c.title, c.text, utc(c.changed_at), c.reason)
            else:
                v = cls("withdrawn", v.title, v.text, utc(c.changed_at), c.reason)
        return v


async def changes_of(conn: AsyncConnection, notice_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Each notice's corrections and withdrawal, in the order they were appended."""
    out: dict[int, list[Any]] = {}
    c = notice_changes.c
    for part in in_chunks(sorted(set(notice_ids))):
        for r in await conn.execute(
            sa.select(notice_changes).where(c.notice_id.in_(part)).order_by(c.id)
        ):
            out.setdefault(int(r.notice_id), []).append(r)
    return out


async def version_of(conn: AsyncConnection, r: Any) -> Version:
    return Version.of(r, (await changes_of(conn, [int(r.id)])).get(int(r.id), ()))


def notice_dict(r: Any, v: Version | None = None) -> dict[str, Any]:
    v = v or Version.of(r)
    out = {
        "id": int(r.id),
        "meeting_id": int(r.meeting_id),
        "title": v.title,
        "text": v.text,
        "urgent": bool(r.urgent),
        "confirm": bool(r.confirm),
        "audience": orjson.loads(r.audience),
        "created_at": iso_or_none(r.created_at),
        "addressees": int(r.addressees),
        "status": v.status,
    }
    if v.status != "sent":
        out["changed_at"] = iso_or_none(v.changed_at)
        out["reason"] = v.reason
        out["original"] = {"title": r.title, "text": r.text}
    return out


def message_body(r: Any, repush: bool = False, v: Version | None = None) -> dict[str, Any]:
    """The body of the ``notice`` message an addressee receives: the notice as it stands
    (a re-push of a corrected notice carries the correction and ``corrected_at``)."""
    v = v or Version.of(r)
    body: dict[str, Any] = {
        "notice": int(r.id),
        "meeting": int(r.meeting_id),
        "title": v.title,
        "text": v.text,
        "urgent": bool(r.urgent),
        "confirm": bool(r.confirm),
    }
    if v.status == "corrected":
        body["corrected_at"] = iso_or_none(v.changed_at)
    if repush:
        body["repush"] = True
    return body


async def notice_row(conn: AsyncConnection, notice_id: int, lock: bool = False) -> Any:
    q = sa.select(notices).where(notices.c.id == notice_id)
    if lock:
        q = q.with_for_update()
    r = (await conn.execute(q)).first()
    if r is None:
        raise NotFound(f"no notice {notice_id}")
    return r


def _ids(values: Sequence[int] | None) -> list[int]:
    return [] if values is None else list(dict.fromkeys(values))


async def send_notice(
    node: Node,
    me: Member,
    meeting_id: int,
    title: str,
    text: str,
    urgent: bool = False,
    confirm: bool = False,
    delegation_ids: Sequence[int] | None = None,
    deputy_ids: Sequence[int] | None = None,
    reach: Dispatcher | None = None,
) -> dict[str, Any]:
    """Send a notice to the whole meeting (neither list given), or to the deputies of the
    listed delegations and the listed deputies. Lists that are given but all empty are
    refused: an audience chosen by hand with nobody ticked is a mistake, never "everyone".
    Returns the notice with its channels and, with a ``reach`` dispatcher, what reaches
    the addressees with no page open (``reach``: ``live``, ``queued``, ``unreached``); the
    queued sends are done in the background."""
    require_role(me, "secretariat")
    dels = _ids(delegation_ids)
    deps = _ids(deputy_ids)
    whole = delegation_ids is None and deputy_ids is None
    if not whole and not dels and not deps:
        raise BadRequest(
            "no addressees: tick at least one delegation or deputy, "
            "or leave out `delegations` and `deputies` to notify the whole meeting"
        )
    async with node.writing() as w:
        conn = w.conn
        await meeting_row(conn, meeting_id)
        members = {int(r.id): r for r in await meeting_deputies(conn, meeting_id)}
        targets: list[tuple[str, list[int]]] = []
        if whole:
            if not members:
                raise BadRequest(f"meeting {meeting_id} has no deputies to notify")
            targets.append((f"meeting:{meeting_id}", sorted(members)))
        covered: set[int] = set()
        if dels:
            known = set(
                (
                    await conn.execute(
                        sa.select(delegations.c.id).where(delegations.c.id.in_(dels))
                    )
                ).scalars()
            )
            for d in sorted(dels):
                if d not in known:
                    raise NotFound(f"no delegation {d}")
                ids = [u for u, r in members.items() if r.delegation_id == d]
                if not ids:
                    raise BadRequest(f"delegation {d} has no deputies in meeting {meeting_id}")
                targets.append((f"delegation:{d}", ids))
                covered.update(ids)
        if deps:
            found = {
                int(r.id): r.role
                for r in await conn.execute(
                    sa.select(users.c.id, users.c.role).where(users.c.id.in_(deps))
                )
            }
            for u in sorted(deps):
                if u not in found:
                    raise NotFound(f"no user {u}")
                if u not in members:
                    raise BadRequest(f"user {u} is not a deputy of meeting {meeting_id}")
                if u not in covered:
                    targets.append((f"deputy:{u}", [u]))
                    covered.add(u)
        addressees = len(members) if whole else len(covered)
        audience = {"meeting": whole, "delegations": dels, "deputies": deps}
        ts = node.clock.now()
        nid = (
            await conn.execute(
                notices.insert()
                .values(
                    meeting_id=meeting_id,
                    title=title,
                    text=text,
                    urgent=urgent,
                    confirm=confirm,
                    audience=orjson.dumps(audience).decode(),
                    sent_by=me.id,
                    created_at=ts,
                    addressees=addressees,
                )
                .returning(notices.c.id)
            )
        ).scalar_one()
        row = await notice_row(conn, int(nid))
        body = message_body(row)
        sent: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        await w.lock(*(channel for channel, _ in targets), f"desk:{meeting_id}")
        for channel, ids in targets:
            msg = await w.append(channel, "notice", me, body)
            sent.append({"channel": channel, "seq": msg.seq})
            deliveries += [
                {
                    "notice_id": nid,
                    "user_id": u,
                    "channel": channel,
                    "seq": msg.seq,
                    "kind": "sent",
                    "ts": ts,
                }
                for u in ids
            ]
        await conn.execute(notice_deliveries.insert(), deliveries)
        out = notice_dict(row)
        await w.append(f"desk:{meeting_id}", "notice.sent", me, {"notice": out, "channels": sent})
        queued = None
        if reach is not None:
            everyone = sorted({d["user_id"] for d in deliveries})
            queued = await queue(w, reach.channel, int(nid), meeting_id, everyone)
    if reach is None or queued is None:
        return {**out, "channels": sent}
    reach.wake()
    return {
        **out,
        "channels": sent,
        "reach": {
            "live": queued.live,
            reach.channel: {"queued": len(queued.jobs)},
            "unreached": queued.unreached,
        },
    }


@dataclass
class Addressee:
    id: int
    name: str
    delegation_id: int | None
    delivered_at: datetime | None = None
    read_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "delegation_id": self.delegation_id,
            "delivered_at": iso_or_none(self.delivered_at),
            "read_at": iso_or_none(self.read_at),
        }


@dataclass
class Tally:
    notice_id: int
    meeting_id: int
    people: list[Addressee] = field(default_factory=list)
    # per delivery row id: (delivered_at, read_at) as computed from the receipts
    per_delivery: dict[int, tuple[datetime | None, datetime | None]] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return sum(1 for p in self.people if p.delivered_at is not None)

    @property
    def read(self) -> int:
        return sum(1 for p in self.people if p.read_at is not None)

    def missing(self) -> list[Addressee]:
        """Addressees with neither a delivery nor a read receipt."""
        return [p for p in self.people if p.delivered_at is None]

    def unread(self) -> list[Addressee]:
        """Addressees it reached who have not read it: the one meaning of *unread* (the
        tally's ``unread_people``, the follow-up's, the re-push to ``unread``, the
        statistics' ``unread`` and the export's), so missing and unread never overlap."""
        return [p for p in self.people if p.delivered_at is not None and p.read_at is None]

    def by_delegation(self) -> list[tuple[int | None, int, list[Addressee], list[Addressee]]]:
        """Who to follow up, per delegation with anyone missing or unread: (delegation id,
        its addressees, :meth:`missing`, :meth:`unread`); the delegations with
        the most missing first, then the most unread, then by id (none last)."""
        groups: dict[int | None, tuple[list[Addressee], list[Addressee], list[Addressee]]] = {}
        for p in self.people:
            everyone, missing, unread = groups.setdefault(p.delegation_id, ([], [], []))
            everyone.append(p)
            if p.delivered_at is None:
                missing.append(p)
            elif p.read_at is None:
                unread.append(p)
        out = [(d, len(e), m, u) for d, (e, m, u) in groups.items() if m or u]
        out.sort(key=lambda g: (-len(g[2]), -len(g[3]), g[0] is None, g[0] or 0))
        return out

    def counts(self) -> dict[str, int]:
        """The figures of a notice, as every surface shows them (tally, follow-up, the
        archive, statistics, the export): ``missing`` + ``unread`` + ``read`` =
        ``addressees``."""
        return {
            "addressees": len(self.people),
            "delivered": self.delivered,
            "read": self.read,
            "missing": len(self.people) - self.delivered,
            "unread": self.delivered - self.read,
        }

    def message(self) -> dict[str, Any]:
        """The ``notice.tally`` body: counts and the first names of who has neither."""
        missing = self.missing()
        return {
            "notice": self.notice_id,
            **self.counts(),
            "missing_people": [person(p.id, p.name) for p in missing[:TALLY_NAMES]],
            "missing_truncated": len(missing) > TALLY_NAMES,
        }

    def report(self) -> dict[str, Any]:
        """The full tally (HTTP): counts, who has neither, who has it unread, everyone."""
        return {
            "notice": self.notice_id,
            "meeting_id": self.meeting_id,
            **self.counts(),
            "missing_people": [person(p.id, p.name) for p in self.missing()],
            "unread_people": [person(p.id, p.name) for p in self.unread()],
            "people": [p.public() for p in self.people],
        }


def _earliest(*ts: datetime | None) -> datetime | None:
    present = [utc(t) for t in ts if t is not None]
    return min(present) if present else None


def _with_receipts(*where: sa.ColumnElement[bool], times: bool = True) -> sa.Select[Any]:
    """The deliveries matching ``where`` (id, notice_id, user_id), each with the time of the
    addressee's first ``ack`` on its channel at or past its seq (``acked``) and of their
    first ``read`` of exactly its seq (``read``): the receipts that make it delivered and
    read. **The one rule of delivered and read**: the tally, a deputy's own list, the
    archive (through the tally), the statistics and the export all count through it.
    With ``times=False`` ``acked`` only says whether there is such an ack (the delivery's
    own time, or null): one index probe instead of reading every later ack."""
    d = notice_deliveries
    r = receipts
    covers = (
        r.c.user_id == d.c.user_id,
        r.c.channel == d.c.channel,
        r.c.kind == "ack",
        r.c.seq >= d.c.seq,
    )
    acked: sa.ColumnElement[Any]
    if times:
        acked = sa.select(sa.func.min(r.c.ts)).where(*covers).scalar_subquery()
    else:
        acked = sa.case((sa.select(r.c.seq).where(*covers).exists(), d.c.ts), else_=sa.null())
    read = (
        sa.select(sa.func.min(r.c.ts))
        .where(
            r.c.user_id == d.c.user_id,
            r.c.channel == d.c.channel,
            r.c.kind == "read",
            r.c.seq == d.c.seq,
        )
        .scalar_subquery()
    )
    return sa.select(
        d.c.id, d.c.notice_id, d.c.user_id, acked.label("acked"), read.label("read")
    ).where(*where)


def per_addressee(*where: sa.ColumnElement[bool]) -> sa.Subquery:
    """One row per addressee of each notice matching ``where`` (on ``notices``):
    ``notice_id``, ``user_id``, ``sent`` (the notice's time), ``delivered`` (1 or 0) and
    ``read_at`` (null when not read), by :func:`_with_receipts` over all their deliveries
    (a re-push is another delivery of the same notice). What :meth:`Tally.counts` counts,
    set-based for many notices at once (statistics, the export)."""
    d = notice_deliveries
    x = _with_receipts(
        d.c.notice_id.in_(sa.select(notices.c.id).where(*where)), times=False
    ).subquery("x")
    delivered = sa.case((sa.or_(x.c.acked.is_not(None), x.c.read.is_not(None)), 1), else_=0)
    return (
        sa.select(
            x.c.notice_id,
            x.c.user_id,
            sa.func.min(notices.c.created_at).label("sent"),
            sa.func.max(delivered).label("delivered"),
            sa.func.min(x.c.read).label("read_at"),
        )
        .join(notices, notices.c.id == x.c.notice_id)
        .group_by(x.c.notice_id, x.c.user_id)
        .subquery("per")
    )


def figures_by_notice(*where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Per notice matching ``where``: ``addressees``, ``delivered``, ``read``, ``missing``,
    ``unread`` — :meth:`Tally.counts`, for many notices in one statement (the export)."""
    p = per_addressee(*where)
    addressees = sa.func.count()
    delivered = sa.func.coalesce(sa.func.sum(p.c.delivered), 0)
    read = sa.func.count(p.c.read_at)
    return sa.select(
        p.c.notice_id,
        addressees.label("addressees"),
        delivered.label("delivered"),
        read.label("read"),
        (addressees - delivered).label("missing"),
        (delivered - read).label("unread"),
    ).group_by(p.c.notice_id)


def _delivered_read(x: Any) -> tuple[datetime | None, datetime | None]:
    """(delivered_at, read_at) of one delivery row of :func:`_with_receipts`: a read counts
    as delivered too."""
    return _earliest(x.acked, x.read), _earliest(x.read)


async def compute_tally(conn: AsyncConnection, notice: Any) -> Tally:
    """Every addressee's delivered/read state, computed from the stored receipts."""
    d = notice_deliveries
    rows = await conn.execute(
        _with_receipts(d.c.notice_id == notice.id)
        .add_columns(users.c.name, users.c.delegation_id)
        .join(users, users.c.id == d.c.user_id)
        .order_by(d.c.user_id, d.c.id)
    )
    t = Tally(int(notice.id), int(notice.meeting_id))
    by_user: dict[int, Addressee] = {}
    for x in rows:
        uid = int(x.user_id)
        p = by_user.get(uid)
        if p is None:
            p = by_user[uid] = Addressee(uid, x.name, x.delegation_id)
            t.people.append(p)
        delivered_at, read_at = _delivered_read(x)
        t.per_delivery[int(x.id)] = (delivered_at, read_at)
        p.delivered_at = _earliest(p.delivered_at, delivered_at)
        p.read_at = _earliest(p.read_at, read_at)
    return t


async def own_receipts(
    conn: AsyncConnection, user_id: int, meeting_id: int
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """Per notice of the meeting addressed to this deputy: (delivered_at, read_at), exactly
    as the tally counts them for that addressee (any delivery of the notice, any device)."""
    d = notice_deliveries
    of_meeting = sa.select(notices.c.id).where(notices.c.meeting_id == meeting_id)
    out: dict[int, tuple[datetime | None, datetime | None]] = {}
    for x in await conn.execute(
        _with_receipts(d.c.user_id == user_id, d.c.notice_id.in_(of_meeting))
    ):
        delivered_at, read_at = _delivered_read(x)
        before = out.get(int(x.notice_id), (None, None))
        out[int(x.notice_id)] = (
            _earliest(before[0], delivered_at),
            _earliest(before[1], read_at),
        )
    return out


class NoticeStanding(Shape):
    """How a notice stands, and its figures: the tally's (:meth:`Tally.counts`)."""

    id: int
    status: Literal["sent", "corrected", "withdrawn"]
    changed_at: Timestamp | None
    reason: str | None
    addressees: int
    delivered: int
    read: int
    missing: Annotated[int, Meta(description="addressees with neither receipt")]
    unread: Annotated[int, Meta(description="delivered but not read")]


async def standing(conn: AsyncConnection, notice_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """How each notice stands, for a page that shows its messages (the archive): ``status``
    (``changed_at`` and ``reason`` once changed) and its figures, :meth:`Tally.counts`, the
    very numbers of its tally. Unknown ids are left out."""
    ids = sorted(set(notice_ids))
    rows = [
        r
        for part in in_chunks(ids)
        for r in await conn.execute(sa.select(notices).where(notices.c.id.in_(part)))
    ]
    changes = await changes_of(conn, ids)
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        v = Version.of(r, changes.get(int(r.id), ()))
        out[int(r.id)] = {
            "id": int(r.id),
            "status": v.status,
            "changed_at": iso_or_none(v.changed_at),
            "reason": v.reason,
            **(await compute_tally(conn, r)).counts(),
        }
    return out


async def _check_reader(conn: AsyncConnection, me: Member, notice_id: int) -> Any:
    require_role(me, *sorted(READERS_OF_ALL))
    return await notice_row(conn, notice_id)


async def tally(node: Node, me: Member, notice_id: int) -> dict[str, Any]:
    """The exact current tally (secretariat, supervisors, admins), with each person's
    last reach beyond the WebSocket (``reach``: channel, state, attempts; null if none)
    and the counts of those states per channel."""
    async with node.log.reading() as conn:
        n = await _check_reader(conn, me, notice_id)
        v = await version_of(conn, n)
        report = (await compute_tally(conn, n)).report()
        per = await reach_of(conn, int(n.id))
    by_channel: dict[str, list[str]] = {}
    for tries in per.values():
        for r in tries:
            by_channel.setdefault(r["channel"], []).append(r["state"])
    unreached = 0
    for p in report["people"]:
        tries = per.get(p["id"], [])
        p["reach"] = tries[-1] if tries else None
        p["channels"] = tries
        if p["delivered_at"] is None and not any(r["state"] == "accepted" for r in tries):
            unreached += 1
    return {
        "notice_title": v.title,
        "status": v.status,
        **report,
        "reach": {c: summary(states) for c, states in sorted(by_channel.items())},
        "unreached": unreached,
    }


async def _delegation_names(conn: AsyncConnection, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    rows = await conn.execute(
        sa.select(delegations.c.id, delegations.c.name).where(delegations.c.id.in_(wanted))
    )
    return {int(r.id): r.name for r in rows}


async def _phones(conn: AsyncConnection, user_ids: list[int]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for i in range(0, len(user_ids), 500):
        rows = await conn.execute(
            sa.select(users.c.id, users.c.phone).where(users.c.id.in_(user_ids[i : i + 500]))
        )
        out.update({int(r.id): r.phone for r in rows})
    return out


async def _follow_up(conn: AsyncConnection, n: Any) -> dict[str, Any]:
    """The tally's missing and delivered-but-unread addressees grouped by delegation
    (:meth:`Tally.by_delegation`), with the delegations' names and the totals."""
    t = await compute_tally(conn, n)
    v = await version_of(conn, n)
    groups = t.by_delegation()
    names = await _delegation_names(conn, [g[0] for g in groups])
    return {
        "notice": t.notice_id,
        "notice_title": v.title,
        "status": v.status,
        "meeting_id": t.meeting_id,
        **t.counts(),
        "delegations": [
            {
                "delegation_id": d,
                "delegation_name": None if d is None else names.get(d),
                "addressees": everyone,
                "missing": len(missing),
                "unread": len(unread),
                "missing_people": [person(p.id, p.name) for p in missing],
                "unread_people": [person(p.id, p.name) for p in unread],
            }
            for d, everyone, missing, unread in groups
        ],
    }


async def follow_up(node: Node, me: Member, notice_id: int) -> dict[str, Any]:
    """Who to follow up, by delegation (secretariat, supervisors, admins): the tally's
    ``missing`` (neither receipt) and ``unread`` (delivered, not read) people of each
    delegation that has any, with counts; the delegations with the most missing first."""
    async with node.log.reading() as conn:
        n = await _check_reader(conn, me, notice_id)
        return await _follow_up(conn, n)


async def call_list(node: Node, me: Member, notice_id: int) -> dict[str, Any]:
    """The follow-up with its call list, ``calls``: one row per person with the roster's
    phone number, in the follow-up's order (by delegation, the missing before the unread).
    The secretariat and admins only: a phone number is shown to nobody else. Read only:
    nothing is appended to the log, which never holds a phone number."""
    require_role(me, "secretariat", "admin")
    async with node.log.reading() as conn:
        n = await notice_row(conn, notice_id)
        f = await _follow_up(conn, n)
        rows = [
            (g, state, p)
            for g in f["delegations"]
            for state in ("missing", "unread")
            for p in g[f"{state}_people"]
        ]
        phones = await _phones(conn, sorted({p["id"] for _, _, p in rows}))
    return {
        **f,
        "calls": [
            {
                **p,
                "delegation_id": g["delegation_id"],
                "delegation_name": g["delegation_name"],
                "state": state,
                "phone": phones.get(p["id"]),
            }
            for g, state, p in rows
        ],
    }


async def _save_cache(conn: AsyncConnection, t: Tally, n: Any) -> None:
    """Store what the tally saw per delivery and the counts, for change detection."""
    d = notice_deliveries
    rows = await conn.execute(
        sa.select(d.c.id, d.c.delivered_at, d.c.read_at).where(d.c.notice_id == n.id)
    )
    changed = [
        {"_id": r.id, "_delivered": t.per_delivery[r.id][0], "_read": t.per_delivery[r.id][1]}
        for r in rows
        if r.id in t.per_delivery
        and (
            (r.delivered_at is None) != (t.per_delivery[r.id][0] is None)
            or (r.read_at is None) != (t.per_delivery[r.id][1] is None)
        )
    ]
    if changed:
        await conn.execute(
            d.update()
            .where(d.c.id == sa.bindparam("_id"))
            .values(delivered_at=sa.bindparam("_delivered"), read_at=sa.bindparam("_read")),
            changed,
        )
    await conn.execute(
        notices.update()
        .where(notices.c.id == n.id)
        .values(delivered_count=t.delivered, read_count=t.read)
    )


async def publish_tally(node: Node, notice_id: int) -> bool:
    """Recompute a notice's tally under its row lock; publish ``notice.tally`` on the desk
    if a count changed since the last one. True if published."""
    async with node.writing(while_draining=True) as w:
        n = await notice_row(w.conn, notice_id, lock=True)
        t = await compute_tally(w.conn, n)
        if (t.delivered, t.read) == (n.delivered_count, n.read_count):
            await _save_cache(w.conn, t, n)
            return False
        await _save_cache(w.conn, t, n)
        await w.lock(f"desk:{n.meeting_id}")
        await w.append(f"desk:{n.meeting_id}", "notice.tally", SYSTEM, t.message())
        return True


async def repush(
    node: Node,
    me: Member,
    notice_id: int,
    who: str = "missing",
    reach: Dispatcher | None = None,
    wait: float = 10.0,
) -> dict[str, Any]:
    """Send the notice again to the inbox of each addressee who has neither receipt
    (``who="missing"``) or who has not read it (``who="unread"``). With a ``reach``
    dispatcher, those of them with no page open and a registered device are sent it
    through that channel too, at once (waiting at most ``wait`` seconds), and the answer
    says what was actually done, per channel: ``reach`` = ``live`` (had a page open),
    ``<channel>``: ``accepted`` / ``gone`` / ``failed`` / ``pending`` (still being
    retried), ``unreached`` (no page open, no device)."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        n = await notice_row(w.conn, notice_id, lock=True)
        v = await version_of(w.conn, n)
        if v.status == "withdrawn":
            raise Conflict(
                f"notice {notice_id} was withdrawn: it is not sent again", reason=WITHDRAWN
            )
        t = await compute_tally(w.conn, n)
        targets = t.missing() if who == "missing" else t.unread()
        body = message_body(n, repush=True, v=v)
        ts = node.clock.now()
        out: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        if targets:
            await w.lock(*(f"deputy:{p.id}" for p in targets), f"desk:{n.meeting_id}")
        for p in targets:
            msg = await w.append(f"deputy:{p.id}", "notice", me, body)
            out.append({**person(p.id, p.name), "channel": msg.channel, "seq": msg.seq})
            rows.append(
                {
                    "notice_id": n.id,
                    "user_id": p.id,
                    "channel": msg.channel,
                    "seq": msg.seq,
                    "kind": "repush",
                    "ts": ts,
                }
            )
        if rows:
            await w.conn.execute(notice_deliveries.insert(), rows)
            await w.append(
                f"desk:{n.meeting_id}",
                "notice.repushed",
                me,
                {
                    "notice": int(n.id),
                    "who": who,
                    "to": [person(p.id, p.name) for p in targets],
                },
            )
        queued = None
        if reach is not None and targets:
            ids = [p.id for p in targets]
            rounds = await rounds_of(w, int(n.id), ids)
            queued = await queue(w, reach.channel, int(n.id), int(n.meeting_id), ids, rounds)
    result: dict[str, Any] = {"notice": notice_id, "who": who, "repushed": out}
    if reach is not None:
        done = await reach.deliver(queued.jobs, wait) if queued else summary([])
        result["reach"] = {
            "live": queued.live if queued else 0,
            reach.channel: done,
            "unreached": queued.unreached if queued else 0,
        }
    return result


async def _change(
    node: Node,
    me: Member,
    notice_id: int,
    action: Literal["correct", "withdraw"],
    title: str | None = None,
    text: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Append a correction or the withdrawal of a sent notice: a ``notice_changes`` row,
    and ``notice.corrected`` / ``notice.withdrawn`` on every channel the notice (and its
    re-pushes) went to, so each addressee gets it where they got the notice, and on the
    desk. The notice's row and its messages are never rewritten."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        n = await notice_row(w.conn, notice_id, lock=True)
        if int(n.meeting_id) not in me.meetings:
            raise Forbidden(f"secretariat {me.id} does not run meeting {n.meeting_id}")
        v = await version_of(w.conn, n)
        if v.status == "withdrawn":
            raise Conflict(f"notice {notice_id} was withdrawn: it cannot change", reason=WITHDRAWN)
        ts = node.clock.now()
        if action == "correct":
            title = v.title if title is None else title
            text = v.text if text is None else text
            if (title, text) == (v.title, v.text):
                raise BadRequest(
                    "nothing to correct: give the new `title` or `text`",
                    field="text",
                    reason="notice_unchanged",
                )
            new = Version("corrected", title, text, ts, reason or None)
        else:
            new = Version("withdrawn", v.title, v.text, ts, reason)
        await w.conn.execute(
            notice_changes.insert().values(
                notice_id=n.id,
                action=action,
                title=title if action == "correct" else None,
                text=text if action == "correct" else None,
                reason=new.reason,
                changed_by=me.id,
                changed_at=ts,
            )
        )
        d = notice_deliveries.c
        channels = sorted(
            (await w.conn.execute(sa.select(d.channel).where(d.notice_id == n.id).distinct()))
            .scalars()
            .all()
        )
        desk = f"desk:{n.meeting_id}"
        await w.lock(*channels, desk)
        body: dict[str, Any] = {"notice": int(n.id), "meeting": int(n.meeting_id)}
        if action == "correct":
            body |= {"title": new.title, "text": new.text, "reason": new.reason}
            body["corrected_at"] = iso_or_none(ts)
        else:
            body |= {"reason": new.reason, "withdrawn_at": iso_or_none(ts)}
        for channel in [*channels, desk]:
            await w.append(channel, CHANGE_KINDS[action], me, body)
        return notice_dict(n, new)


async def correct_notice(
    node: Node,
    me: Member,
    notice_id: int,
    title: str | None = None,
    text: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Correct a sent notice (the secretariat of its meeting): its new title and text
    (either left out stays), and why. Every addressee receives ``notice.corrected``; the
    notice then reads as corrected everywhere it is shown. A withdrawn notice is
    ``conflict``; a correction that changes nothing ``bad_request``."""
    return await _change(node, me, notice_id, "correct", title, text, reason)


async def withdraw_notice(node: Node, me: Member, notice_id: int, reason: str) -> dict[str, Any]:
    """Withdraw a sent notice (the secretariat of its meeting), saying why. Every addressee
    receives ``notice.withdrawn``; the notice reads as withdrawn everywhere it is shown, its
    text still there to read. Final: it is not corrected, withdrawn or re-pushed again
    (``conflict``). Its tally stays: who had it and who read it is part of the record."""
    return await _change(node, me, notice_id, "withdraw", reason=reason)


async def list_notices(node: Node, me: Member, meeting_id: int) -> list[dict[str, Any]]:
    """Readers of all see every notice of the meeting with its last tallied counts; a
    deputy sees the notices addressed to them, each with when it reached them and when
    they read it (``delivered_at``, ``read_at``; null when not yet)."""
    async with node.log.reading() as conn:
        await meeting_row(conn, meeting_id)
        q = sa.select(notices).where(notices.c.meeting_id == meeting_id).order_by(notices.c.id)
        if me.role not in READERS_OF_ALL:
            if me.role != "deputy" or meeting_id not in me.meetings:
                raise Forbidden(f"{me.role} {me.id} does not participate in meeting {meeting_id}")
            mine = sa.select(notice_deliveries.c.notice_id).where(
                notice_deliveries.c.user_id == me.id
            )
            q = q.where(notices.c.id.in_(mine))
        staff = me.role in READERS_OF_ALL
        own = {} if staff else await own_receipts(conn, me.id, meeting_id)
        rows = (await conn.execute(q)).all()
        changes = await changes_of(conn, [int(r.id) for r in rows])
        out = []
        for r in rows:
            d = notice_dict(r, Version.of(r, changes.get(int(r.id), ())))
            if staff:
                d["delivered"] = int(r.delivered_count)
                d["read"] = int(r.read_count)
            else:
                delivered_at, read_at = own.get(int(r.id), (None, None))
                d["delivered_at"] = iso_or_none(delivered_at)
                d["read_at"] = iso_or_none(read_at)
            out.append(d)
        return out


class NoticeTally:
    """Per node: turns stored receipts into coalesced ``notice.tally`` messages.

    ``on_receipts`` only records what changed (no I/O); the task wakes on the first new
    receipt, tallies the notices it can change, then sleeps ``interval`` before the next
    round, so a storm of receipts costs one tally per notice per interval.
    """

    def __init__(self, node: Node, interval: float) -> None:
        self.node = node
        self.interval = interval
        self._acks: dict[tuple[str, int], int] = {}  # (channel, user) -> highest acked seq
        self._reads: set[tuple[str, int, int]] = set()  # (channel, user, seq)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(
            run_forever("notice tally", self._tally_when_woken), name="notice-tally"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def on_receipts(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            if not row["channel"].startswith(("meeting:", "delegation:", "deputy:")):
                continue
            key = (row["channel"], row["user_id"])
            if row["kind"] == "ack":
                if row["seq"] > self._acks.get(key, 0):
                    self._acks[key] = row["seq"]
            else:
                self._reads.add((row["channel"], row["user_id"], row["seq"]))
        if self._acks or self._reads:
            self._wake.set()

    async def _tally_when_woken(self) -> None:
        """One round; if it fails, what it took is put back for the next (after the
        loop's back-off)."""
        await self._wake.wait()
        self._wake.clear()
        acks, self._acks = self._acks, {}
        reads, self._reads = self._reads, set()
        try:
            for nid in await self._affected(acks, reads):
                await publish_tally(self.node, nid)
        except BaseException:
            for k, s in acks.items():
                self._acks[k] = max(s, self._acks.get(k, 0))
            self._reads |= reads
            self._wake.set()
            raise
        await asyncio.sleep(self.interval)

    async def _affected(
        self, acks: dict[tuple[str, int], int], reads: set[tuple[str, int, int]]
    ) -> list[int]:
        """Notices with a delivery these receipts newly cover.

        Per channel, one query per 500 users with plain ``IN`` lists (cached SQL, the
        ``(channel, user_id, seq)`` index), then the exact per-user bound in Python: a hall's
        storm of receipts is a few dozen cheap queries, not thousands of OR-ed conditions
        compiled one batch at a time on the event loop."""
        d = notice_deliveries
        acked: dict[str, dict[int, int]] = {}
        for (ch, u), seq in acks.items():
            acked.setdefault(ch, {})[u] = seq
        read: dict[str, set[tuple[int, int]]] = {}
        for ch, u, seq in reads:
            read.setdefault(ch, set()).add((u, seq))
        found: set[int] = set()
        cols = (d.c.notice_id, d.c.user_id, d.c.seq)
        async with self.node.log.reading() as conn:
            for ch, upto in acked.items():
                users, top = sorted(upto), max(upto.values())
                for part in in_chunks(users):
                    rows = await conn.execute(
                        sa.select(*cols).where(
                            d.c.channel == ch,
                            d.c.user_id.in_(part),
                            d.c.seq <= top,
                            d.c.delivered_at.is_(None),
                        )
                    )
                    found.update(int(r.notice_id) for r in rows if r.seq <= upto[r.user_id])
            for ch, pairs in read.items():
                users = sorted({u for u, _ in pairs})
                lo, hi = min(s for _, s in pairs), max(s for _, s in pairs)
                for part in in_chunks(users):
                    rows = await conn.execute(
                        sa.select(*cols).where(
                            d.c.channel == ch,
                            d.c.user_id.in_(part),
                            d.c.seq.between(lo, hi),
                            d.c.read_at.is_(None),
                        )
                    )
                    found.update(int(r.notice_id) for r in rows if (r.user_id, r.seq) in pairs)
        return sorted(found)
