"""Performance registrations (履职登记) and performance files (履职档案)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, download_route, path_int, principal, query, services
from hub.api.archive import congress_tz, now
from hub.api.documents import check_upload_headers, stored_file
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.errors import BadRequest
from hub.params import FIRST_DAY, LAST_DAY
from hub.session.documents import FileName, clean_filename, staged_blob
from hub.shapes import Body, Date, Named, Query, Shape
from hub.supervision import performance, registrations
from hub.supervision.export import BOM, FORMATS, csv_text
from hub.supervision.points import local_midnight
from hub.supervision.registrations import (
    Decision,
    NewRegistration,
    Registration,
    Registrations,
    RegistrationsQuery,
)


async def register(request: Request) -> Response:
    me = await principal(request, roles=("deputy",))
    tz = congress_tz(request)
    d = await decode(request, NewRegistration)
    fields = registrations.parse_new(d, now(request).astimezone(tz).date())
    out = await registrations.register(services(request).node, me, fields, now(request))
    return JSON(out, status_code=201)


async def attach(request: Request) -> Response:
    me = await principal(request, roles=("deputy",))
    s = services(request)
    rid = path_int(request)
    limit = s.settings.upload_limit
    name = clean_filename(query(request, AttachQuery).filename)
    check_upload_headers(request, limit)
    await registrations.check_can_attach(s.node, me, rid)
    async with staged_blob(s.settings.data_dir, request.stream(), limit) as blob:
        out = await registrations.attach(
            s.node,
            me,
            rid,
            name,
            request.headers.get("content-type") or "application/octet-stream",
            blob,
        )
    return JSON(out)


async def attachment(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    a = await registrations.attachment_of(s.node, me, path_int(request))
    missing = "the attached file is missing from the store"
    return stored_file(request, a["sha256"], a["content_type"], a["name"], "attachment", missing)


async def list_registrations(request: Request) -> Response:
    me = await principal(request)
    q = query(request, RegistrationsQuery)
    async with services(request).log.reading() as conn:
        page, nxt = await registrations.listing(conn, me, q.deputy, q.state, q.cursor, q.limit)
    return JSON({"registrations": page, "next": None if nxt is None else str(nxt)})


async def get_registration(request: Request) -> Response:
    me = await principal(request)
    out = await registrations.get(services(request).node, me, path_int(request), now(request))
    return JSON(out)


async def _decide(request: Request, confirm: bool) -> Response:
    me = await principal(request, roles=("supervisor",))
    reason = (await decode(request, Decision)).reason
    out = await registrations.decide(
        services(request).node, me, path_int(request), confirm, reason, now(request)
    )
    return JSON(out)


async def confirm(request: Request) -> Response:
    return await _decide(request, True)


async def reject(request: Request) -> Response:
    return await _decide(request, False)


class PeriodQuery(Body):
    """A period: ``year`` (default: this year), or ``from`` and ``to`` dates."""

    year: (
        Annotated[int, Meta(ge=FIRST_DAY.year, le=LAST_DAY.year, description="default: this year")]
        | None
    ) = None
    start: Annotated[Date, Meta(description="from this day (default: 1 January)")] | None = (
        msgspec.field(default=None, name="from")
    )
    end: Annotated[Date, Meta(description="to this day, inclusive (default: today)")] | None = (
        msgspec.field(default=None, name="to")
    )


def period(q: PeriodQuery, tz: tzinfo, today: date) -> tuple[datetime, datetime]:
    """``q``'s period as local midnights (the end exclusive)."""
    if q.start is not None or q.end is not None:
        start = q.start or date(today.year, 1, 1)
        end = q.end or today
        if end < start:
            raise BadRequest("`to` is before `from`", field="to")
        return local_midnight(start, tz), local_midnight(date.fromordinal(end.toordinal() + 1), tz)
    year = q.year or today.year
    return local_midnight(date(year, 1, 1), tz), local_midnight(date(year + 1, 1, 1), tz)


async def _file(request: Request) -> dict[str, Any]:
    me = await principal(request)
    tz = congress_tz(request)
    t = now(request)
    start, end = period(query(request, PeriodQuery), tz, t.astimezone(tz).date())
    return await performance.performance_file(
        services(request).node, me, path_int(request), start, end, t, tz
    )


async def performance_file(request: Request) -> Response:
    return JSON(await _file(request))


