"""The working-day calendar: weekends, public holidays and make-up working days (调休).

Monday to Friday are working days and Saturday and Sunday are not, unless the table
``calendar_days`` says otherwise for a date: a public holiday (``working`` false, e.g.
国庆节 on a Thursday) or a make-up working day (``working`` true, e.g. a Saturday worked
in exchange for a bridge day). The admin loads a year at a time
(``PUT /api/admin/calendar/{year}``), replacing that year's entries; the State Council
publishes the next year's arrangement each November.

:class:`WorkingCalendar` is pure: it answers from the entries it was given, so the
deadline arithmetic can be tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest
from hub.shapes import Body, Day, Label, Shape
from hub.store.schema import metadata

calendar_days = sa.Table(
    "calendar_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("working", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(100), nullable=False, server_default=""),
)

# The longest stretch any deadline rule may reach (see hub.session.deadlines.LIMITS);
# the calendar entries of that stretch are loaded before counting.
HORIZON = timedelta(days=800)


@dataclass(frozen=True)
class DayEntry:
    day: date
    working: bool
    name: str = ""


class WorkingCalendar:
    """Working days by the week, corrected by holiday and make-up day entries."""

    def __init__(self, entries: Mapping[date, bool] | None = None) -> None:
        self.entries = dict(entries or {})

    def is_working(self, day: date) -> bool:
        explicit = self.entries.get(day)
        if explicit is not None:
            return explicit
        return day.weekday() < 5

    def next_working(self, day: date) -> date:
        """``day`` if it is a working day, else the first working day after it."""
        while not self.is_working(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``n == 0``: ``start`` itself if it is a
        working day, else the next one). Hand-over on Friday + 1 working day is Monday."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start
        if n == 0:
            return self.next_working(day)
        while n > 0:
            day += timedelta(days=1)
            if self.is_working(day):
                n -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many working days ``end`` is after ``start``."""
        n, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working(day):
                n += 1
        return n


async def load_calendar(conn: AsyncConnection, start: date) -> WorkingCalendar:
    """The calendar with every entry from ``start`` to ``start + HORIZON``."""
    rows = await conn.execute(
        sa.select(calendar_days.c.day, calendar_days.c.working).where(
            calendar_days.c.day >= start, calendar_days.c.day <= start + HORIZON
        )
    )
    return WorkingCalendar({r.day: bool(r.working) for r in rows})


async def year_entries(conn: AsyncConnection, year: int) -> list[DayEntry]:
    rows = await conn.execute(
        sa.select(calendar_days)
        .where(calendar_days.c.day >= date(year, 1, 1), calendar_days.c.day <= date(year, 12, 31))
        .order_by(calendar_days.c.day)
    )
    return [DayEntry(r.day, bool(r.working), r.name) for r in rows]


class DayInput(Body):
    """A holiday or make-up working day as the admin loads it."""

    date: date
    name: Label = ""


class YearInput(Body):
    """A year's holidays and make-up working days."""

    holidays: Annotated[list[DayInput], Meta(description="non-working days (法定节假日)")] = (
        msgspec.field(default_factory=list)
    )
    workdays: Annotated[list[DayInput], Meta(description="weekend days worked (调休上班)")] = (
        msgspec.field(default_factory=list)
    )


class DayName(Shape):
    date: Day
    name: str


class CalendarYear(Shape):
    year: int
    holidays: list[DayName]
    workdays: list[DayName]


def parse_entries(year: int, d: YearInput) -> list[DayEntry]:
    """The entries of ``year`` the admin loads: each date in that year, and once."""
    out: dict[date, DayEntry] = {}
    for what, items, working in (("holidays", d.holidays, False), ("workdays", d.workdays, True)):
        for i, item in enumerate(items):
            if item.date.year != year:
                raise BadRequest(
                    f"`{what}[{i}].date` {item.date} is not in {year}", field=f"{what}[{i}].date"
                )
            if item.date in out:
                raise BadRequest(f"{item.date} is listed twice", field=f"{what}[{i}].date")
            out[item.date] = DayEntry(item.date, working, item.name)
    return sorted(out.values(), key=lambda e: e.day)


async def replace_year(conn: AsyncConnection, year: int, entries: list[DayEntry]) -> None:
    """Replace every entry of ``year`` with ``entries`` (inside the caller's transaction)."""
    await conn.execute(
        calendar_days.delete().where(
            calendar_days.c.day >= date(year, 1, 1), calendar_days.c.day <= date(year, 12, 31)
        )
    )
    if entries:
        await conn.execute(
            calendar_days.insert(),
            [{"day": e.day, "working": e.working, "name": e.name} for e in entries],
        )
