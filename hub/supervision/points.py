"""Duty points (履职积分): derived from the record by versioned rules, never typed in.

**Events.** Each source below yields events ``(deputy, key, event, time, title)`` from the
workflow tables; ``key`` names the source row (``speech:17``) and is what a dispute
refers to. See :data:`EVENTS` for the list.

**Rules** are data. A rule set is a version: ``valid_from`` and a list of rules
``{"event", "points", "cap", "period"}`` — each occurrence of ``event`` earns ``points``
(negative for a penalty), and the positive points one rule earns a deputy within one
``period`` (calendar ``year``, ``quarter`` or ``month`` in the congress's time zone) stop
at ``cap`` (none: no cap). A rule for ``registration`` covers every kind of registration;
a rule for ``registration.research`` takes precedence for that kind.

**Versions.** Admins add rule sets; none is edited. An event is scored by the rule set in
force at the event's time (the one with the latest ``valid_from`` not after it), so
adding a version never changes the points of events before its ``valid_from``. Caps
count every point of the period, whichever version earned it. A version may start in
the past only from the latest existing version's ``valid_from`` on (to correct it); a
version not yet in force may be withdrawn.

**Disputes.** A deputy disputes one entry (by key) with a reason; an admin upholds the
dispute — the entry then counts 0 and frees its room under the cap — or rejects it. Both
steps append a message to the deputy's inbox ``deputy:<id>``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import orjson
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.params import parse_when
from hub.protocol import iso, utc
from hub.session import setup
from hub.session.attendance import checkins
from hub.session.channels import READERS_OF_ALL
from hub.session.items import SUGGESTION, item_deputies, item_evaluations, item_events, items
from hub.session.meetings import ended_clause, sittings
from hub.session.members import Member
from hub.session.opinions import opinions
from hub.session.speakers import speech_requests
from hub.shapes import Body, Instant, MaybeShortText, Shape, ShortText, Timestamp
from hub.store.engine import in_chunks
from hub.store.schema import BigId, metadata
from hub.supervision.attendance import marks
from hub.supervision.registrations import KINDS as REGISTRATION_KINDS
from hub.supervision.registrations import registrations

if TYPE_CHECKING:
    from hub.node import Node, Writer

points_rulesets = sa.Table(
    "points_rulesets",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
    # JSON list of {"event", "points", "cap", "period"}
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_points_rulesets_valid_from", "valid_from"),
)

points_disputes = sa.Table(
    "points_disputes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("entry", sa.String(120), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open | upheld | rejected
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_by", BigId, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.Index("ix_points_disputes_deputy", "deputy_id", "entry"),
    sa.Index("ix_points_disputes_state", "state", "id"),
)

EVENTS: dict[str, str] = {
    "attendance": "checked in to a sitting (签到)",
    "absence": "expected at a sitting that has ended, neither checked in nor on approved leave",
    "speech": "a speech in a deliberation, ended by the convenor (发言)",
    "opinion": "a deliberation opinion submitted (审议意见)",
    "suggestion": "a suggestion submitted as its author (提出建议)",
    "cosign": "a suggestion co-signed (联名)",
    "suggestion_accepted": "the author's suggestion accepted by review (立案)",
    "evaluation": "a reply evaluated (满意度测评)",
    "registration": "a confirmed performance registration of any kind (履职登记)",
    **{f"registration.{k}": f"a confirmed registration of kind {k}" for k in REGISTRATION_KINDS},
}
Period = Literal["year", "quarter", "month"]
PERIODS: tuple[str, ...] = get_args(Period)
MAX_RULES = 100
DisputeState = Literal["open", "upheld", "rejected"]


class RuleInput(Body):
    """One rule of a version: what an event earns, capped per period."""

    event: Annotated[str, Meta(max_length=64, extra_json_schema={"enum": list(EVENTS)})]
    points: Annotated[float, Meta(ge=-1000, le=1000, description="at most 2 decimals")]
    cap: (
        Annotated[float, Meta(ge=0, le=100_000, description="at most this many a period")] | None
    ) = None
    period: Period = "year"


class RuleSetInput(Body):
    """A version of the rules, in force from ``valid_from`` on."""

    valid_from: Annotated[Instant, Meta(description="a date (its local midnight) or a timestamp")]
    rules: Annotated[list[RuleInput], Meta(min_length=1, max_length=MAX_RULES)]
    note: MaybeShortText = ""


class NewDispute(Body):
    entry: Annotated[
        str, Meta(min_length=1, max_length=120, description="the entry's key, e.g. speech:17")
    ]
    reason: Annotated[ShortText, Meta(description="what is wrong")]


class Resolution(Body):
    upheld: Annotated[bool, Meta(description="true: the entry counts 0; false: it stands")]
    resolution: Annotated[ShortText, Meta(description="why, for the deputy")]


class DisputesQuery(Body):
    state: DisputeState | None = None


class RuleShape(Shape):
    event: str
    points: float
    cap: float | None
    period: Period


class RuleSetShape(Shape):
    id: int
    valid_from: Timestamp
    rules: list[RuleShape]
    note: str
    created_by: int
    created_at: Timestamp


class Dispute(Shape):
    id: int
    deputy_id: int
    entry: str
    reason: str
    state: DisputeState
    created_at: Timestamp
    resolved_by: int | None
    resolved_at: Timestamp | None
    resolution: str | None


class Entry(Shape):
    """One event's points, under the rule in force when it happened."""

    key: str
    event: str
    rule: str
    title: str
    ts: Timestamp
    points: float
    rule_points: float
    capped: bool
    voided: Annotated[bool, Meta(description="an upheld dispute: counts 0")]
    ruleset: int
    dispute: Dispute | None


