"""Items handed over to units: commit-to-do items (马上办) and suggestions (代表建议).

Both kinds are rows of ``items`` and move through one lifecycle
(``hub.session.lifecycle``). Every action runs :func:`act` (or, for the two actions that
create an item, :func:`create_commit` and :func:`submit_suggestion`): in one
transaction it locks the item, checks the transition, applies the action's effect,
records one row in ``item_events`` and appends one message to every affected channel;
the messages are fanned out after the commit. A refused action changes nothing.

Who hears an action: ``desk:<meeting id>``, ``deputy:<id>`` of every deputy of the item
(including co-signers still asked to sign, and one who just declined), and
``unit:<id>`` of every unit on the item before or after the action (so a unit that
returned an item hears it being reassigned). Message kinds are in :data:`MESSAGE_KIND`;
each body is ``{"item": <summary>, "event": <event>}``.

Tables (the item timeline and statistics are built on ``item_events``):

* ``items`` — the current state of each item, its deadlines and its last reply.
* ``item_units`` — the lead unit (主办) and co-units (协办) now on the item, with each
  co-unit's opinion. Replaced on reassignment (the events keep the history).
* ``item_deputies`` — the item's deputies: ``author``/``cosigner`` of a suggestion,
  ``opinion`` for the deputies whose opinions became a commit-to-do item; a co-signer's
  ``status`` is ``pending``, ``confirmed`` or ``declined``.
* ``item_evaluations`` — append-only: one rating per deputy per handling round.
* ``item_events`` — append-only: one row per action (and per deadline alert), with who
  (``actor_id``, ``actor_role``, ``actor_unit_id``; the system is actor 0), what
  (``action``), when (``at``, from ``services.clock``), ``from_state``, ``to_state``,
  the handling ``round`` and the action's ``payload`` (JSON). The payload of each action
  is listed in ``docs/workflows.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels import Principal
from hub.clock import Clock
from hub.errors import BadRequest, Forbidden, NotFound
from hub.node import Writer
from hub.protocol import iso
from hub.session import lifecycle as lc
from hub.session.actions import aware, id_field, id_list, text_field, writing
from hub.session.deadline_rules import Deadlines, parse_deadline
from hub.session.opinions import commit_for_item, get_row
from hub.store.schema import BigId, meeting_participants, meetings, metadata, units, users

if TYPE_CHECKING:
    from hub.services import Services

COMMIT, SUGGESTION = "commit", "suggestion"
KINDS = (COMMIT, SUGGESTION)
GRADES = ("A", "B", "C", "D")  # solved, being solved, planned, for reference
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
CONTACT_METHODS = ("phone", "visit", "meeting", "message", "other")
MAX_REASON = 2000

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("meeting_id", BigId, sa.ForeignKey("meetings.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("round", sa.Integer, nullable=False, server_default="1"),
    sa.Column("complex", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sign_due", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reply_due", sa.DateTime(timezone=True), nullable=True),
    sa.Column("extension_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("extension_reason", sa.Text, nullable=True),
    sa.Column("grade", sa.String(1), nullable=True),
    sa.Column("reply_text", sa.Text, nullable=True),
    sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("review_reason", sa.Text, nullable=True),
    sa.Column("return_reason", sa.Text, nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_items_state", "state"),
    sa.Index("ix_items_meeting", "meeting_id", "kind"),
)

item_units = sa.Table(
    "item_units",
    metadata,
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("unit_id", BigId, sa.ForeignKey("units.id"), primary_key=True),
    sa.Column("role", sa.String(8), nullable=False),  # lead | co
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("opinion_due", sa.DateTime(timezone=True), nullable=True),
    sa.Column("opinion_text", sa.Text, nullable=True),
    sa.Column("opinion_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_item_units_unit", "unit_id"),
)

item_deputies = sa.Table(
    "item_deputies",
    metadata,
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),  # author | cosigner | opinion
    sa.Column("status", sa.String(10), nullable=False),  # confirmed | pending | declined
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_item_deputies_deputy", "deputy_id"),
)

item_evaluations = sa.Table(
    "item_evaluations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("rating", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("item_id", "round", "deputy_id", name="uq_item_evaluations_once"),
)

item_events = sa.Table(
    "item_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor_id", BigId, nullable=False),  # 0: the system (deadline alerts)
    sa.Column("actor_role", sa.String(20), nullable=False),
    sa.Column("actor_unit_id", BigId, nullable=True),
    sa.Column("from_state", sa.String(20), nullable=True),  # null: the item's creation
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_item_events_item", "item_id", "id"),
    sa.Index("ix_item_events_at", "at"),
)

MESSAGE_KIND = {
    "submit": "suggestion.submitted",
    "cosign": "suggestion.cosigned",
    "decline": "suggestion.declined",
    "accept": "suggestion.accepted",
    "not_accept": "suggestion.not_accepted",
    "hand_over": "item.handed_over",
    "sign": "item.signed",
    "return": "item.returned",
    "reassign": "item.reassigned",
    "co_opinion": "item.co_opinion",
    "contact": "item.contacted",
    "request_extension": "item.extension_requested",
    "approve_extension": "item.extension_approved",
    "refuse_extension": "item.extension_refused",
    "reply": "item.replied",
    "evaluate": "item.evaluated",
    "due_soon": "item.due_soon",
    "overdue": "item.overdue",
}


# -- reading one item -----------------------------------------------------------------


@dataclass
class Ctx:
    """One item as loaded inside a transaction: its row, units, deputies, evaluations."""

    row: Any
    units: list[Any]
    deputies: list[Any]
    evaluations: list[Any]  # of the current round

    @property
    def id(self) -> int:
        return int(self.row.id)

    @property
    def state(self) -> str:
        return str(self.row.state)

    @property
    def lead(self) -> int | None:
        return next((int(u.unit_id) for u in self.units if u.role == "lead"), None)

    @property
    def co(self) -> list[int]:
        return [int(u.unit_id) for u in self.units if u.role == "co"]

    @property
    def unit_ids(self) -> set[int]:
        return {int(u.unit_id) for u in self.units}

    def deputy_ids(self, *statuses: str) -> list[int]:
        return [int(d.deputy_id) for d in self.deputies if d.status in statuses]

    def facts(self) -> lc.Facts:
        missing: frozenset[int] = frozenset()
        if self.row.round == 1:
            missing = frozenset(
                int(u.unit_id) for u in self.units if u.role == "co" and u.opinion_at is None
            )
        return lc.Facts(
            cosigners_pending=frozenset(self.deputy_ids("pending")),
            deputies=frozenset(self.deputy_ids("confirmed")),
            evaluated=frozenset(int(e.deputy_id) for e in self.evaluations),
            unsatisfied=any(e.rating == "unsatisfied" for e in self.evaluations),
            co_opinions_missing=missing,
            extension_pending=self.row.extension_until is not None,
        )

    def relations(self, me: Principal) -> tuple[frozenset[str], int | None]:
        """The caller's actor roles on this item and the id guards compare (deputy or unit)."""
        if me.role == "secretariat":
            return frozenset({"secretariat"}), me.id
        if me.role == "deputy":
            rel = set()
            if me.id in self.deputy_ids("confirmed"):
                rel.add("deputy")
            if any(d.deputy_id == me.id and d.role == "cosigner" for d in self.deputies):
                rel.add("cosigner")  # the guard checks the signature is still pending
            return frozenset(rel), me.id
        if me.role == "unit" and me.unit_id is not None:
            rel = set()
            if me.unit_id == self.lead:
                rel.add("lead_unit")
            if me.unit_id in self.co:
                rel.add("co_unit")
            return frozenset(rel), me.unit_id
        return frozenset(), None

    def current_due(self) -> datetime | None:
        if self.state == lc.ASSIGNED:
            return aware(self.row.sign_due)
        if self.state in (lc.IN_PROGRESS, lc.REHANDLING):
            return aware(self.row.reply_due)
        return None


