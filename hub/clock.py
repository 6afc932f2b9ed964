"""The hub's notion of "now": wall time, or a time set by a test.

The hub has one clock, ``services.clock``, handed to the node (``node.clock``), its writer
and the receipt writer: every message's ``ts`` and every time a workflow stores come from
it, never from ``datetime.now()``, so a test can move a hand-over to a Friday before a
holiday and the evaluation of its deadlines three weeks later without sleeping
(``tests/test_one_clock.py`` checks every stored time). Token lifetimes and metrics are
wall time. ``now()`` is always an
aware UTC datetime; ``today()`` and ``local()`` use the congress's time zone
(``HUB_TIMEZONE``), in which deadlines are counted.

**A deadline that is a date** — entered as ``2026-12-14`` by the secretariat or a unit, or
counted by a rule ("3 working days") — **is the last instant of that date in the hub's
zone**: :func:`end_of_day`, ``2026-12-14T23:59:59.999999+08:00``, stored and sent as
``2026-12-14T15:59:59.999999Z``. Its local date is the date entered, so any client shows
the right day; the pages show it as "12月14日（当天结束前）" (``static/js/i18n.js``
``deadlineText``). The first instant of a day is :func:`start_of_day` (a date used as the
start of a period, a daily quota's reset).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LAST_INSTANT = time(23, 59, 59, 999999)  # the end of a day: its last representable instant


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(f"HUB_TIMEZONE: unknown time zone {name!r} (e.g. Asia/Shanghai)") from None


def start_of_day(day: date, tz: tzinfo) -> datetime:
    """The first instant of ``day`` in ``tz`` (its local midnight), in UTC."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """The last instant of ``day`` in ``tz`` (23:59:59.999999 local), in UTC: what a
    deadline of that date means. A deadline ``d`` is met by anything at ``<= d``."""
    return datetime.combine(day, LAST_INSTANT, tz).astimezone(UTC)


class Clock:
    """Wall time until :meth:`set` freezes it; :meth:`advance` moves a frozen clock."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = zone(tz)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC)

    def set(self, when: datetime) -> None:
        """Freeze the clock at ``when`` (naive means local time in the congress's zone)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        self._frozen = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._frozen = self.now() + delta

    def release(self) -> None:
        """Back to wall time."""
        self._frozen = None

    def local(self, when: datetime | None = None) -> datetime:
        return (when or self.now()).astimezone(self.tz)

    def today(self) -> date:
        return self.local().date()

    def start_of_day(self, day: date) -> datetime:
        """The local midnight that starts ``day``, in UTC."""
        return start_of_day(day, self.tz)

    def end_of_day(self, day: date) -> datetime:
        """The last instant of ``day`` in the local zone, in UTC (a deadline of that date)."""
        return end_of_day(day, self.tz)