@dataclass(frozen=True)
class Rule:
    event: str
    points: Decimal
    cap: Decimal | None
    period: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "points": number(self.points),
            "cap": None if self.cap is None else number(self.cap),
            "period": self.period,
        }


@dataclass(frozen=True)
class RuleSet:
    id: int
    valid_from: datetime
    rules: dict[str, Rule]
    note: str
    created_by: int
    created_at: datetime

    def rule_for(self, event: str) -> Rule | None:
        return self.rules.get(event) or self.rules.get(event.split(".", 1)[0])

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "valid_from": iso(self.valid_from),
            "rules": [r.as_dict() for r in self.rules.values()],
            "note": self.note,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class Event:
    deputy_id: int
    key: str  # the source row, e.g. "speech:17"
    event: str  # one of EVENTS
    ts: datetime
    title: str


def number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _decimal(v: float, name: str) -> Decimal:
    d = Decimal(str(v))
    if d != d.quantize(Decimal("0.01")):
        raise BadRequest(f"`{name}` must have at most 2 decimals", field=name)
    return d


def parse_rules(raw: list[RuleInput]) -> list[Rule]:
    """The rules of a version: each of a known event, once; errors name the rule's field."""
    out: list[Rule] = []
    seen: set[str] = set()
    for i, r in enumerate(raw):
        where = f"rules[{i}]"
        if r.event not in EVENTS:
            raise BadRequest(
                f"`{where}.event` must be one of {', '.join(EVENTS)}", field=f"{where}.event"
            )
        if r.event in seen:
            raise BadRequest(
                f"`{where}.event`: {r.event} has two rules in this set", field=f"{where}.event"
            )
        seen.add(r.event)
        points = _decimal(r.points, f"{where}.points")
        cap = None if r.cap is None else _decimal(r.cap, f"{where}.cap")
        out.append(Rule(r.event, points, cap, r.period))
    return out


def _ruleset(r: Any) -> RuleSet:
    rules = {
        d["event"]: Rule(
            d["event"],
            Decimal(str(d["points"])),
            None if d.get("cap") is None else Decimal(str(d["cap"])),
            d.get("period", "year"),
        )
        for d in orjson.loads(r.rules)
    }
    return RuleSet(
        int(r.id), utc(r.valid_from), rules, r.note, int(r.created_by), utc(r.created_at)
    )


async def load_rulesets(conn: AsyncConnection) -> list[RuleSet]:
    """Every version, in the order they take effect."""
    rows = await conn.execute(
        sa.select(points_rulesets).order_by(points_rulesets.c.valid_from, points_rulesets.c.id)
    )
    return [_ruleset(r) for r in rows]


def in_force(rulesets: list[RuleSet], ts: datetime) -> RuleSet | None:
    """The version in force at ``ts`` (``rulesets`` as :func:`load_rulesets` orders them)."""
    i = bisect.bisect_right([r.valid_from for r in rulesets], ts)
    return rulesets[i - 1] if i else None


