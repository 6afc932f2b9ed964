"""Deadline rules: how long a unit has to sign, reply, give its co-unit opinion, reply again.

The rules are configuration, kept in the table ``deadline_rules`` (the admin changes them
with ``PUT /api/admin/deadlines/{name}``; a change applies to deadlines computed after it,
not to those already set). A rule missing from the table has its default here.

====================== ======================== ==========================================
rule                   default                  deadline of
====================== ======================== ==========================================
commit.sign            1 working day            signing for or returning a commit-to-do item
commit.reply           3 working days           its reply, when the secretariat gives none
commit.co_opinion      1 working day            a co-unit's opinion to the lead unit
commit.rereply         3 working days           the second reply after an unsatisfied evaluation
commit.evaluation      3 working days           the deputies' evaluation of a reply
commit.due_soon        4 hours                  "due soon" alert this long before a deadline
suggestion.sign        7 working days           signing for or returning a suggestion (退回)
suggestion.reply       3 months                 its reply (答复), from hand-over
suggestion.reply_complex 6 months               the reply of a complex (wide-ranging) suggestion
suggestion.co_opinion  1 month                  a co-unit's opinion (协办意见)
suggestion.rereply     1 month                  the second reply, from the unsatisfied evaluation
suggestion.evaluation  1 month                  the deputies' evaluation of a reply
suggestion.due_soon    7 days                   "due soon" alert this long before a deadline
====================== ======================== ==========================================

How a deadline is counted from a moment ``t`` (local dates in ``HUB_TIMEZONE``; "the end
of" a date is its last instant, :func:`hub.clock.end_of_day`, the same instant as a
deadline entered as that date, :func:`hub.params.parse_deadline`):

* ``hours``: exactly ``t`` + n hours.
* ``working_days``: the end of the n-th working day after the date of ``t``
  (``hub.session.calendar``: weekends, public holidays and make-up working days).
* ``days`` and ``months``: the end of the date n days or n calendar months after ``t``
  (31 January + 1 month is 28/29 February); when that date is not a working day the
  deadline moves to the end of the next working day, as the Civil Code (民法典 第二百零三条)
  counts periods that end on a holiday.
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal, get_args

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.errors import BadRequest, NotFound
from hub.session.calendar import WorkingCalendar, load_calendar
from hub.shapes import Body, Shape
from hub.store.schema import BigId, metadata

Unit = Literal["hours", "days", "working_days", "months"]
UNITS: tuple[str, ...] = get_args(Unit)
# Upper bounds keep every deadline within the calendar horizon (hub.session.calendar).
LIMITS = {"hours": 24 * 365, "days": 730, "working_days": 400, "months": 24}

deadline_rules = sa.Table(
    "deadline_rules",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_by", BigId, nullable=True),
)


@dataclass(frozen=True)
class Rule:
    name: str
    amount: int
    unit: str
    description: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "amount": self.amount,
            "unit": self.unit,
            "description": self.description,
        }


DEFAULTS: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("commit.sign", 1, "working_days", "sign for or return a commit-to-do item"),
        Rule("commit.reply", 3, "working_days", "reply, when the secretariat sets no deadline"),
        Rule("commit.co_opinion", 1, "working_days", "co-unit opinion to the lead unit"),
        Rule("commit.rereply", 3, "working_days", "second reply after an unsatisfied evaluation"),
        Rule("commit.evaluation", 3, "working_days", "the deputies' evaluation of a reply"),
        Rule("commit.due_soon", 4, "hours", "'due soon' alert this long before a deadline"),
        Rule("suggestion.sign", 7, "working_days", "sign for or return a suggestion"),
        Rule("suggestion.reply", 3, "months", "reply, from hand-over"),
        Rule("suggestion.reply_complex", 6, "months", "reply to a complex suggestion"),
        Rule("suggestion.co_opinion", 1, "months", "co-unit opinion to the lead unit"),
        Rule("suggestion.rereply", 1, "months", "second reply after an unsatisfied evaluation"),
        Rule("suggestion.evaluation", 1, "months", "the deputies' evaluation of a reply"),
        Rule("suggestion.due_soon", 7, "days", "'due soon' alert this long before a deadline"),
    )
}


class RuleChange(Body):
    """A deadline rule's new length."""

    amount: Annotated[
        int,
        Meta(
            ge=0,
            le=max(LIMITS.values()),
            description="at most " + ", ".join(f"{n} {u}" for u, n in LIMITS.items()),
        ),
    ]
    unit: Unit


