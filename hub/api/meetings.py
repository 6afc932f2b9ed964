"""Meetings, their sittings and agenda items (``hub.session.meetings``)."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, path_int, principal, services
from hub.api.openapi import AUTH_ERRORS, error_responses, json_body, ok, path_id
from hub.session import attendance
from hub.session import meetings as m
from hub.session.common import parse_ts
from hub.shapes import Shape, Timestamp


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
    d = await decode(request, m.SittingInput)
    s = services(request)
    out = await m.create_sitting(
        s.node,
        me,
        path_int(request),
        kind=d.kind,
        title=d.title,
        starts_at=parse_ts(d.starts_at, "starts_at"),
        ends_at=None if d.ends_at is None else parse_ts(d.ends_at, "ends_at"),
        place=d.place or "",
        delegation_id=d.delegation_id,
        # left out: the hub's defaults; null: no limit
        checkin_opens_before=(
            s.settings.checkin_opens_before
            if d.checkin_opens_before is UNSET
            else d.checkin_opens_before
        ),
        checkin_closes_after=(
            s.settings.checkin_closes_after
            if d.checkin_closes_after is UNSET
            else d.checkin_closes_after
        ),
        checkin_code=d.checkin_code,
        speech_limit_s=s.settings.speech_limit if d.speech_limit_s is UNSET else d.speech_limit_s,
    )
    return JSON(out, status_code=201)


async def edit_sitting(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, m.SittingEdit)
    s = services(request)
    out = await m.edit_sitting(
        s.node,
        me,
        path_int(request),
        title=d.title,
        starts_at=parse_ts(d.starts_at, "starts_at"),
        ends_at=None if d.ends_at is None else parse_ts(d.ends_at, "ends_at"),
        place=d.place or "",
        checkin_opens_before=d.checkin_opens_before,
        checkin_closes_after=d.checkin_closes_after,
        checkin_code=d.checkin_code,
        speech_limit_s=d.speech_limit_s,
    )
    return JSON(out)


async def close_sitting(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    return JSON(await m.close_sitting(s.node, me, path_int(request)))


async def add_agenda_item(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, m.AgendaInput)
    s = services(request)
    out = await m.create_agenda_item(s.node, me, path_int(request), d.title, d.position)
    return JSON(out, status_code=201)


async def change_agenda_item(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, m.AgendaInput)
    s = services(request)
    return JSON(await m.change_agenda_item(s.node, me, path_int(request), d.title, d.position))


routes = [
    Route("/api/meetings", list_meetings, methods=["GET"]),
    Route("/api/meetings/{id:int}", overview, methods=["GET"]),
    Route("/api/meetings/{id:int}/deputies", deputies, methods=["GET"]),
    Route("/api/meetings/{id:int}/sittings", add_sitting, methods=["POST"]),
    Route("/api/meetings/{id:int}/agenda", add_agenda_item, methods=["POST"]),
    Route("/api/agenda/{id:int}", change_agenda_item, methods=["PUT"]),
    Route("/api/sittings/{id:int}", edit_sitting, methods=["PUT"]),
    Route("/api/sittings/{id:int}/close", close_sitting, methods=["POST"]),
]


class MySitting(m.Sitting, kw_only=True):
    """A sitting in the overview a deputy reads: with their own attendance."""

    my_status: (
        Annotated[
            attendance.Status,
            Meta(
                description="deputies only: their attendance (as on the board); null at a "
                "sitting they are not expected at"
            ),
        ]
        | None
    ) = None
    my_checked_in_at: Annotated[Timestamp, Meta(description="deputies only")] | None = None
    my_leave: (
        Annotated[
            attendance.Leave,
            Meta(description="deputies only: their latest leave request for the sitting"),
        ]
        | None
    ) = None


class Overview(Shape):
    meeting: m.Meeting
    sittings: list[MySitting]
    agenda: list[m.AgendaItem]


MEETING_ID = path_id("id", "meeting id")

spec = {
    "/api/meetings": {
        "get": {
            "summary": "Meetings the caller can see (participants: their own; staff: all)",
            "responses": {**ok(m.Meetings), **AUTH_ERRORS},
        }
    },
    "/api/meetings/{id}": {
        "get": {
            "summary": "A meeting with its sittings (by start) and agenda (by position); for "
            "a deputy each sitting carries their own attendance (my_status, my_checked_in_at, "
            "my_leave)",
            "parameters": [MEETING_ID],
            "responses": {**ok(Overview), **error_responses(401, 403, 404)},
        }
    },
    "/api/meetings/{id}/deputies": {
        "get": {
            "summary": "The deputies participating in the meeting (the addressees of a notice "
            "to it, the possible co-signers of a suggestion), with their delegation, by id "
            "(participants, staff)",
            "parameters": [MEETING_ID],
            "responses": {**ok(m.MeetingDeputies), **error_responses(401, 403, 404)},
        }
    },
    "/api/meetings/{id}/sittings": {
        "post": {
            "summary": "Add a sitting (secretariat): plenary, or group deliberation of a "
            "delegation; publishes sitting.created on meeting:<id>",
            "parameters": [MEETING_ID],
            "requestBody": json_body(m.SittingInput),
            "responses": {**ok(m.Sitting, 201), **error_responses(400, 401, 403, 404, 503)},
        }
    },
    "/api/sittings/{id}": {
        "put": {
            "summary": "Edit a sitting (the secretariat of its meeting): title, times, place, "
            "check-in window, check-in code on/off, speech limit, every field given; "
            "publishes sitting.edited {sitting, changed} on meeting:<id> (nothing when "
            "nothing changed). Once it has ended: conflict with `reason` sitting_closed / "
            "sitting_ended",
            "parameters": [path_id("id", "sitting id")],
            "requestBody": json_body(m.SittingEdit),
            "responses": {**ok(m.Sitting), **error_responses(400, 401, 403, 404, 409, 503)},
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
            "responses": {**ok(m.Sitting), **error_responses(401, 403, 404, 409, 503)},
        }
    },
    "/api/meetings/{id}/agenda": {
        "post": {
            "summary": "Add an agenda item (secretariat); publishes agenda.created on meeting:<id>",
            "parameters": [MEETING_ID],
            "requestBody": json_body(m.AgendaInput),
            "responses": {**ok(m.AgendaItem, 201), **error_responses(400, 401, 403, 404, 503)},
        }
    },
    "/api/agenda/{id}": {
        "put": {
            "summary": "Change an agenda item's title (and position, if given; the "
            "secretariat of its meeting); publishes agenda.changed on meeting:<id>",
            "parameters": [path_id("id", "agenda item id")],
            "requestBody": json_body(m.AgendaInput),
            "responses": {**ok(m.AgendaItem), **error_responses(400, 401, 403, 404, 503)},
        }
    },
}
