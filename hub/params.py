"""What a parameter of a request may hold: one rule for each kind, shared by every endpoint.

* an **id**: an integer from 1 to 2**63 - 1 (the database's BIGINT), never a boolean;
* a **date**: ``YYYY-MM-DD`` from :data:`FIRST_DAY` to :data:`LAST_DAY`, so the day after
  and the local midnight of either end are always representable;
* an **instant**: such a date (its local midnight in the congress's zone) or an ISO-8601
  timestamp with a zone whose date lies in the same range.

Anything else is a :class:`BadRequest` (with ``field``: the parameter's name) that says
what the parameter must hold: a value the database or the calendar cannot represent never
reaches them (it would be a 500, or a stream cut after its first rows).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo

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
            return datetime.combine(day, time(), tz).astimezone(UTC)
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
