"""Item timelines: every step of a commit-to-do item or suggestion, how long each stage
took, and which deadlines were met.

Built on ``item_events`` (``hub.session.items``), the append-only record of every action
on an item with who, when, the state before and after and the action's payload. From the
events alone, :func:`analyse` derives:

**Stages** (seconds; None while not reached):

* ``review``: from the suggestion reaching the secretariat (``submitted``) to its
  acceptance or refusal;
* ``sign``: from the hand-over (or reassignment) that was signed for, to the signature;
* ``reply``: from the signature to the first reply;
* ``rereply``: per re-handling, from the unsatisfied evaluation to the next reply;
* ``close``: from the item's creation to ``closed``; ``handling``: from the first
  hand-over to ``closed``.

**Deadlines**, each with its unit, its due time (as the hand-over set it, moved by
approved extensions) and a status: ``met`` (done by the due time), ``missed`` (done
later), ``overdue`` (not done, due time passed), ``pending`` (not done, still time) or
``superseded`` (the item was reassigned or re-handled before it was done):

* ``sign``: the lead unit signs for the item, or returns it (an answer in time too);
* ``reply``: the lead unit's first reply; ``rereply``: the reply after an unsatisfied
  evaluation (due ``rereply_due``);
* ``co_opinion``: each co-unit's opinion to the lead unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import Forbidden, NotFound
from hub.protocol import iso, utc
from hub.session import lifecycle as lc
from hub.session.items import item_deputies, item_event, item_events, item_units, items
from hub.session.members import Member
from hub.session.schema import units, users
from hub.store.engine import in_chunks


@dataclass
class Deadline:
    deadline: str  # sign | reply | rereply | co_opinion
    round: int
    unit_id: int | None
    due: datetime | None
    done_at: datetime | None = None
    status: str = "pending"
    extended_from: datetime | None = None

    def settle(self, at: datetime) -> None:
        self.done_at = at
        self.status = "met" if self.due is None or at <= self.due else "missed"

    def as_dict(self, unit_names: dict[int, str]) -> dict[str, Any]:
        return {
            "deadline": self.deadline,
            "round": self.round,
            "unit": None
            if self.unit_id is None
            else {"id": self.unit_id, "name": unit_names.get(self.unit_id, "")},
            "due": None if self.due is None else iso(self.due),
            "done_at": None if self.done_at is None else iso(self.done_at),
            "status": self.status,
            "extended_from": None if self.extended_from is None else iso(self.extended_from),
        }


@dataclass
class Timeline:
    item_id: int
    kind: str
    meeting_id: int
    state: str
    created_at: datetime
    steps: list[dict[str, Any]] = field(default_factory=list)
    review: float | None = None
    sign: float | None = None
    sign_unit: int | None = None
    reply: float | None = None
    reply_unit: int | None = None
    rereply: list[float] = field(default_factory=list)
    close: float | None = None
    handling: float | None = None
    first_hand_over: datetime | None = None
    first_reply: datetime | None = None
    closed_at: datetime | None = None
    deadlines: list[Deadline] = field(default_factory=list)

    def stages(self) -> dict[str, Any]:
        return {
            "review_s": self.review,
            "sign_s": self.sign,
            "reply_s": self.reply,
            "rereply_s": self.rereply,
            "close_s": self.close,
            "handling_s": self.handling,
        }


def _secs(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def _due(payload: dict[str, Any], name: str) -> datetime | None:
    v = payload.get(name)
    return None if not v else datetime.fromisoformat(v.replace("Z", "+00:00"))


@dataclass
class _Reading:
    """What reading an item's events carries from one event to the next."""

    t: Timeline
    open_: dict[tuple[str, int | None], Deadline] = field(default_factory=dict)
    submitted_at: datetime | None = None
    assigned_at: datetime | None = None  # the hand-over now waiting for a signature
    signed_at: datetime | None = None
    rehandling_at: datetime | None = None
    lead: int | None = None

    def supersede(self, *names: str) -> None:
        for key in [k for k in self.open_ if k[0] in names]:
            self.open_.pop(key).status = "superseded"

    def expect(self, name: str, rnd: int, unit: int | None, due: datetime | None) -> None:
        d = Deadline(name, rnd, unit, due)
        self.open_[(name, unit)] = d
        self.t.deadlines.append(d)

    def settle(self, name: str, unit: int | None, at: datetime) -> None:
        d = self.open_.pop((name, unit), None)
        if d is not None:
            d.settle(at)