async def add_ruleset(
    node: Node, me: Member, d: RuleSetInput, now: datetime, tz: tzinfo
) -> dict[str, Any]:
    """An admin adds a version (see the module docstring for what may start when)."""
    if me.role != "admin":
        raise Forbidden("only an admin edits the points rules")
    rules = parse_rules(d.rules)
    valid_from = parse_when(d.valid_from, "valid_from", tz)
    async with node.writing() as w:
        return await add_ruleset_in(w, me, valid_from, rules, d.note, now)


async def add_ruleset_in(
    w: Writer, me: Member, valid_from: datetime, rules: list[Rule], note: str, now: datetime
) -> dict[str, Any]:
    """:func:`add_ruleset` inside the transaction ``w`` (the demo's seeding): stored, and
    logged as ``setup.points_rules_added``."""
    latest = (await w.conn.execute(sa.select(sa.func.max(points_rulesets.c.valid_from)))).scalar()
    if latest is not None and valid_from < utc(latest):
        raise Conflict(
            f"`valid_from` is before the latest version's ({iso(utc(latest))}): past "
            "points keep the rules that were in force; start the new version from then on"
        )
    row = (
        await w.conn.execute(
            points_rulesets.insert()
            .values(
                valid_from=valid_from,
                rules=orjson.dumps([r.as_dict() for r in rules]).decode(),
                note=note,
                created_by=me.id,
                created_at=now,
            )
            .returning(*points_rulesets.c)
        )
    ).one()
    out = _ruleset(row).as_dict()
    await setup.record(w, me, "points_rules_added", {"ruleset": out})
    return out


async def withdraw_ruleset(node: Node, me: Member, ruleset_id: int, now: datetime) -> None:
    if me.role != "admin":
        raise Forbidden("only an admin edits the points rules")
    async with node.writing() as w:
        r = (
            await w.conn.execute(
                sa.select(points_rulesets.c.valid_from).where(points_rulesets.c.id == ruleset_id)
            )
        ).first()
        if r is None:
            raise NotFound(f"no points rule set {ruleset_id}")
        if utc(r.valid_from) <= now:
            raise Conflict(
                f"rule set {ruleset_id} is in force since {iso(utc(r.valid_from))}: points "
                "were earned under it; add a new version instead"
            )
        await w.conn.execute(points_rulesets.delete().where(points_rulesets.c.id == ruleset_id))
        body = {"ruleset": {"id": ruleset_id, "valid_from": iso(utc(r.valid_from))}}
        await setup.record(w, me, "points_rules_withdrawn", body)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


# -- events -----------------------------------------------------------------------------


def _only(col: Any, deputies: set[int] | None) -> list[sa.ColumnElement[bool]]:
    return [] if deputies is None else [col.in_(sorted(deputies))]


@dataclass(frozen=True)
class Window:
    """Which events a source yields: of ``deputies`` (None: all), ``start <= time < end``."""

    deputies: set[int] | None
    start: datetime
    end: datetime
    now: datetime
    tz: tzinfo

    def rows(self, at: Any, person: Any) -> list[sa.ColumnElement[bool]]:
        """A source's rows in this window: ``start <= at < end``, ``person`` of ``deputies``."""
        return [at >= self.start, at < self.end, *_only(person, self.deputies)]


async def _registrations(conn: AsyncConnection, w: Window) -> list[Event]:
    """Confirmed registrations, at the activity's date (local midnight)."""
    r = registrations.c
    rows = await conn.execute(
        sa.select(r.id, r.deputy_id, r.kind, r.activity_date, r.title).where(
            r.state == "confirmed",
            r.activity_date >= w.start.astimezone(w.tz).date(),
            r.activity_date <= w.end.astimezone(w.tz).date(),
            *_only(r.deputy_id, w.deputies),
        )
    )
    out = []
    for x in rows:
        ts = local_midnight(x.activity_date, w.tz)
        if w.start <= ts < w.end:
            key, event = f"registration:{x.id}", f"registration.{x.kind}"
            out.append(Event(int(x.deputy_id), key, event, ts, x.title))
    return out


