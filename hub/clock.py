"""The hub's notion of "now": wall time, or a time set by a test.

The hub has one clock, ``services.clock``, handed to the node (``node.clock``), its writer
and the receipt writer: every message's ``ts`` and every time a workflow stores come from
it, never from ``datetime.now()``, so a test can move a hand-over to a Friday before a
holiday and the evaluation of its deadlines three weeks later without sleeping
(``tests/test_one_clock.py`` checks every stored time). Token lifetimes and metrics are
wall time. ``now()`` is always an
aware UTC datetime; ``today()`` and ``local()`` use the congress's time zone
(``HUB_TIMEZONE``), in which deadlines are counted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(f"HUB_TIMEZONE: unknown time zone {name!r} (e.g. Asia/Shanghai)") from None


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

    def end_of_day(self, day: date) -> datetime:
        """The first instant after ``day`` ends in the local zone, in UTC."""
        nxt = day + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=self.tz).astimezone(UTC)
