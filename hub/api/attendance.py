"""Check-in, leave requests, the attendance board, and the presence audit
(``hub.session.attendance``, ``hub.session.presence``)."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, path_int, principal, query, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.errors import NotFound
from hub.protocol import utc
from hub.session import attendance as a
from hub.session import presence
from hub.session.common import parse_ts
from hub.session.notices import notices
from hub.shapes import Query


async def check_in(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, a.CheckInInput)
    s = services(request)
    out = await a.check_in(s.node, me, path_int(request), d.code)
    return JSON(out, status_code=201)


async def request_leave(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, a.LeaveInput)
    s = services(request)
    out = await a.request_leave(s.node, me, path_int(request), d.reason)
    return JSON(out, status_code=201)


async def _decide(request: Request, approve: bool) -> Response:
    me = await principal(request)
    d = await decode(request, a.DecisionInput)
    s = services(request)
    out = await a.decide_leave(s.node, me, path_int(request), approve, d.note)
    return JSON(out)


async def approve(request: Request) -> Response:
    return await _decide(request, True)


async def refuse(request: Request) -> Response:
    return await _decide(request, False)


async def board(request: Request) -> Response:
    me = await principal(request)
    return JSON(await a.board(services(request).node, me, path_int(request)))


async def presence_at(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    q = query(request, presence.PresenceQuery)
    if q.ts is not None:
        ts = parse_ts(q.ts, "ts")
    else:
        async with s.log.reading() as conn:
            sent = (
                await conn.execute(sa.select(notices.c.created_at).where(notices.c.id == q.notice))
            ).scalar()
        if sent is None:
            raise NotFound(f"no notice {q.notice}")
        ts = utc(sent)
    return JSON(await presence.connected_at(s.node, me, path_int(request, "user_id"), ts))


routes = [
    Route("/api/sittings/{id:int}/checkin", check_in, methods=["POST"]),
    Route("/api/sittings/{id:int}/leave", request_leave, methods=["POST"]),
    Route("/api/sittings/{id:int}/attendance", board, methods=["GET"]),
    Route("/api/leave/{id:int}/approve", approve, methods=["POST"]),
    Route("/api/leave/{id:int}/refuse", refuse, methods=["POST"]),
    Route("/api/presence/{user_id:int}/at", presence_at, methods=["GET"]),
]

SITTING_ID = path_id("id", "sitting id")
LEAVE_ID = path_id("id", "leave request id")
spec = {
    "/api/sittings/{id}/checkin": {
        "post": {
            "summary": "Check in to a sitting (a deputy expected there), within its check-in "
            "window (else conflict with `reason` checkin_not_open and `opens_at`, or "
            "checkin_over and `closes_at`), with the code shown in the hall when the sitting "
            "asks for one (else bad_request, `field` code, `reason` checkin_code_needed / "
            "checkin_code_wrong; after 5 wrong codes in 10 minutes rate_limited with "
            "`retry_after`); publishes attendance.checked_in on desk:<meeting>",
            "parameters": [SITTING_ID],
            "requestBody": json_body(a.CheckInInput),
            "responses": {
                **ok(a.CheckIn, 201),
                **error_responses(400, 401, 403, 404, 409, 429, 503),
            },
        }
    },
    "/api/sittings/{id}/leave": {
        "post": {
            "summary": "Ask for leave from a sitting with a reason (a deputy expected there); "
            "publishes attendance.leave_requested on desk:<meeting>",
            "parameters": [SITTING_ID],
            "requestBody": json_body(a.LeaveInput),
            "responses": {**ok(a.Leave, 201), **error_responses(400, 401, 403, 404, 409, 503)},
        }
    },
    "/api/leave/{id}/approve": {
        "post": {
            "summary": "Approve a pending leave request (secretariat); publishes "
            "attendance.leave_decided on desk:<meeting> and deputy:<id>",
            "parameters": [LEAVE_ID],
            "requestBody": json_body(a.DecisionInput),
            "responses": {**ok(a.Leave), **error_responses(400, 401, 403, 404, 409, 503)},
        }
    },
    "/api/leave/{id}/refuse": {
        "post": {
            "summary": "Refuse a pending leave request (secretariat); publishes "
            "attendance.leave_decided on desk:<meeting> and deputy:<id>",
            "parameters": [LEAVE_ID],
            "requestBody": json_body(a.DecisionInput),
            "responses": {**ok(a.Leave), **error_responses(400, 401, 403, 404, 409, 503)},
        }
    },
    "/api/sittings/{id}/attendance": {
        "get": {
            "summary": "The attendance board (staff): each expected deputy checked in / on "
            "leave / leave pending / absent (not checked in yet while `open`), and online now",
            "parameters": [SITTING_ID],
            "responses": {**ok(a.Board), **error_responses(401, 403, 404)},
        }
    },
    "/api/presence/{user_id}/at": {
        "get": {
            "summary": "Was this user connected at a moment (`ts`) or when a notice went out "
            "(`notice`)? With the connections covering it (staff)",
            "parameters": [path_id("user_id", "user id"), Query(presence.PresenceQuery)],
            "responses": {**ok(presence.PresenceAt), **error_responses(400, 401, 403, 404)},
        }
    },
}