async def _events(
    conn: AsyncConnection,
    w: Window,
    event: str,
    source: sa.FromClause,
    key: sa.ColumnElement[Any],
    person: sa.ColumnElement[Any],
    at: sa.ColumnElement[Any],
    title: sa.ColumnElement[Any],
    *where: sa.ColumnElement[bool],
) -> list[Event]:
    """One ``event`` per row of ``source`` in the window, keyed ``<event>:<key>``."""
    rows = await conn.execute(
        sa.select(key.label("key"), person.label("person"), at.label("at"), title.label("title"))
        .select_from(source)
        .where(*where, *w.rows(at, person))
    )
    return [Event(int(x.person), f"{event}:{x.key}", event, utc(x.at), x.title) for x in rows]


async def _checkins(conn: AsyncConnection, w: Window) -> list[Event]:
    c = checkins.c
    source = checkins.join(sittings, sittings.c.id == c.sitting_id)
    return await _events(conn, w, "attendance", source, c.sitting_id, c.user_id, c.ts,
                         sittings.c.title)  # fmt: skip


async def _speeches(conn: AsyncConnection, w: Window) -> list[Event]:
    """Speeches the convenor ended, at their start."""
    s = speech_requests.c
    source = speech_requests.join(sittings, sittings.c.id == s.sitting_id)
    return await _events(conn, w, "speech", source, s.id, s.user_id, s.started_at,
                         sittings.c.title, s.status == "done")  # fmt: skip


async def _absences(conn: AsyncConnection, w: Window) -> list[Event]:
    """Deputies expected at a sitting that has ended, not checked in, not on approved
    leave; at the sitting's start."""
    ended = (
        await conn.execute(
            sa.select(sittings).where(
                sittings.c.starts_at >= w.start,
                sittings.c.starts_at < w.end,
                ended_clause(w.now),
            )
        )
    ).all()
    if not ended:
        return []
    return [
        Event(
            m.deputy_id,
            f"absence:{m.sitting.id}",
            "absence",
            utc(m.sitting.starts_at),
            m.sitting.title,
        )
        for m in await marks(conn, ended, w.deputies)
        if m.status in ("absent", "leave_pending")
    ]


async def _opinions(conn: AsyncConnection, w: Window) -> list[Event]:
    o = opinions.c
    return await _events(conn, w, "opinion", opinions, o.id, o.deputy_id, o.created_at,
                         sa.func.substr(o.text, 1, 60))  # fmt: skip


async def _suggestions(conn: AsyncConnection, w: Window) -> list[Event]:
    """Suggestions by their author (at submission) and co-signers (at confirming), and
    the author's suggestions accepted (at the acceptance)."""
    d = item_deputies.c
    rows = await conn.execute(
        sa.select(items.c.id, items.c.title, items.c.created_at, d.deputy_id, d.role, d.answered_at)
        .join(items, items.c.id == d.item_id)
        .where(
            items.c.kind == SUGGESTION,
            d.status == "confirmed",
            d.role.in_(("author", "cosigner")),
            *_only(d.deputy_id, w.deputies),
        )
    )
    out = []
    authors: dict[int, list[int]] = defaultdict(list)
    titles: dict[int, str] = {}
    for x in rows:
        if x.role == "author":
            ts, key, event = utc(x.created_at), f"suggestion:{x.id}", "suggestion"
            authors[int(x.id)].append(int(x.deputy_id))
            titles[int(x.id)] = x.title
        else:
            ts, key, event = utc(x.answered_at), f"cosign:{x.id}", "cosign"
        if w.start <= ts < w.end:
            out.append(Event(int(x.deputy_id), key, event, ts, x.title))
    ids = sorted(authors)
    for part in in_chunks(ids):
        accepted = await conn.execute(
            sa.select(item_events.c.item_id, item_events.c.at).where(
                item_events.c.item_id.in_(part),
                item_events.c.action == "accept",
                item_events.c.at >= w.start,
                item_events.c.at < w.end,
            )
        )
        for a in accepted:
            item = int(a.item_id)
            for dep in authors[item]:
                key = f"suggestion_accepted:{item}"
                out.append(Event(dep, key, "suggestion_accepted", utc(a.at), titles[item]))
    return out


