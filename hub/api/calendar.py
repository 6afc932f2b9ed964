"""The working-day calendar (``hub.session.calendar``): read a year, load a year (admin)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, principal, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.errors import BadRequest
from hub.session import setup
from hub.session.calendar import (
    CalendarYear,
    DayEntry,
    YearInput,
    parse_entries,
    replace_year,
    year_entries,
)


def _year(request: Request) -> int:
    year: int = request.path_params["year"]
    if not 2000 <= year <= 2100:
        raise BadRequest("`year` must be between 2000 and 2100")
    return year


def _shape(year: int, entries: list[DayEntry]) -> dict[str, Any]:
    return {
        "year": year,
        "holidays": [{"date": e.day.isoformat(), "name": e.name} for e in entries if not e.working],
        "workdays": [{"date": e.day.isoformat(), "name": e.name} for e in entries if e.working],
    }


async def get_year(request: Request) -> Response:
    await principal(request)
    year = _year(request)
    async with services(request).log.reading() as conn:
        return JSON(_shape(year, await year_entries(conn, year)))


async def put_year(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    year = _year(request)
    entries = parse_entries(year, await decode(request, YearInput))
    async with services(request).node.writing() as w:
        was = await year_entries(w.conn, year)
        await replace_year(w.conn, year, entries)
        if was != entries:
            await setup.record(w, me, "calendar_changed", _shape(year, entries))
    return JSON(_shape(year, entries))


routes = [
    Route("/api/calendar/{year:int}", get_year, methods=["GET"]),
    Route("/api/admin/calendar/{year:int}", put_year, methods=["PUT"]),
]

YEAR = path_id("year", "a year from 2000 to 2100")
spec = {
    "/api/calendar/{year}": {
        "get": {
            "summary": "A year's public holidays and make-up working days (调休); other days "
            "follow the week (Monday–Friday working)",
            "parameters": [YEAR],
            "responses": {**ok(CalendarYear), **error_responses(400, 401)},
        }
    },
    "/api/admin/calendar/{year}": {
        "put": {
            "summary": "Load a year's holidays and make-up working days, replacing the year's "
            "entries (admin); deadlines computed afterwards use them; a change is logged as "
            "setup.calendar_changed on setup:1 with the year's new entries",
            "parameters": [YEAR],
            "requestBody": json_body(YearInput),
            "responses": {**ok(CalendarYear), **error_responses(400, 401, 403, 503)},
        }
    },
}