Reader = Callable[[_Reading, Any, datetime, dict[str, Any]], None]


def _reviewed(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    if r.submitted_at is not None:
        r.t.review = _secs(r.submitted_at, at)


def _handed_over(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    r.supersede("sign", "reply", "co_opinion")
    r.assigned_at = at
    r.t.first_hand_over = r.t.first_hand_over or at
    r.lead = payload.get("lead_unit_id")
    r.expect("sign", int(e.round), r.lead, _due(payload, "sign_due"))
    r.expect("reply", int(e.round), r.lead, _due(payload, "reply_due"))
    for co in payload.get("co_unit_ids") or []:
        r.expect("co_opinion", int(e.round), co, _due(payload, "co_opinion_due"))


def _signed(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    r.settle("sign", r.lead, at)
    r.signed_at = at
    if r.assigned_at is not None:
        r.t.sign = _secs(r.assigned_at, at)
        r.t.sign_unit = r.lead


def _returned(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    r.settle("sign", r.lead, at)  # an answer in time too
    r.supersede("reply", "co_opinion")


def _co_opinion(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    r.settle("co_opinion", payload.get("unit_id"), at)


def _extended(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    for name in ("reply", "rereply"):
        d = r.open_.get((name, r.lead))
        if d is not None:
            d.extended_from = d.extended_from or d.due
            d.due = _due(payload, "until")


def _replied(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    for name in ("reply", "rereply"):
        r.settle(name, r.lead, at)
    t = r.t
    if r.rehandling_at is not None:
        t.rereply.append(_secs(r.rehandling_at, at))
        r.rehandling_at = None
    elif t.first_reply is None:
        t.first_reply = at
        if r.signed_at is not None:
            t.reply = _secs(r.signed_at, at)
            t.reply_unit = r.lead


def _evaluated(r: _Reading, e: Any, at: datetime, payload: dict[str, Any]) -> None:
    if e.to_state == lc.REHANDLING:
        r.rehandling_at = at
        r.supersede("co_opinion")
        r.expect("rereply", int(e.round), r.lead, _due(payload, "rereply_due"))


READERS: dict[str, Reader] = {
    "accept": _reviewed,
    "not_accept": _reviewed,
    "hand_over": _handed_over,
    "reassign": _handed_over,
    "sign": _signed,
    "return": _returned,
    "co_opinion": _co_opinion,
    "approve_extension": _extended,
    "reply": _replied,
    "evaluate": _evaluated,
    "close_unevaluated": _evaluated,  # re-handling when an unsatisfied rating was given
}
"""How the timeline reads each action that starts or ends a stage or a deadline; the
others (contact, an extension request or refusal, co-signing, alerts) are steps only."""

# Checked at import: a reader for an action the lifecycle does not declare (renamed or
# gone) would silently read nothing.
if not set(READERS) <= set(lc.ACTION):
    raise ImportError(f"timeline readers of undeclared actions: {set(READERS) - set(lc.ACTION)}")


def analyse(item: Any, events: list[Any], now: datetime) -> Timeline:
    """Stages and deadlines of one item from its events (oldest first)."""
    t = Timeline(int(item.id), item.kind, int(item.meeting_id), item.state, utc(item.created_at))
    r = _Reading(t)
    prev_at: datetime | None = None
    for e in events:
        at = utc(e.at)
        step = item_event(e)
        step["since_previous_s"] = None if prev_at is None else _secs(prev_at, at)
        t.steps.append(step)
        prev_at = at
        if e.to_state == lc.SUBMITTED and r.submitted_at is None:
            r.submitted_at = at
        reader = READERS.get(e.action)
        if reader is not None:
            reader(r, e, at, step["payload"])
        if e.to_state == lc.CLOSED:
            t.closed_at = at
            t.close = _secs(t.created_at, at)
            if t.first_hand_over is not None:
                t.handling = _secs(t.first_hand_over, at)
    for d in r.open_.values():
        if d.due is not None and d.due <= now:
            d.status = "overdue"
    return t


async def load_events(conn: AsyncConnection, item_ids: list[int]) -> dict[int, list[Any]]:
    """The events of each item, oldest first."""
    out: dict[int, list[Any]] = {i: [] for i in item_ids}
    for part in in_chunks(item_ids):
        rows = await conn.execute(
            sa.select(item_events)
            .where(item_events.c.item_id.in_(part))
            .order_by(item_events.c.item_id, item_events.c.id)
        )
        for r in rows:
            out[int(r.item_id)].append(r)
    return out


async def check_item_reader(conn: AsyncConnection, me: Member, item_id: int) -> Any:
    """The item row; a deputy reads only their items, a unit only items it is (or was)
    on, the secretariat, supervisors and admins every item."""
    row = (await conn.execute(sa.select(items).where(items.c.id == item_id))).first()
    if row is None:
        raise NotFound(f"no item {item_id}")
    if me.role in ("secretariat", "supervisor", "admin"):
        return row
    if me.role == "deputy":
        mine = await conn.execute(
            sa.select(item_deputies.c.item_id).where(
                item_deputies.c.item_id == item_id, item_deputies.c.deputy_id == me.id
            )
        )
        if mine.first() is not None:
            return row
    elif me.role == "unit" and me.unit_id is not None:
        now_on = await conn.execute(
            sa.select(item_units.c.item_id).where(
                item_units.c.item_id == item_id, item_units.c.unit_id == me.unit_id
            )
        )
        was_on = await conn.execute(
            sa.select(item_events.c.id).where(
                item_events.c.item_id == item_id, item_events.c.actor_unit_id == me.unit_id
            )
        )
        if now_on.first() is not None or was_on.first() is not None:
            return row
    raise Forbidden(f"item {item_id} is not yours")


async def timeline(
    conn: AsyncConnection, me: Member, item_id: int, now: datetime
) -> dict[str, Any]:
    """One item's timeline for the caller."""
    row = await check_item_reader(conn, me, item_id)
    evs = (await load_events(conn, [item_id]))[item_id]
    t = analyse(row, evs, now)
    actor_ids = {s["actor"]["id"] for s in t.steps}
    names = {
        int(r.id): r.name
        for r in await conn.execute(
            sa.select(users.c.id, users.c.name).where(users.c.id.in_(actor_ids))
        )
    }
    unit_ids = {d.unit_id for d in t.deadlines if d.unit_id is not None}
    unit_ids |= {s["actor"]["unit_id"] for s in t.steps if s["actor"]["unit_id"] is not None}
    unit_names = {
        int(r.id): r.name
        for r in await conn.execute(
            sa.select(units.c.id, units.c.name).where(units.c.id.in_(unit_ids))
        )
    }
    for s in t.steps:
        a = s["actor"]
        a["name"] = names.get(a["id"], "会议系统" if a["id"] == 0 else "")
        a["unit_name"] = None if a["unit_id"] is None else unit_names.get(a["unit_id"], "")
    return {
        "item": {
            "id": t.item_id,
            "kind": t.kind,
            "meeting_id": t.meeting_id,
            "title": row.title,
            "state": t.state,
            "created_at": iso(t.created_at),
            "closed_at": None if t.closed_at is None else iso(t.closed_at),
        },
        "steps": t.steps,
        "stages": t.stages(),
        "deadlines": [d.as_dict(unit_names) for d in t.deadlines],
    }