async def _evaluations(conn: AsyncConnection, w: Window) -> list[Event]:
    e = item_evaluations.c
    source = item_evaluations.join(items, items.c.id == e.item_id)
    return await _events(conn, w, "evaluation", source, e.id, e.deputy_id, e.at, items.c.title)


SOURCES: list[Callable[[AsyncConnection, Window], Awaitable[list[Event]]]] = [
    _registrations,
    _checkins,
    _absences,
    _speeches,
    _opinions,
    _suggestions,
    _evaluations,
]


async def collect(
    conn: AsyncConnection,
    deputies: set[int] | None,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: tzinfo,
) -> list[Event]:
    """Every event of ``deputies`` (None: all) with ``start <= time < end``, in time order."""
    w = Window(deputies, start, end, now, tz)
    out: list[Event] = []
    for source in SOURCES:
        out += await source(conn, w)
    out.sort(key=lambda e: (e.ts, e.key))
    return out


# -- scoring ----------------------------------------------------------------------------


def period_key(period: str, ts: datetime, tz: tzinfo) -> tuple[int, ...]:
    local = ts.astimezone(tz)
    if period == "month":
        return (local.year, local.month)
    if period == "quarter":
        return (local.year, (local.month - 1) // 3 + 1)
    return (local.year,)


def year_start(ts: datetime, tz: tzinfo) -> datetime:
    """The start of the calendar year (in ``tz``) of ``ts``: every cap period starts on or
    after it, so scoring from there counts each cap in full."""
    return local_midnight(date(ts.astimezone(tz).year, 1, 1), tz)


def score(
    events: Iterable[Event],
    rulesets: list[RuleSet],
    disputes: dict[tuple[int, str], dict[str, Any]],
    tz: tzinfo,
) -> list[tuple[Event, dict[str, Any]]]:
    """Entries for ``events`` (in time order), one per event a rule in force covers."""
    used: dict[tuple[int, str, tuple[int, ...]], Decimal] = defaultdict(Decimal)
    out = []
    for e in events:
        rs = in_force(rulesets, e.ts)
        rule = rs.rule_for(e.event) if rs is not None else None
        if rs is None or rule is None:
            continue
        dispute = disputes.get((e.deputy_id, e.key))
        voided = dispute is not None and dispute["state"] == "upheld"
        earned = Decimal(0) if voided else rule.points
        capped = False
        if earned > 0 and rule.cap is not None:
            room = (e.deputy_id, rule.event, period_key(rule.period, e.ts, tz))
            earned = min(earned, max(Decimal(0), rule.cap - used[room]))
            capped = earned < rule.points
            used[room] += earned
        entry = {
            "deputy_id": e.deputy_id,
            "key": e.key,
            "event": e.event,
            "rule": rule.event,
            "title": e.title,
            "ts": iso(e.ts),
            "points": number(earned),
            "rule_points": number(rule.points),
            "capped": capped,
            "voided": voided,
            "ruleset": rs.id,
            "dispute": dispute,
        }
        out.append((e, entry))
    return out


async def _disputes(
    conn: AsyncConnection, deputies: set[int] | None
) -> dict[tuple[int, str], dict[str, Any]]:
    """The latest dispute of each (deputy, entry)."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    rows = await conn.execute(
        sa.select(points_disputes)
        .where(*_only(points_disputes.c.deputy_id, deputies))
        .order_by(points_disputes.c.id)
    )
    for r in rows:
        out[(int(r.deputy_id), r.entry)] = {"id": int(r.id), "state": r.state}
    return out


@dataclass
class Tally:
    total: Decimal
    by_event: dict[str, Decimal]
    entries: list[dict[str, Any]]

    @classmethod
    def empty(cls) -> Tally:
        return cls(Decimal(0), defaultdict(Decimal), [])

    def as_dict(self, with_entries: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "total": number(self.total),
            "by_event": {k: number(v) for k, v in sorted(self.by_event.items())},
        }
        if with_entries:
            d["entries"] = self.entries
        return d


async def tally(
    conn: AsyncConnection,
    deputies: set[int] | None,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: tzinfo,
) -> dict[int, Tally]:
    """Points per deputy for events in ``[start, end)``, caps counted from the start of
    each cap period (events before ``start`` in the same period use up the cap)."""
    events = await collect(conn, deputies, year_start(start, tz), end, now, tz)
    entries = score(events, await load_rulesets(conn), await _disputes(conn, deputies), tz)
    out: dict[int, Tally] = {}
    for ev, e in entries:
        if start <= ev.ts < end:
            t = out.setdefault(ev.deputy_id, Tally.empty())
            p = Decimal(str(e["points"]))
            t.total += p
            t.by_event[e["rule"]] += p
            t.entries.append(e)
    return out


def check_points_reader(me: Member, deputy_id: int) -> None:
    if me.role in READERS_OF_ALL or (me.role == "deputy" and me.id == deputy_id):
        return
    raise Forbidden(f"a {me.role} may read only their own points")


# -- disputes ---------------------------------------------------------------------------


def dispute_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "deputy_id": int(r.deputy_id),
        "entry": r.entry,
        "reason": r.reason,
        "state": r.state,
        "created_at": iso(utc(r.created_at)),
        "resolved_by": None if r.resolved_by is None else int(r.resolved_by),
        "resolved_at": None if r.resolved_at is None else iso(utc(r.resolved_at)),
        "resolution": r.resolution,
    }


async def dispute(
    node: Node, me: Member, entry: str, reason: str, now: datetime, tz: tzinfo
) -> dict[str, Any]:
    """A deputy disputes one of their own entries; one open dispute per entry."""
    if me.role != "deputy":
        raise Forbidden("only the deputy whose points they are disputes an entry")
    async with node.writing() as w:
        mine = await collect(w.conn, {me.id}, datetime(1970, 1, 1, tzinfo=UTC), now, now, tz)
        if entry not in {e.key for e in mine}:
            raise NotFound(f"you have no points entry {entry!r}")
        open_ = (
            await w.conn.execute(
                sa.select(points_disputes.c.id).where(
                    points_disputes.c.deputy_id == me.id,
                    points_disputes.c.entry == entry,
                    points_disputes.c.state == "open",
                )
            )
        ).first()
        if open_ is not None:
            raise Conflict(f"entry {entry} is already disputed (dispute {open_.id})")
        row = (
            await w.conn.execute(
                points_disputes.insert()
                .values(
                    deputy_id=me.id,
                    entry=entry,
                    reason=reason.strip(),
                    state="open",
                    created_at=now,
                )
                .returning(*points_disputes.c)
            )
        ).one()
        out = dispute_dict(row)
        await w.append(f"deputy:{me.id}", "points.disputed", me, {"dispute": out})
    return out


async def resolve(
    node: Node, me: Member, dispute_id: int, upheld: bool, resolution: str, now: datetime
) -> dict[str, Any]:
    """An admin upholds (the entry counts 0) or rejects an open dispute, saying why."""
    if me.role != "admin":
        raise Forbidden("only an admin resolves points disputes")
    async with node.writing() as w:
        r = (
            await w.conn.execute(
                sa.select(points_disputes)
                .where(points_disputes.c.id == dispute_id)
                .with_for_update()
            )
        ).first()
        if r is None:
            raise NotFound(f"no points dispute {dispute_id}")
        if r.state != "open":
            raise Conflict(f"dispute {dispute_id} is already {r.state}", state=r.state)
        await w.conn.execute(
            points_disputes.update()
            .where(points_disputes.c.id == dispute_id)
            .values(
                state="upheld" if upheld else "rejected",
                resolved_by=me.id,
                resolved_at=now,
                resolution=resolution.strip(),
            )
        )
        row = (
            await w.conn.execute(
                sa.select(points_disputes).where(points_disputes.c.id == dispute_id)
            )
        ).one()
        out = dispute_dict(row)
        await w.append(f"deputy:{r.deputy_id}", "points.dispute_resolved", me, {"dispute": out})
    return out


async def list_disputes(
    conn: AsyncConnection, me: Member, state: str | None
) -> list[dict[str, Any]]:
    q = sa.select(points_disputes)
    if me.role == "deputy":
        q = q.where(points_disputes.c.deputy_id == me.id)
    elif me.role not in READERS_OF_ALL:
        raise Forbidden(f"a {me.role} may not read points disputes")
    if state is not None:
        q = q.where(points_disputes.c.state == state)
    return [dispute_dict(r) for r in await conn.execute(q.order_by(points_disputes.c.id))]
