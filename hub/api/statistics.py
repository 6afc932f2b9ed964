"""Statistics of a meeting or a period, and item timelines (``hub.supervision``)."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, path_int, principal, query_date, query_id, services
from hub.api.archive import congress_tz, now
from hub.api.openapi import INT, STR, error_responses, obj, ok
from hub.errors import BadRequest
from hub.supervision.points import local_midnight
from hub.supervision.statistics import statistics_of
from hub.supervision.timelines import timeline


async def get_statistics(request: Request) -> Response:
    await principal(request, roles=("secretariat", "supervisor", "admin"))
    tz = congress_tz(request)
    meeting = query_id(request, "meeting")
    start_day = query_date(request, "from")
    end_day = query_date(request, "to")
    if start_day and end_day and end_day < start_day:
        raise BadRequest("`to` is before `from`")
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

NUM_OR_NULL = {"type": ["number", "null"]}
COUNTS = {"type": "object", "additionalProperties": {"type": ["integer", "number", "null"]}}
spec = {
    "/api/statistics": {
        "get": {
            "summary": "Suggestions, commit-to-do items, items by state, evaluations, "
            "deadlines, units, opinions, notices and attendance of a meeting and/or period, "
            "each saying what it counts and leaves out (secretariat, supervisor, admin)",
            "parameters": [
                {"name": "meeting", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
            ],
            "responses": {
                **ok(
                    obj(
                        [
                            "scope",
                            "suggestions",
                            "commit_items",
                            "item_states",
                            "evaluations",
                            "overdue",
                            "deadlines",
                            "units",
                            "opinions",
                            "notices",
                            "attendance",
                            "as_of",
                        ],
                        scope={"type": "object"},
                        suggestions=COUNTS,
                        commit_items=COUNTS,
                        item_states=COUNTS,
                        evaluations=COUNTS,
                        overdue=COUNTS,
                        deadlines=COUNTS,
                        units={
                            "type": "array",
                            "items": obj(
                                ["unit", "median_sign_s", "median_reply_s", "on_time_rate"],
                                unit=obj(["id", "name"], id=INT, name=STR),
                                median_sign_s=NUM_OR_NULL,
                                median_reply_s=NUM_OR_NULL,
                                on_time_rate=NUM_OR_NULL,
                            ),
                        },
                        opinions=COUNTS,
                        notices=COUNTS,
                        attendance={
                            "type": "object",
                            "additionalProperties": {
                                "type": ["integer", "number", "boolean", "null"]
                            },
                        },
                        as_of=STR,
                    )
                ),
                **error_responses(400, 401, 403, 503),
            },
        }
    },
    "/api/items/{id}/timeline": {
        "get": {
            "summary": "Every step of an item with who and when, the time each stage took "
            "and its deadlines met or missed (its deputies, its units, staff)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": INT}],
            "responses": {
                **ok(
                    obj(
                        ["item", "steps", "stages", "deadlines"],
                        item={"type": "object"},
                        steps={"type": "array"},
                        stages={"type": "object"},
                        deadlines={"type": "array"},
                    )
                ),
                **error_responses(401, 403, 404),
            },
        }
    },
}
