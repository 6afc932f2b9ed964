"""Performance registrations (履职登记) and performance files (履职档案)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from hub.api import (
    JSON,
    body,
    download_route,
    path_int,
    principal,
    query_date,
    query_id,
    query_int,
    services,
)
from hub.api.archive import congress_tz, now
from hub.api.documents import check_upload_headers
from hub.api.openapi import INT, STR, error_responses, json_body, obj, ok
from hub.errors import BadRequest, NotFound
from hub.params import FIRST_DAY, LAST_DAY
from hub.session.documents import blob_path, clean_filename, staged_blob
from hub.supervision import performance, registrations
from hub.supervision.points import local_midnight


async def register(request: Request) -> Response:
    me = await principal(request, roles=("deputy",))
    tz = congress_tz(request)
    fields = registrations.parse_new(await body(request), now(request).astimezone(tz).date())
    out = await registrations.register(services(request).node, me, fields, now(request))
    return JSON(out, status_code=201)


async def attach(request: Request) -> Response:
    me = await principal(request, roles=("deputy",))
    s = services(request)
    rid = path_int(request)
    limit = s.settings.upload_limit
    name = clean_filename(request.query_params.get("filename", ""))
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
    path = blob_path(s.settings.data_dir, a["sha256"])
    if not path.is_file():
        raise NotFound("the attached file is missing from the store")
    return FileResponse(
        path,
        media_type=a["content_type"],
        headers={
            "content-disposition": f"attachment; filename*=utf-8''{quote(a['name'])}",
            "x-content-type-options": "nosniff",
        },
    )


async def list_registrations(request: Request) -> Response:
    me = await principal(request)
    p = request.query_params
    deputy = query_id(request, "deputy")
    after = query_id(request, "cursor")
    limit = query_int(request, "limit", 50, 1, 200)
    async with services(request).log.reading() as conn:
        page, nxt = await registrations.listing(
            conn, me, deputy, p.get("state") or None, after, limit
        )
    return JSON({"registrations": page, "next": None if nxt is None else str(nxt)})


async def get_registration(request: Request) -> Response:
    me = await principal(request)
    out = await registrations.get(services(request).node, me, path_int(request), now(request))
    return JSON(out)


async def _decide(request: Request, confirm: bool) -> Response:
    me = await principal(request, roles=("supervisor",))
    d = await body(request)
    reason = d.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("`reason` must be a string")
    out = await registrations.decide(
        services(request).node, me, path_int(request), confirm, reason, now(request)
    )
    return JSON(out)


async def confirm(request: Request) -> Response:
    return await _decide(request, True)


async def reject(request: Request) -> Response:
    return await _decide(request, False)


def period(request: Request, tz: tzinfo, today: date) -> tuple[datetime, datetime]:
    """``year`` (default: this year), or ``from`` and ``to`` dates (``to`` inclusive)."""
    start, end = query_date(request, "from"), query_date(request, "to")
    if start is not None or end is not None:
        start = start or date(today.year, 1, 1)
        end = end or today
        if end < start:
            raise BadRequest("`to` is before `from`")
        return local_midnight(start, tz), local_midnight(date.fromordinal(end.toordinal() + 1), tz)
    year = query_int(request, "year", today.year, FIRST_DAY.year, LAST_DAY.year)
    return local_midnight(date(year, 1, 1), tz), local_midnight(date(year + 1, 1, 1), tz)


async def performance_file(request: Request) -> Response:
    me = await principal(request)
    tz = congress_tz(request)
    t = now(request)
    start, end = period(request, tz, t.astimezone(tz).date())
    out = await performance.performance_file(
        services(request).node, me, path_int(request), start, end, t, tz
    )
    return JSON(out)


routes = [
    Route("/api/registrations", list_registrations, methods=["GET"]),
    Route("/api/registrations", register, methods=["POST"]),
    Route("/api/registrations/{id:int}", get_registration, methods=["GET"]),
    download_route("/api/registrations/{id:int}/attachment", attachment),
    Route("/api/registrations/{id:int}/attachment", attach, methods=["PUT"]),
    Route("/api/registrations/{id:int}/confirm", confirm, methods=["POST"]),
    Route("/api/registrations/{id:int}/reject", reject, methods=["POST"]),
    Route("/api/deputies/{id:int}/file", performance_file, methods=["GET"]),
]

ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
NULL_STR = {"type": ["string", "null"]}
REGISTRATION = obj(
    ["id", "deputy", "kind", "activity_date", "title", "text", "state", "created_at"],
    id=INT,
    deputy=obj(["id", "name"], id=INT, name=STR),
    kind={"enum": list(registrations.KINDS)},
    activity_date=STR,
    title=STR,
    text=STR,
    attachment={"type": ["object", "null"]},
    state={"enum": list(registrations.STATES)},
    created_at=STR,
    decided_by={"type": ["integer", "null"]},
    decided_at=NULL_STR,
    reason=NULL_STR,
)
PERIOD = [
    {"name": "year", "in": "query", "schema": {"type": "integer"}},
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
]
spec = {
    "/api/registrations": {
        "get": {
            "summary": "Performance registrations, newest first (a deputy: only their own)",
            "parameters": [
                {"name": "deputy", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "state", "in": "query", "schema": {"enum": list(registrations.STATES)}},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 200}},
            ],
            "responses": {
                **ok(
                    obj(
                        ["registrations", "next"],
                        registrations={"type": "array", "items": REGISTRATION},
                        next=NULL_STR,
                    )
                ),
                **error_responses(400, 401, 403),
            },
        },
        "post": {
            "summary": "Register an activity (the deputy); the inbox gets registration.submitted",
            "requestBody": json_body(
                obj(
                    ["kind", "activity_date", "title", "text"],
                    kind={"enum": list(registrations.KINDS)},
                    activity_date={"type": "string", "format": "date"},
                    title=STR,
                    text=STR,
                )
            ),
            "responses": {**ok(REGISTRATION, 201), **error_responses(400, 401, 403, 503)},
        },
    },
    "/api/registrations/{id}": {
        "get": {
            "summary": "One registration, with its view count (the read is recorded)",
            "parameters": [ID],
            "responses": {**ok(REGISTRATION), **error_responses(401, 403, 404)},
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
            "parameters": [
                ID,
                {"name": "filename", "in": "query", "required": True, "schema": STR},
            ],
            "requestBody": {
                "required": True,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {**ok(REGISTRATION), **error_responses(400, 401, 403, 404, 409, 413)},
        },
    },
    "/api/registrations/{id}/confirm": {
        "post": {
            "summary": "Confirm a submitted registration (supervisor); the deputy's inbox "
            "gets registration.confirmed",
            "parameters": [ID],
            "responses": {**ok(REGISTRATION), **error_responses(401, 403, 404, 409)},
        }
    },
    "/api/registrations/{id}/reject": {
        "post": {
            "summary": "Reject a submitted registration with a reason (supervisor); the "
            "deputy's inbox gets registration.rejected",
            "parameters": [ID],
            "requestBody": json_body(obj(["reason"], reason=STR)),
            "responses": {**ok(REGISTRATION), **error_responses(400, 401, 403, 404, 409)},
        }
    },
    "/api/deputies/{id}/file": {
        "get": {
            "summary": "A deputy's performance file: registrations, points of the period, "
            "attendance, speeches, opinions, items, views (the read is recorded)",
            "parameters": [ID, *PERIOD],
            "responses": {
                **ok(
                    obj(
                        ["deputy", "registrations", "points", "attendance", "views"],
                        deputy={"type": "object"},
                        period={"type": "object"},
                        registrations={"type": "array", "items": REGISTRATION},
                        points={"type": "object"},
                        attendance={"type": "object"},
                        speeches={"type": "array"},
                        opinions={"type": "array"},
                        items={"type": "array"},
                        views={"type": "object"},
                    )
                ),
                **error_responses(400, 401, 403, 404),
            },
        }
    },
}
