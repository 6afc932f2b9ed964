"""Items handed over to units: commit-to-do items (马上办) and suggestions (代表建议).

Both kinds are rows of ``items`` and move through one lifecycle
(``hub.session.lifecycle``). Every action runs :func:`act` (or, for the two actions that
create an item, :func:`create_commit` and ``hub.session.suggestions.submit``): in one
transaction it locks the item, checks the transition, applies the action's effect,
records one row in ``item_events`` and appends one message to every affected channel;
the messages are fanned out after the commit. A refused action changes nothing.

Who hears an action: ``desk:<meeting id>``, ``deputy:<id>`` of every deputy of the item
(including co-signers still asked to sign, and one who just declined), and
``unit:<id>`` of every unit on the item before or after the action (so a unit that
returned an item hears it being reassigned). Each action's message kind is declared with
it in ``hub.session.lifecycle``;
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
* The deputies' feedback — the contacts the lead unit recorded with what each deputy said
  of them, the follow-up questions and their answers — has no table: it is read from the
  item's ``contact``, ``confirm_contact``, ``dispute_contact``, ``ask`` and ``answer``
  events (:func:`threads`).
* ``item_seen`` — when a unit's account last saw an item (opened it, acknowledged the
  hand-over alert, or acted on it): one row per person and item, moved forward each
  time. Not part of the log and not a workflow step (:func:`mark_seen`); an item counts
  as seen since its last hand-over (:func:`is_seen`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
import orjson
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.errors import BadRequest, Forbidden, NotFound
from hub.node import Writer
from hub.protocol import iso, iso_or_none, utc
from hub.session import lifecycle as lc
from hub.session.common import aware
from hub.session.deadline_rules import Deadlines
from hub.session.lifecycle import COMMIT, MESSAGE_KIND, Assignment
from hub.session.lifecycle import RATINGS as RATINGS  # the supervision reports read them here
from hub.session.lifecycle import SUGGESTION as SUGGESTION
from hub.session.members import CONTACTS, Member
from hub.session.opinions import commit_for_item, get_row
from hub.session.schema import units, users
from hub.shapes import (
    DISTINCT,
    Body,
    Id,
    MaybeText,
    Named,
    Page,
    Shape,
    Timestamp,
    Title,
    Words,
    one_or_more,
)
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.services import Services


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
    # the deputies' evaluation deadline, set by each reply (rule ``<kind>.evaluation``)
    sa.Column("evaluation_due", sa.DateTime(timezone=True), nullable=True),
    # how a closed item was closed: ``evaluated`` or ``no_evaluation`` (lifecycle)
    sa.Column("closed_reason", sa.String(20), nullable=True),
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

item_seen = sa.Table(
    "item_seen",
    metadata,
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

# -- the deputies' feedback: recorded contacts and follow-up questions ------------------

FEEDBACK = ("contact", "confirm_contact", "dispute_contact", "ask", "answer")
"""The actions whose events make the contacts and questions of an item (:func:`threads`)."""


@dataclass
class ContactThread:
    """A contact the lead unit recorded, and what each deputy it concerns said of it."""

    id: int  # its event's id
    at: datetime
    unit_id: int | None
    method: str
    note: str
    deputy_ids: list[int]  # the deputies it concerns
    feedback: dict[int, tuple[bool, str | None, datetime]]  # deputy -> confirmed, reason, at

    def waiting(self) -> list[int]:
        """The deputies yet to confirm or dispute it."""
        return [d for d in self.deputy_ids if d not in self.feedback]


@dataclass
class QuestionThread:
    """A deputy's follow-up question and the lead unit's answer (None: still waiting)."""

    id: int  # its event's id
    at: datetime
    deputy_id: int
    text: str
    answer: tuple[str, int | None, datetime] | None = None  # text, unit, at


@dataclass
class Threads:
    contacts: list[ContactThread]
    questions: list[QuestionThread]

    def contact_for(self, me: int, contact_id: int | None) -> ContactThread:
        """The contact ``me`` confirms or disputes: ``contact_id``, or the oldest waiting
        for them; refused (``bad_request``, ``field: contact_id``) when it is none of the
        item's or does not wait for them."""
        if contact_id is None:
            c = next((c for c in self.contacts if me in c.waiting()), None)
            assert c is not None  # the guard saw one waiting
            return c
        c = next((c for c in self.contacts if c.id == contact_id), None)
        if c is None:
            raise BadRequest(
                f"no recorded contact {contact_id} on this item",
                field="contact_id",
                reason="unknown_contact",
            )
        if me not in c.waiting():
            raise BadRequest(
                f"contact {contact_id} does not wait for your confirmation",
                field="contact_id",
                reason="contact_not_waiting",
            )
        return c

    def question_for(self, question_id: int | None) -> QuestionThread:
        """The question answered: ``question_id``, or the oldest waiting; refused
        (``bad_request``, ``field: question_id``) when it is none of the item's or is
        answered."""
        open_ = [q for q in self.questions if q.answer is None]
        if question_id is None:
            assert open_  # the guard saw one waiting
            return open_[0]
        q = next((q for q in self.questions if q.id == question_id), None)
        if q is None:
            raise BadRequest(
                f"no follow-up question {question_id} on this item",
                field="question_id",
                reason="unknown_question",
            )
        if q.answer is not None:
            raise BadRequest(
                f"question {question_id} is already answered",
                field="question_id",
                reason="question_answered",
            )
        return q


