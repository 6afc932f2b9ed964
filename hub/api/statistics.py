"""Statistics of a meeting or a period, and item timelines (``hub.supervision``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, path_int, principal, query, services
from hub.api.archive import congress_tz, now
from hub.api.openapi import error_responses, ok, path_id
from hub.errors import BadRequest
from hub.shapes import Body, Date, Id, Named, Query, Shape, Timestamp
from hub.supervision.points import local_midnight
from hub.supervision.statistics import statistics_of
from hub.supervision.timelines import timeline


async def get_statistics(request: Request) -> Response:
    await principal(request, roles=("secretariat", "supervisor", "admin"))
    tz = congress_tz(request)
    q = query(request, StatisticsQuery)
    meeting, start_day, end_day = q.meeting, q.start, q.end
    if start_day and end_day and end_day < start_day:
        raise BadRequest("`to` is before `from`", field="to")
    start = None if start_day is None else local_midnight(start_day, tz)
    end = None if end_day is None else local_midnight(date.fromordinal(end_day.toordinal() + 1), tz)
    async with services(request).log.reading() as conn:
        out = await statistics_of(conn, meeting, start, end, now(request), tz)
    scope = {
        "meeting": meeting,
        "from": None if start is None else start.isoformat(),
        "to": None if end is None else end.isoformat(),
    }
    return JSON({"scope": scope, **out})


async def item_timeline(request: Request) -> Response:
    me = await principal(request)
    async with services(request).log.reading() as conn:
        out = await timeline(conn, me, path_int(request), now(request))
    return JSON(out)


routes = [
    Route("/api/statistics", get_statistics, methods=["GET"]),
    Route("/api/items/{id:int}/timeline", item_timeline, methods=["GET"]),
]


class StatisticsQuery(Body):
    meeting: Annotated[Id, Meta(description="only this meeting")] | None = None
    start: Annotated[Date, Meta(description="from this day")] | None = msgspec.field(
        default=None, name="from"
    )
    end: Annotated[Date, Meta(description="to this day (inclusive)")] | None = msgspec.field(
        default=None, name="to"
    )


Counts = dict[str, int | float | None]


class Scope(Shape):
    meeting: int | None
    start: Timestamp | None = msgspec.field(name="from")
    end: Timestamp | None = msgspec.field(name="to")


class UnitTimes(Shape):
    unit: Named
    assigned: int
    signed: int
    median_sign_s: float | None
    replied: int
    median_reply_s: float | None
    deadlines: dict[str, int]
    on_time_rate: float | None


class Statistics(Shape):
    """Each part says what it counts; a rate with nothing to count is null."""

    scope: Scope
    suggestions: Counts
    commit_items: Counts
    item_states: Counts
    evaluations: Counts
    overdue: Counts
    deadlines: Counts
    units: list[UnitTimes]
    opinions: Counts
    notices: Counts
    attendance: dict[str, int | float | bool | None]
    as_of: Timestamp


class Timeline(Shape):
    item: dict[str, Any]
    steps: list[dict[str, Any]]
    stages: dict[str, Any]
    deadlines: list[dict[str, Any]]


spec = {
    "/api/statistics": {
        "get": {
            "summary": "Suggestions, commit-to-do items, items by state, evaluations, "
            "deadlines, units, opinions, notices and attendance of a meeting and/or period, "
            "each saying what it counts and leaves out (secretariat, supervisor, admin)",
            "parameters": [Query(StatisticsQuery)],
            "responses": {
                **ok(Statistics),
                **error_responses(400, 401, 403, 503),
            },
        }
    },
    "/api/items/{id}/timeline": {
        "get": {
            "summary": "Every step of an item with who and when, the time each stage took "
            "and its deadlines met or missed (its deputies, its units, staff)",
            "parameters": [path_id("id", "item id")],
            "responses": {
                **ok(Timeline),
                **error_responses(401, 403, 404),
            },
        }
    },
}