async def load(conn: AsyncConnection, item_id: int, lock: bool = False) -> Ctx:
    q = sa.select(items).where(items.c.id == item_id)
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    if row is None:
        raise NotFound(f"no item {item_id}")
    us = (
        await conn.execute(
            sa.select(item_units, units.c.name)
            .join(units, units.c.id == item_units.c.unit_id)
            .where(item_units.c.item_id == item_id)
            .order_by(sa.desc(item_units.c.role == "lead"), item_units.c.unit_id)
        )
    ).all()
    ds = (
        await conn.execute(
            sa.select(item_deputies, users.c.name)
            .join(users, users.c.id == item_deputies.c.deputy_id)
            .where(item_deputies.c.item_id == item_id)
            .order_by(item_deputies.c.deputy_id)
        )
    ).all()
    es = (
        await conn.execute(
            sa.select(item_evaluations)
            .where(item_evaluations.c.item_id == item_id, item_evaluations.c.round == row.round)
            .order_by(item_evaluations.c.id)
        )
    ).all()
    return Ctx(row, list(us), list(ds), list(es))


async def load_many(conn: AsyncConnection, ids: Sequence[int]) -> list[Ctx]:
    """Several items for a list, in the order of ``ids`` (without their evaluations)."""
    if not ids:
        return []
    rows = {r.id: r for r in await conn.execute(sa.select(items).where(items.c.id.in_(ids)))}
    us = await conn.execute(
        sa.select(item_units, units.c.name)
        .join(units, units.c.id == item_units.c.unit_id)
        .where(item_units.c.item_id.in_(ids))
        .order_by(sa.desc(item_units.c.role == "lead"), item_units.c.unit_id)
    )
    ds = await conn.execute(
        sa.select(item_deputies, users.c.name)
        .join(users, users.c.id == item_deputies.c.deputy_id)
        .where(item_deputies.c.item_id.in_(ids))
        .order_by(item_deputies.c.deputy_id)
    )
    out = {i: Ctx(rows[i], [], [], []) for i in ids}
    for u in us:
        out[u.item_id].units.append(u)
    for d in ds:
        out[d.item_id].deputies.append(d)
    return [out[i] for i in ids]