def threads(events: Sequence[Any], deputies: Sequence[int]) -> Threads:
    """The item's contacts and questions from its :data:`FEEDBACK` events (oldest first).
    A contact without ``deputy_id`` concerns every confirmed deputy of the item."""
    contacts: dict[int, ContactThread] = {}
    questions: dict[int, QuestionThread] = {}
    for e in events:
        p = orjson.loads(e.payload)
        at = utc(e.at)
        if e.action == "contact":
            who = [int(p["deputy_id"])] if p.get("deputy_id") is not None else list(deputies)
            unit = None if e.actor_unit_id is None else int(e.actor_unit_id)
            contacts[int(e.id)] = ContactThread(
                int(e.id), at, unit, p["method"], p["note"], who, {}
            )
        elif e.action in ("confirm_contact", "dispute_contact"):
            c = contacts.get(int(p["contact_id"]))
            if c is not None:
                ok = e.action == "confirm_contact"
                c.feedback[int(e.actor_id)] = (ok, p.get("reason"), at)
        elif e.action == "ask":
            questions[int(e.id)] = QuestionThread(int(e.id), at, int(e.actor_id), p["text"])
        elif e.action == "answer":
            q = questions.get(int(p["question_id"]))
            if q is not None:
                unit = None if e.actor_unit_id is None else int(e.actor_unit_id)
                q.answer = (p["text"], unit, at)
    return Threads(list(contacts.values()), list(questions.values()))


# -- reading one item -----------------------------------------------------------------


@dataclass
class Ctx:
    """One item as loaded inside a transaction: its row, units, deputies, evaluations."""

    row: Any
    units: list[Any]
    deputies: list[Any]
    evaluations: list[Any]  # of the current round
    feedback: list[Any] = field(default_factory=list)  # its FEEDBACK events, oldest first

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

    def facts(self, now: datetime | None = None) -> lc.Facts:
        """What the guards look at, at ``now`` (the evaluation deadline is time-bound)."""
        missing: frozenset[int] = frozenset()
        if self.row.round == 1:
            missing = frozenset(
                int(u.unit_id) for u in self.units if u.role == "co" and u.opinion_at is None
            )
        fb = self.threads()
        return lc.Facts(
            contacts_waiting=frozenset(d for c in fb.contacts for d in c.waiting()),
            asking=frozenset(q.deputy_id for q in fb.questions if q.answer is None),
            cosigners_pending=frozenset(self.deputy_ids("pending")),
            deputies=frozenset(self.deputy_ids("confirmed")),
            evaluated=frozenset(int(e.deputy_id) for e in self.evaluations),
            unsatisfied=any(e.rating == "unsatisfied" for e in self.evaluations),
            co_opinions_missing=missing,
            extension_pending=self.row.extension_until is not None,
            evaluation_due=aware(self.row.evaluation_due),
            evaluation_overdue=self.evaluation_overdue(now),
        )

    def threads(self) -> Threads:
        """The recorded contacts with the deputies' feedback, and the follow-up questions
        with their answers (:func:`threads`)."""
        return threads(self.feedback, self.deputy_ids("confirmed"))

    def evaluation_overdue(self, now: datetime | None) -> bool:
        """Has the deputies' evaluation deadline of this round passed at ``now``? (An item
        replied before the deadline existed has none: it has passed.)"""
        due = aware(self.row.evaluation_due)
        return due is None or (now is not None and due <= now)

    def relations(self, me: Member) -> tuple[frozenset[str], int | None]:
        """The caller's actor roles on this item and the id guards compare (deputy or unit);
        with ``party`` when one of them is (``lifecycle.PARTIES``)."""
        rel, key = self._relations(me)
        return (rel | {"party"} if rel & lc.PARTIES else rel), key

    def _relations(self, me: Member) -> tuple[frozenset[str], int | None]:
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
    fb = (
        await conn.execute(
            sa.select(item_events)
            .where(item_events.c.item_id == item_id, item_events.c.action.in_(FEEDBACK))
            .order_by(item_events.c.id)
        )
    ).all()
    return Ctx(row, list(us), list(ds), list(es), list(fb))


async def load_many(conn: AsyncConnection, ids: Sequence[int]) -> list[Ctx]:
    """Several items for a list, in the order of ``ids`` (with the current round's
    evaluations, which decide who may still evaluate)."""
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
    es = await conn.execute(
        sa.select(item_evaluations)
        .join(items, items.c.id == item_evaluations.c.item_id)
        .where(item_evaluations.c.item_id.in_(ids), item_evaluations.c.round == items.c.round)
        .order_by(item_evaluations.c.id)
    )
    fb = await conn.execute(
        sa.select(item_events)
        .where(item_events.c.item_id.in_(ids), item_events.c.action.in_(FEEDBACK))
        .order_by(item_events.c.id)
    )
    out = {i: Ctx(rows[i], [], [], [], []) for i in ids}
    for f in fb:
        out[f.item_id].feedback.append(f)
    for u in us:
        out[u.item_id].units.append(u)
    for d in ds:
        out[d.item_id].deputies.append(d)
    for e in es:
        out[e.item_id].evaluations.append(e)
    return [out[i] for i in ids]


