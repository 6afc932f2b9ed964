"""Meetings, their sittings and agenda items (``hub.session.meetings``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, field, path_int, principal, services
from hub.api.openapi import (
    AUTH_ERRORS,
    INT,
    NULL_INT,
    NULL_TS,
    PERSON,
    STR,
    TS,
    error_responses,
    json_body,
    obj,
    ok,
    path_id,
)
from hub.session import attendance
from hub.session import meetings as m
from hub.session.common import id_field, parse_ts


async def list_meetings(request: Request) -> Response:
    me = await principal(request)
    return JSON({"meetings": await m.visible_meetings(services(request).node, me)})


async def overview(request: Request) -> Response:
    me = await principal(request)
    mid = path_int(request)
    node = services(request).node
    out = await m.meeting_overview(node, me, mid)
    if me.role == "deputy":
        await attendance.add_my_attendance(node, me, out["sittings"])
    return JSON(out)


async def deputies(request: Request) -> Response:
    me = await principal(request)
    mid = path_int(request)
    return JSON({"deputies": await m.deputies_of(services(request).node, me, mid)})


async def add_sitting(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    s = services(request)
    ends = field(d, "ends_at", str, required=False)
    out = await m.create_sitting(
        s.node,
        me,
        path_int(request),
        kind=field(d, "kind", str),
        title=field(d, "title", str),
        starts_at=parse_ts(field(d, "starts_at", str), "starts_at"),
        ends_at=None if ends is None else parse_ts(ends, "ends_at"),
        place=field(d, "place", str, required=False) or "",
        delegation_id=id_field(d, "delegation_id", required=False),
    )
    return JSON(out, status_code=201)


async def close_sitting(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    return JSON(await m.close_sitting(s.node, me, path_int(request)))


async def add_agenda_item(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    s = services(request)
    out = await m.create_agenda_item(
        s.node,
        me,
        path_int(request),
        title=field(d, "title", str),
        position=field(d, "position", int, required=False),
    )
    return JSON(out, status_code=201)


routes = [
    Route("/api/meetings", list_meetings, methods=["GET"]),
    Route("/api/meetings/{id:int}", overview, methods=["GET"]),
    Route("/api/meetings/{id:int}/deputies", deputies, methods=["GET"]),
    Route("/api/meetings/{id:int}/sittings", add_sitting, methods=["POST"]),
    Route("/api/meetings/{id:int}/agenda", add_agenda_item, methods=["POST"]),
    Route("/api/sittings/{id:int}/close", close_sitting, methods=["POST"]),
]


MEETING = obj(
    ["id", "title"],
    id=INT,
    title=STR,
    starts_on={"type": ["string", "null"], "format": "date"},
    ends_on={"type": ["string", "null"], "format": "date"},
)
SITTING = obj(
    [
        "id",
        "meeting_id",
        "kind",
        "title",
        "starts_at",
        "ends_at",
        "place",
        "delegation_id",
        "closed_at",
        "closed_by",
    ],
    id=INT,
    meeting_id=INT,
    kind={"enum": list(m.SITTING_KINDS)},
    title=STR,
    starts_at=TS,
    ends_at=NULL_TS,
    place=STR,
    delegation_id=NULL_INT,
    closed_at={**NULL_TS, "description": "when the secretariat closed it (null: not closed)"},
    closed_by={**NULL_INT, "description": "the secretariat account that closed it"},
)
ALLOWED = {"type": "array", "items": STR, "description": "the actions the object allows next"}
LEAVE = obj(
    ["id", "sitting_id", "deputy", "reason", "status", "created_at", "allowed"],
    id=INT,
    sitting_id=INT,
    deputy=PERSON,
    reason=STR,
    status={"enum": ["pending", "approved", "refused"]},
    created_at=NULL_TS,
    decided_at=NULL_TS,
    note={"type": ["string", "null"]},
    allowed=ALLOWED,
)
STATUSES = ["checked_in", "on_leave", "leave_pending", "absent"]
# A sitting in the overview a deputy reads: with their own attendance.
MY_SITTING = {
    **SITTING,
    "properties": {
        **SITTING["properties"],
        "my_status": {
            "enum": [*STATUSES, None],
            "description": "deputies only: their attendance (as on the board); null at a "
            "sitting they are not expected at",
        },
        "my_checked_in_at": {**NULL_TS, "description": "deputies only"},
        "my_leave": {
            "oneOf": [LEAVE, {"type": "null"}],
            "description": "deputies only: their latest leave request for the sitting",
        },
    },
}
AGENDA_ITEM = obj(
    ["id", "meeting_id", "position", "title"], id=INT, meeting_id=INT, position=INT, title=STR
)
MEETING_ID = path_id("id", "meeting id")

spec = {
    "/api/meetings": {
        "get": {
            "summary": "Meetings the caller can see (participants: their own; staff: all)",
            "responses": {
                **ok(obj(["meetings"], meetings={"type": "array", "items": MEETING})),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/meetings/{id}": {
        "get": {
            "summary": "A meeting with its sittings (by start) and agenda (by position); for "
            "a deputy each sitting carries their own attendance (my_status, my_checked_in_at, "
            "my_leave)",
            "parameters": [MEETING_ID],
            "responses": {
                **ok(
                    obj(
                        ["meeting", "sittings", "agenda"],
                        meeting=MEETING,
                        sittings={"type": "array", "items": MY_SITTING},
                        agenda={"type": "array", "items": AGENDA_ITEM},
                    )
                ),
                **error_responses(401, 403, 404),
            },
        }
    },
    "/api/meetings/{id}/deputies": {
        "get": {
            "summary": "The deputies participating in the meeting (the addressees of a notice "
            "to it, the possible co-signers of a suggestion), with their delegation, by id "
            "(participants, staff)",
            "parameters": [MEETING_ID],
            "responses": {
                **ok(
                    obj(
                        ["deputies"],
                        deputies={
                            "type": "array",
                            "items": obj(
                                ["id", "name", "delegation_id", "delegation_name"],
                                id=INT,
                                name=STR,
                                delegation_id=NULL_INT,
                                delegation_name={"type": ["string", "null"]},
                            ),
                        },
                    )
                ),
                **error_responses(401, 403, 404),
            },
        }
    },
    "/api/meetings/{id}/sittings": {
        "post": {
            "summary": "Add a sitting (secretariat): plenary, or group deliberation of a "
            "delegation; publishes sitting.created on meeting:<id>",
            "parameters": [MEETING_ID],
            "requestBody": json_body(
                obj(
                    ["kind", "title", "starts_at"],
                    kind={"enum": list(m.SITTING_KINDS)},
                    title=STR,
                    starts_at=TS,
                    ends_at=TS,
                    place=STR,
                    delegation_id={**INT, "description": "required for kind=group"},
                )
            ),
            "responses": {**ok(SITTING, 201), **error_responses(400, 401, 403, 404, 503)},
        }
    },
    "/api/sittings/{id}/close": {
        "post": {
            "summary": "Close an open sitting (结束会议; the secretariat of its meeting): its "
            "attendance is final from now on, check-in and leave are refused; publishes "
            "sitting.closed on meeting:<id>. Already closed, past its scheduled end or not "
            "started: conflict with `reason` sitting_closed / sitting_ended / "
            "sitting_not_started",
            "parameters": [path_id("id", "sitting id")],
            "responses": {**ok(SITTING), **error_responses(401, 403, 404, 409, 503)},
        }
    },
    "/api/meetings/{id}/agenda": {
        "post": {
            "summary": "Add an agenda item (secretariat); publishes agenda.created on meeting:<id>",
            "parameters": [MEETING_ID],
            "requestBody": json_body(
                obj(["title"], title=STR, position={**INT, "minimum": 1, "description": "last"})
            ),
            "responses": {**ok(AGENDA_ITEM, 201), **error_responses(400, 401, 403, 404, 503)},
        }
    },
}