def _ts(v: datetime | None) -> str | None:
    return None if v is None else iso(v)


def summary(ctx: Ctx, now: datetime | None = None) -> dict[str, Any]:
    """The item as messages and lists show it (without its long text)."""
    r = ctx.row
    due = ctx.current_due()
    lead = next((u for u in ctx.units if u.role == "lead"), None)
    return {
        "id": r.id,
        "kind": r.kind,
        "meeting_id": r.meeting_id,
        "title": r.title,
        "state": r.state,
        "round": r.round,
        "complex": bool(r.complex),
        "lead_unit": None if lead is None else {"id": lead.unit_id, "name": lead.name},
        "co_units": [{"id": u.unit_id, "name": u.name} for u in ctx.units if u.role == "co"],
        "deputies": [
            {"id": d.deputy_id, "name": d.name, "role": d.role, "status": d.status}
            for d in ctx.deputies
        ],
        "sign_due": _ts(r.sign_due),
        "reply_due": _ts(r.reply_due),
        "due": _ts(due),
        "overdue": bool(due is not None and now is not None and due <= now),
        "extension_until": _ts(r.extension_until),
        "grade": r.grade,
        "created_at": iso(r.created_at),
        "handed_over_at": _ts(r.handed_over_at),
        "replied_at": _ts(r.replied_at),
        "closed_at": _ts(r.closed_at),
        "updated_at": iso(r.updated_at),
    }


def detail(ctx: Ctx, now: datetime, evaluations: Sequence[Any]) -> dict[str, Any]:
    """The whole item: its text, the last reply, co-unit opinions, every evaluation."""
    r = ctx.row
    return {
        **summary(ctx, now),
        "text": r.text,
        "extension_reason": r.extension_reason,
        "reply_text": r.reply_text,
        "review_reason": r.review_reason,
        "return_reason": r.return_reason,
        "unit_opinions": [
            {
                "unit_id": u.unit_id,
                "opinion_due": _ts(u.opinion_due),
                "text": u.opinion_text,
                "at": _ts(u.opinion_at),
            }
            for u in ctx.units
            if u.role == "co"
        ],
        "evaluations": [
            {
                "round": e.round,
                "deputy_id": e.deputy_id,
                "rating": e.rating,
                "reason": e.reason,
                "at": iso(e.at),
            }
            for e in evaluations
        ],
    }


def event_dict(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "item_id": e.item_id,
        "action": e.action,
        "actor": {"id": e.actor_id, "role": e.actor_role, "unit_id": e.actor_unit_id},
        "from": e.from_state,
        "to": e.to_state,
        "round": e.round,
        "payload": orjson.loads(e.payload),
        "at": iso(e.at),
    }