# -- the shapes of what the API takes and sends about items ----------------------------------


def _one_of(values: Sequence[str], what: str = "") -> Any:
    """A string that is one of ``values`` (in the document; the data sets it)."""
    extra: dict[str, Any] = {"enum": list(values)}
    if what:
        extra["description"] = what
    return Meta(extra_json_schema=extra)


class ItemDeputy(Shape):
    id: int
    name: str
    role: Literal["author", "cosigner", "opinion"]
    status: Literal["confirmed", "pending", "declined"]


class ActionReason(Shape):
    code: Annotated[str, _one_of(lc.REASON_CODES)]
    params: dict[str, Any]


class ActionOption(Shape):
    name: Annotated[str, _one_of(lc.ACTIONS)]
    allowed: bool
    path: Annotated[str, Meta(description="where it is posted")]
    reason: ActionReason | None = None


class Item(Shape):
    """An item as messages and lists show it (without its long text)."""

    id: int
    kind: lc.Kind
    meeting_id: int
    title: str
    state: Annotated[str, _one_of(lc.STATES)]
    round: Annotated[int, Meta(description="handling round: 1, then 2 after re-handling …")]
    complex: bool
    lead_unit: Named | None
    co_units: list[Named]
    deputies: list[ItemDeputy]
    sign_due: Timestamp | None
    reply_due: Timestamp | None
    due: Annotated[
        Timestamp | None, Meta(description="the deadline the item waits on now (sign or reply)")
    ]
    overdue: bool
    extension_until: Annotated[
        Timestamp | None, Meta(description="an extension request waiting for a decision")
    ]
    grade: lc.Grade | None
    created_at: Timestamp
    handed_over_at: Timestamp | None
    replied_at: Timestamp | None
    closed_at: Timestamp | None
    closed_reason: Annotated[
        str | None,
        Meta(
            description="closed by the deputies' evaluations, or by the secretariat after the "
            "evaluation deadline without them (no_evaluation: counted as no rating); one of "
            + ", ".join(lc.CLOSED_REASONS)
        ),
    ]
    evaluation_due: Annotated[
        Timestamp | None, Meta(description="while replied: the deputies' evaluation deadline")
    ]
    updated_at: Timestamp
    questions_open: Annotated[
        int,
        Meta(description="the deputies' follow-up questions waiting for the lead unit's answer"),
    ] = 0
    seen: (
        Annotated[
            bool,
            Meta(
                description="for a unit's account (answers and lists, never in messages): "
                "whether this person has seen the item since it was last handed over "
                "(POST /api/items/seen, or an action of theirs on it)"
            ),
        ]
        | None
    ) = None
    actions: (
        Annotated[
            list[ActionOption],
            Meta(
                description="for the caller (answers and lists, never in messages): each "
                "action in play on the item now that is theirs, allowed or not; a refused one "
                "has the reason as a code the pages translate"
            ),
        ]
        | None
    ) = None


class UnitOpinion(Shape):
    unit_id: int
    opinion_due: Timestamp | None
    text: str | None
    at: Timestamp | None


class Evaluation(Shape):
    round: int
    deputy_id: int
    rating: lc.Rating
    reason: str | None
    at: Timestamp


class DeputyContact(Shape):
    deputy_id: int
    name: str
    phone: str | None
    preferred_contact: Annotated[str, _one_of(CONTACTS)] | None


class ContactFeedback(Shape):
    deputy_id: int
    confirmed: Annotated[bool, Meta(description="true: confirmed; false: disputed")]
    reason: Annotated[str | None, Meta(description="why it is disputed")]
    at: Timestamp


class RecordedContact(Shape):
    """A contact the lead unit recorded (``contact``) and the deputies' feedback on it."""

    id: Annotated[int, Meta(description="the id of its event on the item's timeline")]
    at: Timestamp
    unit_id: int | None
    method: lc.ContactMethod
    note: str
    deputy_ids: Annotated[list[int], Meta(description="the deputies it concerns")]
    waiting: Annotated[list[int], Meta(description="the deputies yet to confirm or dispute it")]
    feedback: list[ContactFeedback]


class QuestionAnswer(Shape):
    text: str
    unit_id: int | None
    at: Timestamp


class Question(Shape):
    """A deputy's follow-up question (``ask``) and the lead unit's answer."""

    id: Annotated[int, Meta(description="the id of its event on the item's timeline")]
    at: Timestamp
    deputy_id: int
    text: str
    answer: Annotated[QuestionAnswer | None, Meta(description="null: waiting for the answer")]


class ItemDetail(Item, kw_only=True):
    """The whole item: its text, the last reply, co-unit opinions, every evaluation."""

    text: str
    extension_reason: str | None
    reply_text: str | None
    review_reason: str | None
    return_reason: str | None
    unit_opinions: list[UnitOpinion]
    evaluations: list[Evaluation]
    recorded_contacts: list[RecordedContact]
    questions: list[Question]
    contacts: (
        Annotated[
            list[DeputyContact],
            Meta(
                description="only for an account of a unit now on the item: how to reach its "
                "deputies (the roster's phone and preferred contact); absent for anyone else"
            ),
        ]
        | None
    ) = None


class Actor(Shape):
    id: int
    role: str
    unit_id: int | None
    name: str | None = None


