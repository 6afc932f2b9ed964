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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest
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


def parse_entries(
    year: int, holidays: Iterable[object], workdays: Iterable[object]
) -> list[DayEntry]:
    """Validate ``[{"date": "YYYY-MM-DD", "name": "..."}]`` lists for ``year``."""
    out: dict[date, DayEntry] = {}
    for what, items, working in (("holidays", holidays, False), ("workdays", workdays, True)):
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("date"), str):
                raise BadRequest(f'`{what}[{i}]` must be {{"date": "YYYY-MM-DD", "name": "..."}}')
            try:
                day = date.fromisoformat(item["date"])
            except ValueError:
                raise BadRequest(f"`{what}[{i}].date` is not a date like 2026-10-01") from None
            if day.year != year:
                raise BadRequest(f"`{what}[{i}].date` {day} is not in {year}")
            name = item.get("name", "")
            if not isinstance(name, str) or len(name) > 100:
                raise BadRequest(f"`{what}[{i}].name` must be a string of at most 100 characters")
            if day in out:
                raise BadRequest(f"{day} is listed twice")
            out[day] = DayEntry(day, working, name)
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