def can_read(me: Principal, ctx: Ctx) -> bool:
    if me.role in ("secretariat", "supervisor", "admin"):
        return True
    if me.role == "deputy":
        return me.id in ctx.deputy_ids("confirmed", "pending", "declined")
    return me.role == "unit" and me.unit_id in ctx.unit_ids


# -- writing --------------------------------------------------------------------------


async def record(
    w: Writer,
    ctx_before: Ctx | None,
    item_id: int,
    action: str,
    actor: Principal,
    from_state: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> Ctx:
    """Store the event of an action already applied and announce it; the item after."""
    after = await load(w.conn, item_id)
    eid = (
        await w.conn.execute(
            item_events.insert()
            .values(
                item_id=item_id,
                action=action,
                actor_id=actor.id,
                actor_role=actor.role,
                actor_unit_id=actor.unit_id,
                from_state=from_state,
                to_state=after.state,
                round=after.row.round,
                payload=orjson.dumps(payload).decode(),
                at=now,
            )
            .returning(item_events.c.id)
        )
    ).scalar_one()
    event = {
        "id": eid,
        "item_id": item_id,
        "action": action,
        "actor": {"id": actor.id, "name": actor.name, "role": actor.role, "unit_id": actor.unit_id},
        "from": from_state,
        "to": after.state,
        "round": after.row.round,
        "payload": payload,
        "at": iso(now),
    }
    body = {"item": summary(after, now), "event": event}
    for channel in audience(ctx_before, after):
        await w.append(channel, MESSAGE_KIND[action], actor, body)
    return after


def audience(before: Ctx | None, after: Ctx) -> list[str]:
    """Desk, then deputies, then units — of the item before or after the action."""
    deputies: set[int] = set()
    unit_ids: set[int] = set()
    for c in (before, after):
        if c is not None:
            deputies.update(c.deputy_ids("confirmed", "pending"))
            unit_ids |= c.unit_ids
    if before is not None:  # the co-signer who just declined hears it too
        deputies.update(set(before.deputy_ids("pending")) - set(after.deputy_ids("pending")))
    return [
        f"desk:{after.row.meeting_id}",
        *(f"deputy:{d}" for d in sorted(deputies)),
        *(f"unit:{u}" for u in sorted(unit_ids)),
    ]


async def _set_units(
    conn: AsyncConnection,
    ctx_kind: str,
    item_id: int,
    lead: int,
    co: list[int],
    dl: Deadlines,
    now: datetime,
) -> None:
    found = set(
        (await conn.execute(sa.select(units.c.id).where(units.c.id.in_([lead, *co])))).scalars()
    )
    for u in [lead, *co]:
        if u not in found:
            raise NotFound(f"no unit {u}")
    await conn.execute(item_units.delete().where(item_units.c.item_id == item_id))
    opinion_due = dl.due(f"{ctx_kind}.co_opinion", now)
    await conn.execute(
        item_units.insert(),
        # one shape for every row: an executemany takes its columns from the first
        [
            {
                "item_id": item_id,
                "unit_id": lead,
                "role": "lead",
                "assigned_at": now,
                "opinion_due": None,
            }
        ]
        + [
            {
                "item_id": item_id,
                "unit_id": u,
                "role": "co",
                "assigned_at": now,
                "opinion_due": opinion_due,
            }
            for u in co
        ],
    )


@dataclass(frozen=True)
class Assignment:
    lead: int
    co: list[int]
    deadline: datetime | None = None
    complex: bool | None = None


def parse_assignment(d: dict[str, Any], clock: Clock, kind: str | None) -> Assignment:
    lead = id_field(d, "lead_unit_id")
    assert lead is not None
    co = id_list(d, "co_unit_ids")
    if lead in co:
        raise BadRequest("`co_unit_ids` must not include the lead unit")
    deadline = None
    if d.get("deadline") is not None:
        if kind == SUGGESTION:
            raise BadRequest("a suggestion's deadlines follow the rules; use `complex` instead")
        deadline = parse_deadline(d["deadline"], "deadline", clock)
    cx = d.get("complex")
    if cx is not None:
        if not isinstance(cx, bool):
            raise BadRequest("`complex` must be true or false")
        if kind == COMMIT:
            raise BadRequest("`complex` applies to suggestions only")
    return Assignment(lead, list(co), deadline, cx)


async def _hand_over(
    conn: AsyncConnection,
    kind: str,
    item_id: int,
    a: Assignment,
    complex_: bool,
    dl: Deadlines,
    now: datetime,
) -> dict[str, Any]:
    """Put the units on the item and set its deadlines from ``now`` (a new hand-over)."""
    await _set_units(conn, kind, item_id, a.lead, a.co, dl, now)
    sign_due = dl.due(f"{kind}.sign", now)
    if a.deadline is not None:
        reply_due = a.deadline
    elif kind == SUGGESTION and complex_:
        reply_due = dl.due("suggestion.reply_complex", now)
    else:
        reply_due = dl.due(f"{kind}.reply", now)
    await conn.execute(
        items.update()
        .where(items.c.id == item_id)
        .values(
            handed_over_at=now,
            sign_due=sign_due,
            reply_due=reply_due,
            complex=complex_,
            extension_until=None,
            extension_reason=None,
        )
    )
    return {
        "lead_unit_id": a.lead,
        "co_unit_ids": a.co,
        "complex": complex_,
        "sign_due": iso(sign_due),
        "reply_due": iso(reply_due),
        "co_opinion_due": iso(dl.due(f"{kind}.co_opinion", now)) if a.co else None,
    }


# -- actions on an existing item ----------------------------------------------------------


def _reason(d: dict[str, Any], name: str = "reason", required: bool = True) -> str:
    return text_field(d, name, required=required, limit=MAX_REASON)


def parse(action: str, d: dict[str, Any], clock: Clock, kind: str | None = None) -> dict[str, Any]:
    """Validate an action's fields before anything is read or written."""
    if action in ("sign", "accept", "cosign"):
        return {"note": _reason(d, "note", required=False)}
    if action in ("return", "not_accept"):
        return {"reason": _reason(d)}
    if action in ("decline", "refuse_extension"):
        return {"reason": _reason(d, required=False)}
    if action in ("hand_over", "reassign"):
        return {"assignment": parse_assignment(d, clock, kind)}
    if action == "contact":
        method = d.get("method")
        if method not in CONTACT_METHODS:
            raise BadRequest(f"`method` must be one of {', '.join(CONTACT_METHODS)}")
        return {
            "deputy_id": id_field(d, "deputy_id", required=False),
            "method": method,
            "note": _reason(d, "note"),
        }
    if action == "request_extension":
        return {"until": parse_deadline(d.get("until"), "until", clock), "reason": _reason(d)}
    if action == "approve_extension":
        until = d.get("until")
        return {"until": None if until is None else parse_deadline(until, "until", clock)}
    if action == "co_opinion":
        return {"text": text_field(d, "text")}
    if action == "reply":
        grade = d.get("grade")
        if grade not in GRADES:
            raise BadRequest("`grade` must be A (solved), B (being solved), C (planned) or D")
        return {"grade": grade, "text": text_field(d, "text")}
    if action == "evaluate":
        rating = d.get("rating")
        if rating not in RATINGS:
            raise BadRequest(f"`rating` must be one of {', '.join(RATINGS)}")
        reason = _reason(d, required=rating == "unsatisfied")
        return {"rating": rating, "reason": reason or None}
    raise NotFound(f"no item action {action!r}")


async def act(
    s: Services, me: Principal, item_id: int, action: str, d: dict[str, Any]
) -> dict[str, Any]:
    """Take ``action`` on item ``item_id`` for ``me``; the item's summary after it."""
    async with writing(s) as w:
        return await act_in(w, s.clock, me, item_id, action, d)


async def act_in(
    w: Writer, clock: Clock, me: Principal, item_id: int, action: str, d: dict[str, Any]
) -> dict[str, Any]:
    """:func:`act` inside the caller's transaction."""
    now = clock.now()
    ctx = await load(w.conn, item_id, lock=True)
    rel, key = ctx.relations(me)
    t = lc.check(ctx.state, action, rel, ctx.facts(), key)
    args = parse(action, d, clock, ctx.row.kind)
    payload = await _effect(w.conn, clock, ctx, me, key, action, args, now)
    mid = await load(w.conn, item_id)
    nxt = t.resolve(mid.facts())
    values: dict[str, Any] = {"state": nxt, "updated_at": now}
    if nxt == lc.REHANDLING:
        dl = await Deadlines.load(w.conn, clock, now)
        values.update(
            round=ctx.row.round + 1,
            reply_due=dl.due(f"{ctx.row.kind}.rereply", now),
            extension_until=None,
            extension_reason=None,
        )
        payload["rereply_due"] = iso(values["reply_due"])
    if nxt == lc.CLOSED:
        values["closed_at"] = now
    await w.conn.execute(items.update().where(items.c.id == item_id).values(**values))
    after = await record(w, ctx, item_id, action, me, ctx.state, payload, now)
    return summary(after, now)


async def _effect(
    conn: AsyncConnection,
    clock: Clock,
    ctx: Ctx,
    me: Principal,
    key: int | None,
    action: str,
    args: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Apply the action's own changes (not the state); the event payload."""
    r = ctx.row
    upd = items.update().where(items.c.id == r.id)
    if action in ("cosign", "decline"):
        await conn.execute(
            item_deputies.update()
            .where(item_deputies.c.item_id == r.id, item_deputies.c.deputy_id == me.id)
            .values(status="confirmed" if action == "cosign" else "declined", answered_at=now)
        )
        return {k: v for k, v in args.items() if v}
    if action == "accept":
        await conn.execute(upd.values(review_reason=args["note"] or None))
        return {k: v for k, v in args.items() if v}
    if action == "not_accept":
        await conn.execute(upd.values(review_reason=args["reason"]))
        return args
    if action in ("hand_over", "reassign"):
        a: Assignment = args["assignment"]
        dl = await Deadlines.load(conn, clock, now)
        complex_ = bool(r.complex) if a.complex is None else a.complex
        return await _hand_over(conn, r.kind, r.id, a, complex_, dl, now)
    if action == "sign":
        return {k: v for k, v in args.items() if v}
    if action == "return":
        await conn.execute(upd.values(return_reason=args["reason"]))
        return {"reason": args["reason"], "unit_id": key}
    if action == "co_opinion":
        await conn.execute(
            item_units.update()
            .where(item_units.c.item_id == r.id, item_units.c.unit_id == key)
            .values(opinion_text=args["text"], opinion_at=now)
        )
        return {"unit_id": key, "text": args["text"]}
    if action == "contact":
        deputy = args["deputy_id"]
        if deputy is not None and deputy not in ctx.deputy_ids("confirmed"):
            raise BadRequest(f"deputy {deputy} is not a deputy of this item")
        return args
    if action == "request_extension":
        current = aware(r.reply_due)
        if current is not None and args["until"] <= current:
            raise BadRequest(f"`until` must be later than the current deadline {iso(current)}")
        await conn.execute(
            upd.values(extension_until=args["until"], extension_reason=args["reason"])
        )
        return {"until": iso(args["until"]), "reason": args["reason"]}
    if action == "approve_extension":
        until = args["until"] or aware(r.extension_until)
        assert until is not None  # the guard saw a pending request
        await conn.execute(upd.values(reply_due=until, extension_until=None, extension_reason=None))
        return {"until": iso(until), "previous_due": _ts(aware(r.reply_due))}
    if action == "refuse_extension":
        await conn.execute(upd.values(extension_until=None, extension_reason=None))
        return {k: v for k, v in args.items() if v}
    if action == "reply":
        await conn.execute(
            upd.values(
                grade=args["grade"],
                reply_text=args["text"],
                replied_at=now,
                extension_until=None,
                extension_reason=None,
            )
        )
        return args
    if action == "evaluate":
        await conn.execute(
            item_evaluations.insert().values(
                item_id=r.id,
                round=r.round,
                deputy_id=me.id,
                rating=args["rating"],
                reason=args["reason"],
                at=now,
            )
        )
        return {k: v for k, v in args.items() if v}
    raise AssertionError(action)  # every action of the table is handled above


# -- creating items -------------------------------------------------------------------------


async def _insert_item(
    conn: AsyncConnection,
    kind: str,
    meeting_id: int,
    title: str,
    text: str,
    state: str,
    me: Principal,
    now: datetime,
) -> int:
    return int(
        (
            await conn.execute(
                items.insert()
                .values(
                    kind=kind,
                    meeting_id=meeting_id,
                    title=title,
                    text=text,
                    state=state,
                    round=1,
                    complex=False,
                    created_by=me.id,
                    created_at=now,
                    updated_at=now,
                )
                .returning(items.c.id)
            )
        ).scalar_one()
    )


async def create_commit(s: Services, me: Principal, d: dict[str, Any]) -> dict[str, Any]:
    """A commit-to-do item from one or more opinions, handed over at once."""
    async with writing(s) as w:
        return await create_commit_in(w, s.clock, me, d)


async def create_commit_in(
    w: Writer, clock: Clock, me: Principal, d: dict[str, Any]
) -> dict[str, Any]:
    """:func:`create_commit` inside the caller's transaction."""
    ids = id_list(d, "opinion_ids", allow_empty=False)
    title = text_field(d, "title", limit=300)
    text = text_field(d, "text", required=False)
    a = parse_assignment(d, clock, COMMIT)
    staff = frozenset({"secretariat"} if me.role == "secretariat" else ())
    lc.check(None, "hand_over", staff, lc.Facts(), me.id)
    now = clock.now()
    # the item takes the meeting of its opinions
    first = await get_row(w.conn, ids[0])
    item_id = await _insert_item(
        w.conn, COMMIT, first.meeting_id, title, text, lc.ASSIGNED, me, now
    )
    deputies, texts = await commit_for_item(w.conn, me, ids, item_id, now)
    if not text:
        await w.conn.execute(
            items.update().where(items.c.id == item_id).values(text="\n\n".join(texts))
        )
    await w.conn.execute(
        item_deputies.insert(),
        [
            {"item_id": item_id, "deputy_id": dep, "role": "opinion", "status": "confirmed"}
            for dep in deputies
        ],
    )
    dl = await Deadlines.load(w.conn, clock, now)
    payload = await _hand_over(w.conn, COMMIT, item_id, a, False, dl, now)
    payload = {"opinion_ids": ids, "title": title, **payload}
    after = await record(w, None, item_id, "hand_over", me, None, payload, now)
    return summary(after, now)


async def submit_suggestion(s: Services, me: Principal, d: dict[str, Any]) -> dict[str, Any]:
    """A deputy's suggestion, alone or jointly: co-signers are asked to confirm."""
    async with writing(s) as w:
        return await submit_suggestion_in(w, s.clock, me, d)


async def submit_suggestion_in(
    w: Writer, clock: Clock, me: Principal, d: dict[str, Any]
) -> dict[str, Any]:
    """:func:`submit_suggestion` inside the caller's transaction."""
    meeting_id = id_field(d, "meeting_id")
    assert meeting_id is not None
    title = text_field(d, "title", limit=300)
    text = text_field(d, "text")
    cos = id_list(d, "cosigner_ids")
    if me.id in cos:
        raise BadRequest("`cosigner_ids` must not include yourself")
    now = clock.now()
    if (
        await w.conn.execute(sa.select(meetings.c.id).where(meetings.c.id == meeting_id))
    ).first() is None:
        raise NotFound(f"no meeting {meeting_id}")
    author = frozenset({"author"} if me.role == "deputy" and meeting_id in me.meetings else ())
    if me.role == "deputy" and not author:
        raise Forbidden(f"you do not participate in meeting {meeting_id}")
    t = lc.check(None, "submit", author, lc.Facts(), me.id)
    if cos:
        ok = set(
            (
                await w.conn.execute(
                    sa.select(users.c.id)
                    .join(
                        meeting_participants,
                        meeting_participants.c.user_id == users.c.id,
                    )
                    .where(
                        users.c.id.in_(cos),
                        users.c.role == "deputy",
                        meeting_participants.c.meeting_id == meeting_id,
                    )
                )
            ).scalars()
        )
        bad = [c for c in cos if c not in ok]
        if bad:
            raise BadRequest(f"co-signers must be deputies of meeting {meeting_id}: not {bad}")
    state = t.resolve(lc.Facts(cosigners_pending=frozenset(cos)))
    item_id = await _insert_item(w.conn, SUGGESTION, meeting_id, title, text, state, me, now)
    await w.conn.execute(
        item_deputies.insert(),
        [
            {
                "item_id": item_id,
                "deputy_id": me.id,
                "role": "author",
                "status": "confirmed",
                "answered_at": now,
            }
        ]
        + [
            {
                "item_id": item_id,
                "deputy_id": c,
                "role": "cosigner",
                "status": "pending",
                "answered_at": None,
            }
            for c in cos
        ],
    )
    payload = {"title": title, "text": text, "cosigner_ids": cos}
    after = await record(w, None, item_id, "submit", me, None, payload, now)
    return summary(after, now)


# -- reading --------------------------------------------------------------------------------


async def get(s: Services, me: Principal, item_id: int) -> dict[str, Any]:
    async with s.log.reading() as conn:
        ctx = await load(conn, item_id)
        if not can_read(me, ctx):
            raise Forbidden(f"item {item_id} is not yours")
        evaluations = (
            await conn.execute(
                sa.select(item_evaluations)
                .where(item_evaluations.c.item_id == item_id)
                .order_by(item_evaluations.c.id)
            )
        ).all()
    return detail(ctx, s.clock.now(), evaluations)


async def events(s: Services, me: Principal, item_id: int) -> list[dict[str, Any]]:
    """The item's timeline, oldest first."""
    async with s.log.reading() as conn:
        ctx = await load(conn, item_id)
        if not can_read(me, ctx):
            raise Forbidden(f"item {item_id} is not yours")
        rows = await conn.execute(
            sa.select(item_events)
            .where(item_events.c.item_id == item_id)
            .order_by(item_events.c.id)
        )
        return [event_dict(e) for e in rows]


def due_expr() -> sa.ColumnElement[Any]:
    """The deadline the item is waiting on now: signing, or the (second) reply."""
    return sa.case(
        (items.c.state == lc.ASSIGNED, items.c.sign_due),
        (items.c.state.in_([lc.IN_PROGRESS, lc.REHANDLING]), items.c.reply_due),
        else_=sa.null(),
    )


@dataclass(frozen=True)
class Filters:
    meeting_id: int | None = None
    kind: str | None = None
    states: tuple[str, ...] = ()
    unit_id: int | None = None
    deputy_id: int | None = None
    overdue: bool = False
    limit: int = 100
    offset: int = 0


async def listing(s: Services, me: Principal, f: Filters) -> dict[str, Any]:
    """Items the caller may see: a deputy their own, a unit its own, staff every item."""
    if f.kind is not None and f.kind not in KINDS:
        raise BadRequest(f"`kind` must be one of {', '.join(KINDS)}")
    for st in f.states:
        if st not in lc.STATES:
            raise BadRequest(f"unknown state {st!r}: expected one of {', '.join(lc.STATES)}")
    now = s.clock.now()
    conds: list[sa.ColumnElement[bool]] = []
    if me.role == "deputy":
        conds.append(
            items.c.id.in_(
                sa.select(item_deputies.c.item_id).where(item_deputies.c.deputy_id == me.id)
            )
        )
    elif me.role == "unit":
        conds.append(
            items.c.id.in_(
                sa.select(item_units.c.item_id).where(item_units.c.unit_id == me.unit_id)
            )
        )
    elif me.role not in ("secretariat", "supervisor", "admin"):
        raise Forbidden(f"a {me.role} has no items")
    if f.meeting_id is not None:
        conds.append(items.c.meeting_id == f.meeting_id)
    if f.kind is not None:
        conds.append(items.c.kind == f.kind)
    if f.states:
        conds.append(items.c.state.in_(f.states))
    if f.unit_id is not None:
        conds.append(
            items.c.id.in_(sa.select(item_units.c.item_id).where(item_units.c.unit_id == f.unit_id))
        )
    if f.deputy_id is not None:
        conds.append(
            items.c.id.in_(
                sa.select(item_deputies.c.item_id).where(item_deputies.c.deputy_id == f.deputy_id)
            )
        )
    order: list[Any] = [items.c.id]
    if f.overdue:
        conds.append(due_expr() <= now)
        order = [due_expr(), items.c.id]
    async with s.log.reading() as conn:
        total = (
            await conn.execute(sa.select(sa.func.count()).select_from(items).where(*conds))
        ).scalar_one()
        ids = (
            (
                await conn.execute(
                    sa.select(items.c.id)
                    .where(*conds)
                    .order_by(*order)
                    .limit(f.limit)
                    .offset(f.offset)
                )
            )
            .scalars()
            .all()
        )
        out = [summary(c, now) for c in await load_many(conn, ids)]
    return {"items": out, "total": int(total)}
