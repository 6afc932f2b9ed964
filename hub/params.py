"""What a parameter of a request may hold: one rule for each kind, shared by every endpoint.

* an **id**: an integer from 1 to 2**63 - 1 (the database's BIGINT), never a boolean;
* a **date**: ``YYYY-MM-DD`` from :data:`FIRST_DAY` to :data:`LAST_DAY`, so the day after
  and the local midnight of either end are always representable;
* an **instant**: such a date (its local midnight in the congress's zone) or an ISO-8601
  timestamp with a zone whose date lies in the same range;
* a **deadline**: such a date, meaning **the end of that day** in the congress's zone
  (:func:`hub.clock.end_of_day`: 23:59:59.999999 local, so it is stored and shown as the
  date entered), or a timestamp with a zone; either in the future (``reason: "past"``).

Anything else is a :class:`BadRequest` (with ``field``: the parameter's name) that says
what the parameter must hold: a value the database or the calendar cannot represent never
reaches them (it would be a 500, or a stream cut after its first rows).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

from hub.clock import Clock, start_of_day
from hub.errors import BadRequest

MAX_ID = 2**63 - 1  # the database's BIGINT: the largest id, seq or integer it stores
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
_RANGE = f"between {FIRST_DAY} and {LAST_DAY}"


def check_id(v: object, name: str) -> int:
    """An id already parsed (from JSON, a cursor): an int, not a bool, in 1..2**63-1."""
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_ID:
        raise BadRequest(f"`{name}` must be an id: an integer from 1 to {MAX_ID}", field=name)
    return v


def parse_id(raw: str, name: str) -> int:
    """An id written in a query: decimal digits, 1..2**63-1."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise BadRequest(f"`{name}` must be an id: an integer from 1 to {MAX_ID}", field=name)
    return check_id(int(text), name)


def _in_range(day: date, name: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadRequest(f"`{name}` must be a date {_RANGE}", field=name)
    return day


def parse_date(raw: str, name: str) -> date:
    """``2026-03-01``, between :data:`FIRST_DAY` and :data:`LAST_DAY`."""
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequest(f"`{name}` must be a date like 2026-03-01", field=name) from None
    return _in_range(day, name)


def parse_when(raw: str, name: str, tz: tzinfo) -> datetime:
    """``2026-03-01`` (local midnight in ``tz``) or an ISO timestamp with a zone, as UTC;
    its date between :data:`FIRST_DAY` and :data:`LAST_DAY`."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = _in_range(date.fromisoformat(text), name)
            return start_of_day(day, tz)
        ts = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"`{name}` must be a date (2026-03-01) or a timestamp with a zone "
            "(2026-03-01T09:00:00+08:00)",
            field=name,
        ) from None
    if ts.tzinfo is None:
        raise BadRequest(f"`{name}` needs a time zone, e.g. 2026-03-01T09:00:00+08:00", field=name)
    _in_range(ts.date(), name)  # before the conversion, which could leave the calendar
    return ts.astimezone(UTC)


_DEADLINE = "a date (2026-03-20: the end of that day) or a timestamp with a zone"


def parse_deadline(value: Any, name: str, clock: Clock) -> datetime:
    """A deadline from input, as UTC: ``YYYY-MM-DD`` is the end of that day in the clock's
    zone (:meth:`Clock.end_of_day`), a timestamp needs a zone; its date between
    :data:`FIRST_DAY` and :data:`LAST_DAY`, and it must lie after ``clock.now()``."""
    if not isinstance(value, str):
        raise BadRequest(f"`{name}` must be {_DEADLINE}", field=name)
    text = value.strip()
    try:
        if len(text) == 10:
            when = clock.end_of_day(_in_range(date.fromisoformat(text), name))
        else:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if ts.tzinfo is None:
                raise BadRequest(
                    f"`{name}` needs a time zone, e.g. 2026-03-20T17:00:00+08:00", field=name
                )
            _in_range(ts.date(), name)
            when = ts.astimezone(UTC)
    except ValueError:
        raise BadRequest(f"`{name}` must be {_DEADLINE}", field=name) from None
    if when <= clock.now():
        raise BadRequest(f"`{name}` must be in the future", field=name, reason="past")
    return when