class ItemEvent(Shape):
    """A step of an item's timeline (``item_events``)."""

    id: int
    item_id: int
    action: str
    actor: Actor
    from_: str | None = msgspec.field(name="from")
    to: str
    round: int
    payload: dict[str, Any]
    at: Timestamp


class ItemEvents(Shape):
    events: list[ItemEvent]


class ItemPage(Shape):
    """A page of items, how many the filters match and how many per state."""

    items: list[Item]
    total: Annotated[int, Meta(description="every item the filters match, not only this page")]
    by_state: Annotated[
        dict[str, int],
        Meta(
            description="the items the other filters match, per state, as if no `state` were "
            "asked for (a state none is in is left out)"
        ),
    ]


class CommitInput(lc.AssignmentInput, kw_only=True):
    """A commit-to-do item made from opinions, and its hand-over."""

    opinion_ids: Annotated[list[Id], Meta(min_length=1, extra=DISTINCT)]
    title: Title
    text: Annotated[MaybeText, Meta(description="default: the opinions' texts")] | None = None


MAX_SEEN = 500  # items marked seen in one request


class SeenInput(Body):
    """Items the caller has seen."""

    item_ids: Annotated[list[Id], Meta(min_length=1, max_length=MAX_SEEN, extra=DISTINCT)]


class Seen(Shape):
    item_ids: list[int]
    seen_at: Timestamp


def summary(
    ctx: Ctx, now: datetime | None = None, me: Member | None = None, seen: bool | None = None
) -> dict[str, Any]:
    """The item as messages and lists show it (without its long text); for a caller
    ``me``, with ``actions``: what they may do on it now (:func:`actions`), and for a
    unit's account ``seen`` (:func:`is_seen`). A message body goes to several people and
    carries neither."""
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
        "sign_due": iso_or_none(r.sign_due),
        "reply_due": iso_or_none(r.reply_due),
        "due": iso_or_none(due),
        "overdue": bool(due is not None and now is not None and due <= now),
        "extension_until": iso_or_none(r.extension_until),
        "grade": r.grade,
        "created_at": iso(r.created_at),
        "handed_over_at": iso_or_none(r.handed_over_at),
        "replied_at": iso_or_none(r.replied_at),
        "closed_at": iso_or_none(r.closed_at),
        "closed_reason": r.closed_reason,
        "evaluation_due": iso_or_none(r.evaluation_due) if r.state == lc.REPLIED else None,
        "updated_at": iso(r.updated_at),
        "questions_open": sum(1 for q in ctx.threads().questions if q.answer is None),
        **({} if me is None else {"actions": actions(ctx, me, now)}),
        **({} if seen is None else {"seen": seen}),
    }


def actions(ctx: Ctx, me: Member, now: datetime | None) -> list[dict[str, Any]]:
    """The actions ``me`` may take on the item at ``now``, and the ones in play they may
    not, with the reason (``lifecycle.options``), each with the ``path`` it is posted to."""
    rel, key = ctx.relations(me)
    out = lc.options(ctx.state, rel, ctx.facts(now), key)
    for a in out:
        name = str(a["name"])
        a["path"] = f"/api/{lc.ACTION[name].endpoint}/{ctx.id}/{name}"
    return out