async def performance_file_csv(request: Request) -> Response:
    """The file as CSV (UTF-8 with a BOM, formula-safe: :func:`export.csv_text`)."""
    f = await _file(request)
    text = BOM + csv_text([performance.FILE_COLUMNS, *performance.file_rows(f)])
    name = f"file-{f['deputy']['id']}.csv"
    return Response(
        text.encode(),
        media_type=FORMATS["csv"],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/api/registrations", list_registrations, methods=["GET"]),
    Route("/api/registrations", register, methods=["POST"]),
    Route("/api/registrations/{id:int}", get_registration, methods=["GET"]),
    download_route("/api/registrations/{id:int}/attachment", attachment),
    Route("/api/registrations/{id:int}/attachment", attach, methods=["PUT"]),
    Route("/api/registrations/{id:int}/confirm", confirm, methods=["POST"]),
    Route("/api/registrations/{id:int}/reject", reject, methods=["POST"]),
    Route("/api/deputies/{id:int}/file", performance_file, methods=["GET"]),
    download_route("/api/deputies/{id:int}/file.csv", performance_file_csv),
]


class AttachQuery(Body):
    filename: FileName


class Period(Shape):
    start: str = msgspec.field(name="from")
    end: str = msgspec.field(name="to")


class FileDeputy(Named):
    delegation: Named | None


class PerformanceFile(Shape):
    """A deputy's performance file of a period."""

    deputy: FileDeputy
    period: Period
    registrations: list[Registration]
    points: dict[str, Any]
    attendance: dict[str, Any]
    speeches: list[dict[str, Any]]
    opinions: list[dict[str, Any]]
    items: list[dict[str, Any]]
    views: dict[str, Any]


ID = path_id("id", "registration id")
spec = {
    "/api/registrations": {
        "get": {
            "summary": "Performance registrations, newest first (a deputy: only their own)",
            "parameters": [Query(RegistrationsQuery)],
            "responses": {
                **ok(Registrations),
                **error_responses(400, 401, 403),
            },
        },
        "post": {
            "summary": "Register an activity (the deputy); the inbox gets registration.submitted",
            "requestBody": json_body(NewRegistration),
            "responses": {**ok(Registration, 201), **error_responses(400, 401, 403, 503)},
        },
    },
    "/api/registrations/{id}": {
        "get": {
            "summary": "One registration, with its view count (the read is recorded)",
            "parameters": [ID],
            "responses": {**ok(Registration), **error_responses(401, 403, 404)},
        }
    },
    "/api/registrations/{id}/attachment": {
        "get": {
            "summary": "The attached evidence",
            "parameters": [ID],
            "responses": {
                "200": {"description": "the file"},
                **error_responses(401, 403, 404),
            },
        },
        "put": {
            "summary": "Attach the evidence (the deputy, before the decision): the file's "
            "bytes as the body, `filename` in the query",
            "parameters": [ID, Query(AttachQuery)],
            "requestBody": {
                "required": True,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {**ok(Registration), **error_responses(400, 401, 403, 404, 409, 413)},
        },
    },
    "/api/registrations/{id}/confirm": {
        "post": {
            "summary": "Confirm a submitted registration (supervisor); the deputy's inbox "
            "gets registration.confirmed",
            "parameters": [ID],
            "responses": {**ok(Registration), **error_responses(401, 403, 404, 409)},
        }
    },
    "/api/registrations/{id}/reject": {
        "post": {
            "summary": "Reject a submitted registration with a reason (supervisor); the "
            "deputy's inbox gets registration.rejected",
            "parameters": [ID],
            "requestBody": json_body(Decision, required=True),
            "responses": {**ok(Registration), **error_responses(400, 401, 403, 404, 409)},
        }
    },
    "/api/deputies/{id}/file": {
        "get": {
            "summary": "A deputy's performance file: registrations, points of the period, "
            "attendance, speeches, opinions, items, views (the read is recorded)",
            "parameters": [path_id("id", "deputy id"), Query(PeriodQuery)],
            "responses": {
                **ok(PerformanceFile),
                **error_responses(400, 401, 403, 404),
            },
        }
    },
    "/api/deputies/{id}/file.csv": {
        "get": {
            "summary": "The performance file as CSV (UTF-8 with BOM): one row per points event, "
            "registration, sitting, speech, opinion, item and view by others (the read is "
            "recorded as a view of the file)",
            "parameters": [path_id("id", "deputy id"), Query(PeriodQuery)],
            "responses": {
                "200": {"description": "the rows", "content": {"text/csv": {}}},
                **error_responses(400, 401, 403, 404),
            },
        }
    },
}