class DeadlineRule(Shape):
    name: str
    amount: int
    unit: Unit
    description: str


class DeadlineRules(Shape):
    rules: list[DeadlineRule]


def validate(name: str, d: RuleChange) -> Rule:
    """A rule from admin input, or BadRequest/NotFound saying what is wrong."""
    if name not in DEFAULTS:
        raise NotFound(f"no deadline rule {name!r}: expected one of {', '.join(DEFAULTS)}")
    if name.endswith(".due_soon") and d.unit not in ("hours", "days"):
        raise BadRequest("a due_soon window is counted in `hours` or `days`", field="unit")
    if d.amount > LIMITS[d.unit]:
        raise BadRequest(
            f"`amount` must be an integer from 0 to {LIMITS[d.unit]} {d.unit}", field="amount"
        )
    return Rule(name, d.amount, d.unit, DEFAULTS[name].description)


async def load_rules(conn: AsyncConnection) -> dict[str, Rule]:
    """Every rule: the table's values over the defaults."""
    rules = dict(DEFAULTS)
    for r in await conn.execute(sa.select(deadline_rules)):
        if r.name in rules:
            rules[r.name] = Rule(r.name, r.amount, r.unit, DEFAULTS[r.name].description)
    return rules


async def save_rule(conn: AsyncConnection, rule: Rule, by: int, now: datetime) -> None:
    values = {"amount": rule.amount, "unit": rule.unit, "updated_at": now, "updated_by": by}
    r = await conn.execute(
        deadline_rules.update().where(deadline_rules.c.name == rule.name).values(**values)
    )
    if r.rowcount == 0:
        await conn.execute(deadline_rules.insert().values(name=rule.name, **values))


def add_months(day: date, n: int) -> date:
    m = day.month - 1 + n
    year, month = day.year + m // 12, m % 12 + 1
    return date(year, month, min(day.day, _cal.monthrange(year, month)[1]))


def due(start: datetime, rule: Rule, cal: WorkingCalendar, clock: Clock) -> datetime:
    """The deadline ``rule`` sets for something starting at ``start`` (aware, UTC out)."""
    if rule.unit == "hours":
        return (start + timedelta(hours=rule.amount)).astimezone(UTC)
    day = clock.local(start).date()
    if rule.unit == "working_days":
        return clock.end_of_day(cal.add_working_days(day, rule.amount))
    last = (
        day + timedelta(days=rule.amount) if rule.unit == "days" else add_months(day, rule.amount)
    )
    return clock.end_of_day(cal.next_working(last))


def window(rule: Rule) -> timedelta:
    """The length of a ``due_soon`` rule."""
    return timedelta(hours=rule.amount) if rule.unit == "hours" else timedelta(days=rule.amount)


class Deadlines:
    """The rules and the calendar as of one transaction, to compute several deadlines."""

    def __init__(self, rules: dict[str, Rule], cal: WorkingCalendar, clock: Clock) -> None:
        self.rules = rules
        self.cal = cal
        self.clock = clock

    @classmethod
    async def load(cls, conn: AsyncConnection, clock: Clock, start: datetime) -> Deadlines:
        cal = await load_calendar(conn, clock.local(start).date())
        return cls(await load_rules(conn), cal, clock)

    def due(self, rule: str, start: datetime) -> datetime:
        return due(start, self.rules[rule], self.cal, self.clock)