def detail(
    ctx: Ctx,
    now: datetime,
    evaluations: Sequence[Any],
    me: Member,
    seen: bool | None = None,
) -> dict[str, Any]:
    """The whole item for ``me``: its text, the last reply, co-unit opinions, every
    evaluation."""
    r = ctx.row
    return {
        **summary(ctx, now, me, seen),
        "text": r.text,
        "extension_reason": r.extension_reason,
        "reply_text": r.reply_text,
        "review_reason": r.review_reason,
        "return_reason": r.return_reason,
        "unit_opinions": [
            {
                "unit_id": u.unit_id,
                "opinion_due": iso_or_none(u.opinion_due),
                "text": u.opinion_text,
                "at": iso_or_none(u.opinion_at),
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
        **threads_out(ctx.threads()),
    }


def threads_out(fb: Threads) -> dict[str, Any]:
    """The detail's ``recorded_contacts`` and ``questions``."""
    return {
        "recorded_contacts": [
            {
                "id": c.id,
                "at": iso(c.at),
                "unit_id": c.unit_id,
                "method": c.method,
                "note": c.note,
                "deputy_ids": c.deputy_ids,
                "waiting": c.waiting(),
                "feedback": [
                    {"deputy_id": d, "confirmed": ok, "reason": why, "at": iso(at)}
                    for d, (ok, why, at) in c.feedback.items()
                ],
            }
            for c in fb.contacts
        ],
        "questions": [
            {
                "id": q.id,
                "at": iso(q.at),
                "deputy_id": q.deputy_id,
                "text": q.text,
                "answer": None
                if q.answer is None
                else {"text": q.answer[0], "unit_id": q.answer[1], "at": iso(q.answer[2])},
            }
            for q in fb.questions
        ],
    }


def item_event(e: Any, actor_name: str | None = None) -> dict[str, Any]:
    """An ``item_events`` row as every reader sees it (messages, the item's events, the
    supervision timeline); the actor's ``name`` when the caller knows it."""
    actor: dict[str, Any] = {"id": int(e.actor_id), "role": e.actor_role}
    if actor_name is not None:
        actor["name"] = actor_name
    actor["unit_id"] = None if e.actor_unit_id is None else int(e.actor_unit_id)
    return {
        "id": int(e.id),
        "item_id": int(e.item_id),
        "action": e.action,
        "actor": actor,
        "from": e.from_state,
        "to": e.to_state,
        "round": int(e.round),
        "payload": orjson.loads(e.payload),
        "at": iso(utc(e.at)),
    }


async def insert_event(
    conn: AsyncConnection,
    ctx: Ctx,
    action: str,
    actor: Member,
    from_state: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Store one row of ``item_events`` for the item as ``ctx`` holds it now; the event
    as messages carry it (:func:`item_event`, with the actor's name)."""
    row = (
        await conn.execute(
            item_events.insert()
            .values(
                item_id=ctx.id,
                action=action,
                actor_id=actor.id,
                actor_role=actor.role,
                actor_unit_id=actor.unit_id,
                from_state=from_state,
                to_state=ctx.state,
                round=ctx.row.round,
                payload=orjson.dumps(payload).decode(),
                at=now,
            )
            .returning(*item_events.c)
        )
    ).one()
    return item_event(row, actor.name)


def can_read(me: Member, ctx: Ctx) -> bool:
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
    actor: Member,
    from_state: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> Ctx:
    """Store the event of an action already applied and announce it; the item after."""
    after = await load(w.conn, item_id)
    event = await insert_event(w.conn, after, action, actor, from_state, payload, now)
    if action in FEEDBACK:  # the event itself is part of the item's contacts and questions
        after = await load(w.conn, item_id)
    body = {"item": summary(after, now), "event": event}
    channels = audience(ctx_before, after)
    await w.lock(*channels)
    for channel in channels:
        await w.append(channel, MESSAGE_KIND[action], actor, body)
    return after


def audience(before: Ctx | None, after: Ctx) -> list[str]:
    """Who hears of an action: the desk, and the deputies and units of the item before
    or after it."""
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


def not_before_signing(reply_due: datetime, sign_due: datetime | None, name: str) -> datetime:
    """A reply deadline the secretariat gives (``deadline``, an extension's ``until``) may
    not fall before the signing deadline: refused with ``field`` ``name``, ``reason``
    ``before_sign_due`` and the ``sign_due`` it may not precede (the same day is allowed:
    both are the end of it)."""
    if sign_due is not None and reply_due < sign_due:
        raise BadRequest(
            f"`{name}` {iso(reply_due)} is before the signing deadline {iso(sign_due)}",
            field=name,
            reason="before_sign_due",
            sign_due=iso(sign_due),
        )
    return reply_due


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
        reply_due = not_before_signing(a.deadline, sign_due, "deadline")
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


async def act(
    s: Services, me: Member, item_id: int, action: str, d: Body | bytes
) -> dict[str, Any]:
    """Take ``action`` on item ``item_id`` for ``me``; the item's summary after it. ``d`` is
    the action's input (``lifecycle.Action.input``), or the request's JSON body, decoded
    once the caller is known to be allowed the action now."""
    async with s.node.writing() as w:
        return await act_in(w, s.clock, me, item_id, action, d)


async def act_in(
    w: Writer, clock: Clock, me: Member, item_id: int, action: str, d: Body | bytes
) -> dict[str, Any]:
    """:func:`act` inside the caller's transaction."""
    declared = lc.ACTION.get(action)
    if declared is None:
        raise NotFound(f"no item action {action!r}")
    now = clock.now()
    ctx = await load(w.conn, item_id, lock=True)
    rel, key = ctx.relations(me)
    t = lc.check(ctx.state, action, rel, ctx.facts(now), key)
    args = declared.args(d, clock, ctx.row.kind)
    step = Step(w.conn, clock, ctx, me, key, args, now)
    payload = await EFFECTS[action](step)
    mid = await load(w.conn, item_id)
    nxt = t.resolve(mid.facts(now))
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
        values["closed_reason"] = (
            lc.NO_EVALUATION if action == "close_unevaluated" else lc.EVALUATED
        )
    await w.conn.execute(items.update().where(items.c.id == item_id).values(**values))
    after = await record(w, ctx, item_id, action, me, ctx.state, payload, now)
    if me.role == "unit":  # acting on an item is seeing it
        await record_seen(w.conn, me, [item_id], now)
        return summary(after, now, me, seen=True)
    return summary(after, now, me)


@dataclass(frozen=True)
class Step:
    """One action being taken: what its effect sees."""

    conn: AsyncConnection
    clock: Clock
    ctx: Ctx  # the item before the action
    me: Member
    key: int | None  # the caller's deputy or unit id, as the guards saw it
    args: dict[str, Any]  # the parsed input
    now: datetime

    def update(self, **values: Any) -> Any:
        return self.conn.execute(items.update().where(items.c.id == self.ctx.id).values(**values))


def _given(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if v}


async def _answer_cosigning(st: Step, status: str) -> dict[str, Any]:
    await st.conn.execute(
        item_deputies.update()
        .where(item_deputies.c.item_id == st.ctx.id, item_deputies.c.deputy_id == st.me.id)
        .values(status=status, answered_at=st.now)
    )
    return _given(st.args)


async def _cosign(st: Step) -> dict[str, Any]:
    return await _answer_cosigning(st, "confirmed")


async def _decline(st: Step) -> dict[str, Any]:
    return await _answer_cosigning(st, "declined")


async def _accept(st: Step) -> dict[str, Any]:
    await st.update(review_reason=st.args["note"] or None)
    return _given(st.args)


async def _not_accept(st: Step) -> dict[str, Any]:
    await st.update(review_reason=st.args["reason"])
    return st.args


async def _assign(st: Step) -> dict[str, Any]:
    a: Assignment = st.args["assignment"]
    r = st.ctx.row
    dl = await Deadlines.load(st.conn, st.clock, st.now)
    complex_ = bool(r.complex) if a.complex is None else a.complex
    return await _hand_over(st.conn, r.kind, r.id, a, complex_, dl, st.now)


async def _sign(st: Step) -> dict[str, Any]:
    return _given(st.args)


async def _return(st: Step) -> dict[str, Any]:
    await st.update(return_reason=st.args["reason"])
    return {"reason": st.args["reason"], "unit_id": st.key}


async def _co_opinion(st: Step) -> dict[str, Any]:
    await st.conn.execute(
        item_units.update()
        .where(item_units.c.item_id == st.ctx.id, item_units.c.unit_id == st.key)
        .values(opinion_text=st.args["text"], opinion_at=st.now)
    )
    return {"unit_id": st.key, "text": st.args["text"]}


async def _contact(st: Step) -> dict[str, Any]:
    deputy = st.args["deputy_id"]
    if deputy is not None and deputy not in st.ctx.deputy_ids("confirmed"):
        raise BadRequest(f"deputy {deputy} is not a deputy of this item")
    return st.args


async def _request_extension(st: Step) -> dict[str, Any]:
    current = aware(st.ctx.row.reply_due)
    until, reason = st.args["until"], st.args["reason"]
    if current is not None and until <= current:
        raise BadRequest(
            f"`until` must be later than the current deadline {iso(current)}",
            field="until",
            reason="not_after_current",
            due=iso(current),
        )
    await st.update(extension_until=until, extension_reason=reason)
    return {"until": iso(until), "reason": reason}


async def _approve_extension(st: Step) -> dict[str, Any]:
    r = st.ctx.row
    until = st.args["until"] or aware(r.extension_until)
    assert until is not None  # the guard saw a pending request
    not_before_signing(until, aware(r.sign_due), "until")
    await st.update(reply_due=until, extension_until=None, extension_reason=None)
    return {"until": iso(until), "previous_due": iso_or_none(aware(r.reply_due))}


async def _refuse_extension(st: Step) -> dict[str, Any]:
    await st.update(extension_until=None, extension_reason=None)
    return _given(st.args)


async def _reply(st: Step) -> dict[str, Any]:
    dl = await Deadlines.load(st.conn, st.clock, st.now)
    evaluation_due = dl.due(f"{st.ctx.row.kind}.evaluation", st.now)
    await st.update(
        grade=st.args["grade"],
        reply_text=st.args["text"],
        replied_at=st.now,
        evaluation_due=evaluation_due,
        extension_until=None,
        extension_reason=None,
    )
    return {**st.args, "evaluation_due": iso(evaluation_due)}


async def _evaluate(st: Step) -> dict[str, Any]:
    await st.conn.execute(
        item_evaluations.insert().values(
            item_id=st.ctx.id,
            round=st.ctx.row.round,
            deputy_id=st.me.id,
            rating=st.args["rating"],
            reason=st.args["reason"],
            at=st.now,
        )
    )
    return _given(st.args)


async def _close_unevaluated(st: Step) -> dict[str, Any]:
    """Nothing is stored for the deputies who did not evaluate: they are named in the
    event, and no statistic counts them as a rating."""
    f = st.ctx.facts()
    missing = sorted(f.deputies - f.evaluated)
    return {**_given(st.args), "missing": missing}


async def _confirm_contact(st: Step) -> dict[str, Any]:
    assert st.key is not None
    c = st.ctx.threads().contact_for(st.key, st.args["contact_id"])
    return {"contact_id": c.id, "method": c.method}


async def _dispute_contact(st: Step) -> dict[str, Any]:
    assert st.key is not None
    c = st.ctx.threads().contact_for(st.key, st.args["contact_id"])
    return {"contact_id": c.id, "method": c.method, "reason": st.args["reason"]}


async def _ask(st: Step) -> dict[str, Any]:
    return {"text": st.args["text"]}


async def _answer(st: Step) -> dict[str, Any]:
    q = st.ctx.threads().question_for(st.args["question_id"])
    return {"question_id": q.id, "deputy_id": q.deputy_id, "text": st.args["text"]}


async def _message(st: Step) -> dict[str, Any]:
    return {"text": st.args["text"]}


Effect = Callable[[Step], Awaitable[dict[str, Any]]]

EFFECTS: dict[str, Effect] = {
    "cosign": _cosign,
    "decline": _decline,
    "accept": _accept,
    "not_accept": _not_accept,
    "hand_over": _assign,
    "reassign": _assign,
    "sign": _sign,
    "return": _return,
    "co_opinion": _co_opinion,
    "contact": _contact,
    "request_extension": _request_extension,
    "approve_extension": _approve_extension,
    "refuse_extension": _refuse_extension,
    "reply": _reply,
    "evaluate": _evaluate,
    "close_unevaluated": _close_unevaluated,
    "message": _message,
    "confirm_contact": _confirm_contact,
    "dispute_contact": _dispute_contact,
    "ask": _ask,
    "answer": _answer,
}
"""What each action of an existing item changes besides the state; its event payload.
(``submit`` creates the item: ``hub.session.suggestions``.)"""

# Checked at import: every declared action on an existing item has its effect, and no
# effect is left without its declaration.
_ON_EXISTING = {a.name for a in lc.REGISTRY if a.on_existing}
if set(EFFECTS) != _ON_EXISTING:
    raise ImportError(f"EFFECTS and lifecycle.REGISTRY disagree: {set(EFFECTS) ^ _ON_EXISTING}")


# -- creating items -------------------------------------------------------------------------


async def insert_item(
    conn: AsyncConnection,
    kind: str,
    meeting_id: int,
    title: str,
    text: str,
    state: str,
    me: Member,
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


async def create_commit(s: Services, me: Member, d: CommitInput) -> dict[str, Any]:
    """A commit-to-do item from one or more opinions, handed over at once."""
    async with s.node.writing() as w:
        return await create_commit_in(w, s.clock, me, d)


async def create_commit_in(w: Writer, clock: Clock, me: Member, d: CommitInput) -> dict[str, Any]:
    """:func:`create_commit` inside the caller's transaction."""
    ids, title, text = list(d.opinion_ids), d.title, d.text or ""
    a = lc.parse_assignment(d, clock, COMMIT)
    staff = frozenset({"secretariat"} if me.role == "secretariat" else ())
    lc.check(None, "hand_over", staff, lc.Facts(), me.id)
    now = clock.now()
    # the item takes the meeting of its opinions
    first = await get_row(w.conn, ids[0])
    item_id = await insert_item(w.conn, COMMIT, first.meeting_id, title, text, lc.ASSIGNED, me, now)
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
    return summary(after, now, me)


# -- reading --------------------------------------------------------------------------------


async def get(s: Services, me: Member, item_id: int) -> dict[str, Any]:
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
        seen = seen_of(me, ctx, await seen_times(conn, me, [item_id]))
        contacts = await deputy_contacts(conn, me, ctx)
    out = detail(ctx, s.clock.now(), evaluations, me, seen)
    if contacts is not None:
        out["contacts"] = contacts
    return out


async def deputy_contacts(conn: AsyncConnection, me: Member, ctx: Ctx) -> list[Any] | None:
    """How to reach the item's deputies (their roster phone and preferred contact), for an
    account of a unit now on the item, who must contact them about it; None for anyone
    else: other units, the deputies, the staff. Never in a message: the log is read by
    every recipient of the item's messages and kept for ever."""
    if me.role != "unit" or me.unit_id not in ctx.unit_ids:
        return None
    ids = ctx.deputy_ids("confirmed")
    if not ids:
        return []
    rows = await conn.execute(
        sa.select(users.c.id, users.c.name, users.c.phone, users.c.preferred_contact)
        .where(users.c.id.in_(ids))
        .order_by(users.c.id)
    )
    return [
        {
            "deputy_id": int(r.id),
            "name": r.name,
            "phone": r.phone,
            "preferred_contact": r.preferred_contact,
        }
        for r in rows
    ]


async def events(s: Services, me: Member, item_id: int) -> list[dict[str, Any]]:
    """The item's timeline, oldest first; each actor by name (the system, actor 0, has
    none)."""
    async with s.log.reading() as conn:
        ctx = await load(conn, item_id)
        if not can_read(me, ctx):
            raise Forbidden(f"item {item_id} is not yours")
        rows = await conn.execute(
            sa.select(item_events, users.c.name.label("actor_name"))
            .outerjoin(users, users.c.id == item_events.c.actor_id)
            .where(item_events.c.item_id == item_id)
            .order_by(item_events.c.id)
        )
        return [item_event(e, e.actor_name) for e in rows]


def due_expr() -> sa.ColumnElement[Any]:
    """The deadline the item is waiting on now: signing, or the (second) reply
    (:meth:`Ctx.current_due` in SQL; the summary's ``due``)."""
    return sa.case(
        (items.c.state == lc.ASSIGNED, items.c.sign_due),
        (items.c.state.in_([lc.IN_PROGRESS, lc.REHANDLING]), items.c.reply_due),
        else_=sa.null(),
    )


Order = Literal["oldest", "newest", "deadline"]
"""How a list is ordered (``order``): ``oldest`` or ``newest`` first, by id; ``deadline``,
the nearest ``due`` first (so the overdue on top, the most overdue first), then the items
waiting on no deadline (returned, replied, closed …), newest first where ``due`` is the
same or absent. The keys are in the summary, so a page places a changed item by the same
rule."""


def order_by(order: str) -> list[Any]:
    if order == "deadline":
        due = due_expr()
        return [sa.case((due.is_(None), 1), else_=0), due, items.c.id.desc()]
    return [items.c.id.desc() if order == "newest" else items.c.id]


class ItemQuery(Page):
    """What ``GET /api/items`` asks for: filters (all optional, combined with AND), order and
    page (:class:`hub.shapes.Page`). ``q``'s words must each be found in the title or the
    text."""

    meeting_id: Annotated[Id, Meta(description="only this meeting")] | None = None
    kind: Annotated[lc.Kind, Meta(description="commit or suggestion")] | None = None
    state: (
        Annotated[
            str,
            Meta(
                max_length=300,
                description="comma-separated states, e.g. assigned,in_progress",
            ),
        ]
        | None
    ) = None
    unit_id: Annotated[Id, Meta(description="only items this unit is on (lead or co)")] | None = (
        None
    )
    deputy_id: Annotated[Id, Meta(description="only items of this deputy")] | None = None
    overdue: Annotated[bool, Meta(description="only items past the deadline they wait on")] = False
    q: Annotated[Words, Meta(description="words in the title or the text")] | None = None
    order: Annotated[
        Order,
        Meta(
            description="oldest (default) or newest, by id; deadline: the items waiting on a "
            "deadline first, the nearest (most overdue) first, then the others newest first "
            "(/api/items/overdue: always most overdue first)"
        ),
    ] = "oldest"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.states()

    def states(self) -> tuple[str, ...]:
        """``state`` as a set of states (empty: any)."""
        return one_or_more(self.state, lc.STATES, "state")


async def listing(s: Services, me: Member, f: ItemQuery) -> dict[str, Any]:
    """Items the caller may see: a deputy their own, a unit its own, staff every item.
    ``total`` counts every item the filters match, not only the page; ``by_state`` counts
    them per state as if no ``state`` were asked for (a state none has is left out)."""
    states = f.states()
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
    for word in (f.q or "").split():
        conds.append(
            sa.or_(
                items.c.title.contains(word, autoescape=True),
                items.c.text.contains(word, autoescape=True),
            )
        )
    order = order_by(f.order)
    if f.overdue:  # the overdue board: the most overdue first
        conds.append(due_expr() <= now)
        order = [due_expr(), items.c.id]
    state_cond = [items.c.state.in_(states)] if states else []
    async with s.log.reading() as conn:
        by_state = {
            str(st): int(n)
            for st, n in await conn.execute(
                sa.select(items.c.state, sa.func.count()).where(*conds).group_by(items.c.state)
            )
        }
        conds += state_cond
        total = sum(n for st, n in by_state.items() if not states or st in states)
        if f.before_id is not None:
            conds.append(items.c.id < f.before_id)
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
        ctxs = await load_many(conn, ids)
        seen = await seen_times(conn, me, ids)
        out = [summary(c, now, me, seen_of(me, c, seen)) for c in ctxs]
    return {"items": out, "total": total, "by_state": by_state}


# -- what a unit's people have seen ------------------------------------------------------


def is_seen(ctx: Ctx, seen_at: datetime | None) -> bool:
    """Seen since the item was last handed over: a reassignment is news again."""
    if seen_at is None:
        return False
    handed = aware(ctx.row.handed_over_at)
    return handed is None or utc(seen_at) >= handed


async def seen_times(conn: AsyncConnection, me: Member, ids: Sequence[int]) -> dict[int, datetime]:
    """When ``me`` (a unit's account) last saw each of these items; {} for other roles."""
    if me.role != "unit" or not ids:
        return {}
    rows = await conn.execute(
        sa.select(item_seen.c.item_id, item_seen.c.seen_at).where(
            item_seen.c.user_id == me.id, item_seen.c.item_id.in_(ids)
        )
    )
    return {int(r.item_id): utc(r.seen_at) for r in rows}


def seen_of(me: Member, ctx: Ctx, times: dict[int, datetime]) -> bool | None:
    """The summary's ``seen`` for ``me``: only a unit's account has one."""
    return is_seen(ctx, times.get(ctx.id)) if me.role == "unit" else None


async def record_seen(conn: AsyncConnection, me: Member, ids: Sequence[int], now: datetime) -> None:
    """``me`` has seen these items at ``now`` (one statement; an earlier row moves on)."""
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(item_seen)
    await conn.execute(
        ins.values(
            [{"user_id": me.id, "item_id": i, "seen_at": now} for i in ids]
        ).on_conflict_do_update(
            index_elements=[item_seen.c.user_id, item_seen.c.item_id],
            set_={"seen_at": ins.excluded.seen_at},
        )
    )


async def mark_seen(s: Services, me: Member, d: SeenInput) -> dict[str, Any]:
    """A unit's account has seen items of its unit (opened them, or acknowledged the
    hand-over alert): recorded for that person, not in the log. An unknown item is
    ``not_found``; another unit's item, or a caller who is not a unit's, ``forbidden``
    (as reading it would be); a refused request records nothing."""
    if me.role != "unit" or me.unit_id is None:
        raise Forbidden(f"a {me.role} has no unit: only a unit's account marks items seen")
    ids = list(d.item_ids)
    now = s.clock.now()
    async with s.node.writing() as w:
        found = set(
            (await w.conn.execute(sa.select(items.c.id).where(items.c.id.in_(ids)))).scalars()
        )
        for i in ids:
            if i not in found:
                raise NotFound(f"no item {i}")
        mine = set(
            (
                await w.conn.execute(
                    sa.select(item_units.c.item_id).where(
                        item_units.c.item_id.in_(ids), item_units.c.unit_id == me.unit_id
                    )
                )
            ).scalars()
        )
        for i in ids:
            if i not in mine:
                raise Forbidden(f"item {i} is not yours")
        await record_seen(w.conn, me, ids, now)
    return {"item_ids": ids, "seen_at": iso(now)}
